//! The zfs collector against node_exporter's own fixtures: every family it emits must equal
//! node_exporter 1.12's e2e output (sample lines, HELP and TYPE).

use sonde_plugin_zfs::Zfs;
use sonde_sdk::Root;
use sonde_sdk::testing::{Fixture, collect_text, diff_families, family_lines, family_names};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn zfs_families(text: &str) -> BTreeSet<String> {
    family_names(text)
        .into_iter()
        .filter(|name| name.starts_with("node_zfs_"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn matches_node_exporter_e2e_output() {
    let dir = fixtures().join("node-exporter");
    let host = Fixture::new().root(Root::Proc, dir.join("proc")).host();
    let ours = collect_text::<Zfs>(&host, "").unwrap();
    // node_exporter's zfs lines only (the comparisons scan the text once per family).
    let theirs: String = std::fs::read_to_string(dir.join("e2e-output.txt"))
        .unwrap()
        .lines()
        .filter(|l| l.contains(" node_zfs_") || l.starts_with("node_zfs_"))
        .map(|l| format!("{l}\n"))
        .collect();

    let expected = zfs_families(&theirs);
    assert_eq!(expected.len(), 278, "zfs families in e2e-output.txt");
    assert_eq!(zfs_families(&ours), expected);
    assert_eq!(diff_families(&ours, &theirs), Vec::<String>::new());
    let series: usize = expected
        .iter()
        .map(|f| {
            let lines = family_lines(&theirs, f);
            assert_eq!(family_lines(&ours, f), lines, "{f}");
            lines.len()
        })
        .sum();
    assert_eq!(series, 359, "zfs series in e2e-output.txt");
    // Everything we print is node_exporter's: no family, sample or comment line of our own.
    let theirs_lines: BTreeSet<&str> = theirs.lines().collect();
    for line in ours.lines() {
        assert!(theirs_lines.contains(line), "not in e2e-output.txt: {line}");
    }
    assert_eq!(ours.lines().count(), theirs_lines.len());
    assert!(host.logged().is_empty(), "{:?}", host.logged());
}

#[test]
fn a_few_values_as_node_exporter_prints_them() {
    let dir = fixtures().join("node-exporter");
    let host = Fixture::new().root(Root::Proc, dir.join("proc")).host();
    let ours = collect_text::<Zfs>(&host, "").unwrap();
    for line in [
        "# HELP node_zfs_arc_hits kstat.zfs.misc.arcstats.hits",
        "# TYPE node_zfs_arc_hits untyped",
        "node_zfs_arc_memory_available_bytes -9.223372036854776e+17",
        "# HELP node_zfs_fm_erpt_dropped kstat.zfs.misc.fm.erpt-dropped",
        "node_zfs_zil_zil_itx_needcopy_bytes 1.8446744073709537e+19",
        "node_zfs_zpool_dataset_nread{dataset=\"pool3/dataset with  space\",zpool=\"pool3\"} 28",
        "# TYPE node_zfs_zpool_state gauge",
        "node_zfs_zpool_state{state=\"suspended\",zpool=\"pool2\"} 1",
    ] {
        assert!(ours.lines().any(|l| l == line), "missing: {line}");
    }
}
