//! The storage collector against node_exporter's own fixture tree: every family it produces
//! there must equal node_exporter 1.12's e2e output (HELP, TYPE, every series and value).

use sonde_plugin_storage::Storage;
use sonde_sdk::testing::{Fixture, collect_text, diff_families, restore_empty_dirs};
use sonde_sdk::{Collector, Root};
use std::path::PathBuf;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/node-exporter")
}

#[test]
fn matches_node_exporter_on_its_own_fixture() {
    let dir = fixture_dir();
    restore_empty_dirs(&dir, &dir.join("empty-dirs.txt")).unwrap();
    let host = Fixture::new()
        .root(Root::Proc, dir.join("proc"))
        .root(Root::Sys, dir.join("sys"))
        .host();
    // The e2e run enables drbd (--collector.drbd); the other parts are node_exporter defaults.
    let ours = collect_text::<Storage>(&host, r#"{"drbd": {"enabled": true}}"#).unwrap();
    assert!(host.logged().is_empty(), "{:?}", host.logged());
    let theirs = std::fs::read_to_string(dir.join("e2e-output.txt")).unwrap();
    assert_eq!(diff_families(&ours, &theirs), Vec::<String>::new());

    // Every family of node_exporter's output with one of our prefixes is produced, with as many
    // series.
    let prefixes = [
        "node_md_",
        "node_dmmultipath_",
        "node_nvme_",
        "node_fibrechannel_",
        "node_tape_",
        "node_drbd_",
    ];
    let ours_families: Vec<&str> = sonde_sdk::testing::family_names(&ours);
    let theirs_families: Vec<&str> = sonde_sdk::testing::family_names(&theirs)
        .into_iter()
        .filter(|f| prefixes.iter().any(|p| f.starts_with(p)))
        .collect();
    assert_eq!(ours_families, theirs_families);
    assert_eq!(ours_families.len(), 60);
    let series = |text: &str| {
        sonde_sdk::testing::sample_lines(text)
            .into_iter()
            .filter(|l| prefixes.iter().any(|p| l.starts_with(p)))
            .count()
    };
    assert_eq!(series(&ours), series(&theirs));
    assert_eq!(series(&ours), 278);
}

#[test]
fn drbd_is_off_by_default_and_the_rest_on() {
    let dir = fixture_dir();
    restore_empty_dirs(&dir, &dir.join("empty-dirs.txt")).unwrap();
    let host = Fixture::new()
        .root(Root::Proc, dir.join("proc"))
        .root(Root::Sys, dir.join("sys"))
        .host();
    let text = collect_text::<Storage>(&host, "").unwrap();
    assert!(!text.contains("node_drbd_"));
    for prefix in [
        "node_md_",
        "node_dmmultipath_",
        "node_nvme_",
        "node_fibrechannel_",
        "node_tape_",
    ] {
        assert!(text.contains(prefix), "{prefix}");
    }
    let description = Storage::describe();
    assert_eq!(description.name, "storage");
    assert_eq!(
        description.needs,
        [sonde_sdk::Capability::Proc, sonde_sdk::Capability::Sys]
    );
}
