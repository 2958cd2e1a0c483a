//! The nfs collector against node_exporter's own fixtures: every family it emits must equal
//! node_exporter 1.12's e2e output (sample lines, HELP and TYPE).

use sonde_plugin_nfs::Nfs;
use sonde_sdk::Root;
use sonde_sdk::testing::{Fixture, collect_text, diff_families, family_names, restore_empty_dirs};
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// The families of `text` whose names start with `prefix`.
fn with_prefix<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    family_names(text)
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect()
}

#[test]
fn nfs_and_nfsd_match_node_exporter_on_its_own_fixture() {
    let dir = fixtures().join("node-exporter");
    restore_empty_dirs(&dir, &dir.join("empty-dirs.txt")).unwrap();
    let host = Fixture::new().root(Root::Proc, dir.join("proc")).host();
    let ours = collect_text::<Nfs>(&host, "").unwrap();
    let theirs = std::fs::read_to_string(dir.join("e2e-output.txt")).unwrap();
    assert_eq!(diff_families(&ours, &theirs), Vec::<String>::new());
    assert!(host.logged().is_empty(), "{:?}", host.logged());

    // Every family node_exporter has for these collectors, and no other.
    for prefix in ["node_nfs_", "node_nfsd_"] {
        assert_eq!(
            with_prefix(&ours, prefix),
            with_prefix(&theirs, prefix),
            "{prefix}"
        );
    }
    assert_eq!(with_prefix(&ours, "node_nfs_").len(), 6);
    assert_eq!(with_prefix(&ours, "node_nfsd_").len(), 14);
    assert_eq!(family_names(&ours).len(), 6 + 14);
    let series = ours.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(series, 105 + 90);
}

/// node_exporter's e2e run enables `--collector.mountstats`, which reads `proc/self`, a symlink
/// to `proc/10` in the fixture tree: the harness follows it as the agent's sandbox does.
#[test]
fn mountstats_matches_node_exporter_on_its_own_fixture() {
    let dir = fixtures().join("node-exporter");
    restore_empty_dirs(&dir, &dir.join("empty-dirs.txt")).unwrap();
    let host = Fixture::new().root(Root::Proc, dir.join("proc")).host();
    let ours = collect_text::<Nfs>(
        &host,
        r#"{"nfs": {"enabled": false}, "nfsd": {"enabled": false}, "mountstats": {"enabled": true}}"#,
    )
    .unwrap();
    let theirs = std::fs::read_to_string(dir.join("e2e-output.txt")).unwrap();
    assert_eq!(diff_families(&ours, &theirs), Vec::<String>::new());
    assert!(host.logged().is_empty(), "{:?}", host.logged());
    assert_eq!(
        with_prefix(&ours, "node_mountstats_"),
        with_prefix(&theirs, "node_mountstats_")
    );
    assert_eq!(family_names(&ours).len(), 54);
    let series = ours.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(series, 149);
}
