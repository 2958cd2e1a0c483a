//! The bonding, infiniband, ipvs, xfrm and lnstat parts against node_exporter's own fixtures:
//! every family they emit must equal node_exporter 1.12's e2e output (samples, HELP, TYPE).

use sonde_plugin_net::Net;
use sonde_sdk::testing::{
    Fixture, collect_text, diff_families, family_lines, family_names, restore_empty_dirs,
};
use sonde_sdk::{Host, Root};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

const PREFIXES: [&str; 5] = [
    "node_bonding_",
    "node_infiniband_",
    "node_ipvs_",
    "node_xfrm_",
    "node_lnstat_",
];

/// Only these parts, with the e2e run's flags (xfrm and lnstat are enabled there).
pub const ONLY_THESE: &str = r#"{
    "netdev": {"enabled": false}, "netclass": {"enabled": false},
    "netstat": {"enabled": false}, "sockstat": {"enabled": false},
    "softnet": {"enabled": false}, "arp": {"enabled": false},
    "conntrack": {"enabled": false}, "udp_queues": {"enabled": false},
    "xfrm": {"enabled": true}, "lnstat": {"enabled": true}
}"#;

fn families(text: &str) -> BTreeSet<String> {
    family_names(text)
        .into_iter()
        .filter(|name| PREFIXES.iter().any(|p| name.starts_with(p)))
        .map(str::to_owned)
        .collect()
}

fn node_exporter_host() -> Host {
    let dir = fixtures().join("node-exporter");
    restore_empty_dirs(&dir, &dir.join("empty-dirs.txt")).unwrap();
    Fixture::new()
        .root(Root::Proc, dir.join("proc"))
        .root(Root::Sys, dir.join("sys"))
        .host()
}

#[test]
fn matches_node_exporter_e2e_output() {
    let host = node_exporter_host();
    let ours = collect_text::<Net>(&host, ONLY_THESE).unwrap();
    let theirs = std::fs::read_to_string(fixtures().join("node-exporter/e2e-output.txt")).unwrap();
    assert!(host.logged().is_empty(), "{:?}", host.logged());
    let expected = families(&theirs);
    assert_eq!(families(&ours), expected);
    assert_eq!(
        family_names(&ours).len(),
        expected.len(),
        "no other families"
    );
    // 2 bonding + 28 infiniband + 8 ipvs + 28 xfrm + 29 lnstat.
    let count = |prefix: &str| expected.iter().filter(|f| f.starts_with(prefix)).count();
    assert_eq!(
        PREFIXES.map(count),
        [2, 28, 8, 28, 29],
        "families of these collectors in e2e-output.txt"
    );
    assert_eq!(diff_families(&ours, &theirs), Vec::<String>::new());
    let series: usize = expected
        .iter()
        .map(|f| {
            let lines = family_lines(&theirs, f);
            assert!(!lines.is_empty(), "{f}");
            lines.len()
        })
        .sum();
    assert_eq!(series, 6 + 51 + 35 + 28 + 120);
}

#[test]
fn defaults_run_bonding_infiniband_ipvs_not_xfrm_lnstat() {
    let text = collect_text::<Net>(&node_exporter_host(), "").unwrap();
    let found = families(&text);
    for prefix in ["node_bonding_", "node_infiniband_", "node_ipvs_"] {
        assert!(found.iter().any(|f| f.starts_with(prefix)), "{prefix}");
    }
    for prefix in ["node_xfrm_", "node_lnstat_"] {
        assert!(!found.iter().any(|f| f.starts_with(prefix)), "{prefix}");
    }
}
