//! The net collector against node_exporter's own fixtures: every family it emits must equal
//! node_exporter 1.12's e2e output (sample lines, HELP and TYPE), with the e2e run's flags.

use sonde_plugin_net::Net;
use sonde_sdk::testing::{Fixture, collect_text, family_lines, family_names, restore_empty_dirs};
use sonde_sdk::{Level, Root};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// node_exporter's e2e flags for these collectors, as this plugin's config.
const E2E_CONFIG: &str = r#"{
    "netdev": {"device_include": "lo"},
    "netclass": {"ignored_devices": "(dmz|int)", "ignore_invalid_speed": true},
    "arp": {"device_exclude": "nope"}
}"#;

/// The metric name prefixes of the families this plugin emits.
const PREFIXES: [&str; 7] = [
    "node_network_",
    "node_netstat_",
    "node_sockstat_",
    "node_softnet_",
    "node_arp_",
    "node_nf_conntrack_",
    "node_udp_queues",
];

/// The netdev families (`node_network_<counter>_total`).
fn is_netdev(family: &str) -> bool {
    (family.starts_with("node_network_receive_") || family.starts_with("node_network_transmit_"))
        && family.ends_with("_total")
}

/// The names of the families in exposition `text` (from their `# TYPE` lines) with our prefixes.
fn families(text: &str) -> BTreeSet<String> {
    family_names(text)
        .into_iter()
        .filter(|name| PREFIXES.iter().any(|p| name.starts_with(p)))
        .map(str::to_owned)
        .collect()
}

/// Asserts that `family` has the same sample lines, HELP and TYPE in `ours` and `theirs`.
fn assert_family_matches(ours: &str, theirs: &str, family: &str) {
    assert_eq!(
        family_lines(ours, family),
        family_lines(theirs, family),
        "{family}"
    );
    for prefix in ["# HELP", "# TYPE"] {
        let start = format!("{prefix} {family} ");
        let line = |text: &str| {
            text.lines()
                .find(|l| l.starts_with(&start))
                .map(str::to_owned)
        };
        assert_eq!(line(ours), line(theirs), "{start}");
    }
}

fn e2e_output() -> String {
    std::fs::read_to_string(fixtures().join("node-exporter/e2e-output.txt")).unwrap()
}

#[test]
fn matches_node_exporter_e2e_output() {
    let dir = fixtures().join("node-exporter");
    restore_empty_dirs(&dir, &dir.join("empty-dirs.txt")).unwrap();
    let host = Fixture::new()
        .root(Root::Proc, dir.join("proc"))
        .root(Root::Sys, dir.join("sys"))
        .host();
    let ours = collect_text::<Net>(&host, E2E_CONFIG).unwrap();
    let theirs = e2e_output();
    // node_exporter's tree has no /proc/net/dev (its netdev used netlink): netdev is checked
    // against the restored file below; everything else must be there and equal.
    let expected: BTreeSet<String> = families(&theirs)
        .into_iter()
        .filter(|f| !is_netdev(f))
        .collect();
    assert_eq!(
        expected.len(),
        99,
        "families of these collectors in e2e-output.txt"
    );
    assert_eq!(families(&ours), expected);
    for family in &expected {
        assert!(!family_lines(&ours, family).is_empty(), "{family} is empty");
        assert_family_matches(&ours, &theirs, family);
    }
    assert!(host.logged().is_empty(), "{:?}", host.logged());
}

#[test]
fn netdev_matches_node_exporter_on_its_proc_net_dev() {
    let dir = fixtures().join("node-exporter-netdev");
    let host = Fixture::new()
        .root(Root::Proc, dir.join("proc"))
        .root(Root::Sys, dir.join("sys"))
        .host();
    let old = std::fs::read_to_string(dir.join("e2e-output-netdev.txt")).unwrap();

    // No device filter: node_exporter's output for this file, all 16 columns of 10 devices.
    let ours = collect_text::<Net>(&host, "").unwrap();
    let columns = families(&old);
    assert_eq!(columns.len(), 16);
    for family in &columns {
        assert_eq!(family_lines(&old, family).len(), 10, "{family}");
        assert_family_matches(&ours, &old, family);
    }

    // The e2e run's `device_include = "lo"`: the 17 families of the current e2e output (which
    // keeps no byte and packet samples; those are checked against the file above).
    let ours = collect_text::<Net>(&host, E2E_CONFIG).unwrap();
    let theirs = e2e_output();
    let netdev: BTreeSet<String> = families(&theirs)
        .into_iter()
        .filter(|f| is_netdev(f))
        .collect();
    assert_eq!(netdev.len(), 17);
    assert_eq!(families(&ours), netdev);
    for family in &netdev {
        if family_lines(&theirs, family).is_empty() {
            let lo: Vec<&str> = family_lines(&old, family)
                .into_iter()
                .filter(|l| l.contains("{device=\"lo\"}"))
                .collect();
            assert_eq!(family_lines(&ours, family), lo, "{family}");
        } else {
            assert_family_matches(&ours, &theirs, family);
        }
    }
    assert_eq!(
        family_lines(&ours, "node_network_receive_bytes_total"),
        ["node_network_receive_bytes_total{device=\"lo\"} 4.35303245e+08"]
    );
}

#[test]
fn a_malformed_net_dev_line_drops_only_its_interface() {
    let dir = fixtures().join("node-exporter-netdev");
    let dev = std::fs::read_to_string(dir.join("proc/net/dev")).unwrap();
    let line = dev.lines().find(|l| l.contains("docker0:")).unwrap();
    let proc = std::env::temp_dir().join(format!("sonde-net-bad-dev-{}", std::process::id()));
    std::fs::create_dir_all(proc.join("net")).unwrap();
    std::fs::write(
        proc.join("net/dev"),
        dev.replace(line, &line.replacen("1065585", "10655x5", 1)),
    )
    .unwrap();
    let host = Fixture::new()
        .root(Root::Proc, &proc)
        .root(Root::Sys, dir.join("sys"))
        .host();
    let ours = collect_text::<Net>(&host, "").unwrap();
    std::fs::remove_dir_all(&proc).unwrap();
    // The 9 other interfaces keep node_exporter's 16 counters.
    let old = std::fs::read_to_string(dir.join("e2e-output-netdev.txt")).unwrap();
    for family in families(&old) {
        let expected: Vec<&str> = family_lines(&old, &family)
            .into_iter()
            .filter(|l| !l.contains("device=\"docker0\""))
            .collect();
        assert_eq!(expected.len(), 9, "{family}");
        assert_eq!(family_lines(&ours, &family), expected, "{family}");
    }
    assert!(!ours.contains("docker0"));
    assert_eq!(
        host.logged(),
        [(
            Level::Warn,
            "netdev: /proc/net/dev: 1 malformed line skipped: line 9: invalid counter in line \
             \"docker0: 64910168 10655x5    0    0    0     0          0         0 2681662018 1\"…"
                .to_owned()
        )]
    );
}
