//! The net collector on real kernels: a capture of a Debian 12 VM (kernel 6.18) checked against
//! what node_exporter printed for it, and a run on the machine the tests run on.
//!
//! `tests/fixtures/live-debian12/node-exporter-1.5.0-net.txt` is the output of Debian's
//! node_exporter 1.5.0 on that capture (`--path.procfs=…/proc --path.sysfs=…/sys
//! --collector.disable-defaults` with these eight collectors, `--no-collector.netdev.netlink
//! --collector.netdev.device-exclude=` and 1.12's default `--collector.netstat.fields`), limited to
//! their families. 1.12 differs from 1.5.0 in exactly three ways, checked separately: the
//! `adminstate` label of `node_network_info`, four more softnet families, and (in its default
//! netlink mode) `node_network_receive_nohandler_total`.

use sonde_plugin_net::Net;
use sonde_sdk::testing::{Fixture, collect_text, family_lines, sample_lines};
use sonde_sdk::{Host, Root};
use std::path::PathBuf;

fn live() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/live-debian12")
}

fn live_host() -> Host {
    Fixture::new()
        .root(Root::Proc, live().join("proc"))
        .root(Root::Sys, live().join("sys"))
        .host()
}

/// The families 1.12 adds to 1.5.0's output for this capture.
const NEW_IN_1_12: [&str; 5] = [
    "node_network_receive_nohandler_total",
    "node_softnet_backlog_len",
    "node_softnet_cpu_collision_total",
    "node_softnet_flow_limit_count_total",
    "node_softnet_received_rps_total",
];

#[test]
fn matches_node_exporter_on_a_live_capture() {
    let host = live_host();
    let ours = collect_text::<Net>(&host, "").unwrap();
    let theirs = std::fs::read_to_string(live().join("node-exporter-1.5.0-net.txt")).unwrap();
    assert!(host.logged().is_empty(), "{:?}", host.logged());

    // Every line of node_exporter's output, HELP and TYPE included, with 1.12's `adminstate`.
    let without_adminstate = |line: &str| {
        ["adminstate=\"up\",", "adminstate=\"down\","]
            .iter()
            .fold(line.to_owned(), |l, label| l.replace(label, ""))
    };
    let is_new = |line: &str| {
        NEW_IN_1_12
            .iter()
            .any(|f| line.contains(&format!("{f} ")) || line.contains(&format!("{f}{{")))
    };
    let ours_as_1_5: Vec<String> = ours
        .lines()
        .filter(|l| !is_new(l))
        .map(without_adminstate)
        .collect();
    let theirs: Vec<&str> = theirs.lines().collect();
    assert_eq!(theirs.len(), 438);
    assert_eq!(ours_as_1_5, theirs);

    // What 1.12 adds.
    assert_eq!(
        family_lines(&ours, "node_network_info")
            .iter()
            .map(|l| l
                .split("adminstate=")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap())
            .collect::<Vec<_>>(),
        ["\"up\"", "\"up\"", "\"down\"", "\"down\""],
        "eth0 (0x1003) and lo (0x9) are up, ifb0/ifb1 (0x82) down"
    );
    assert_eq!(
        family_lines(&ours, "node_network_receive_nohandler_total"),
        [
            "node_network_receive_nohandler_total{device=\"eth0\"} 0",
            "node_network_receive_nohandler_total{device=\"ifb0\"} 0",
            "node_network_receive_nohandler_total{device=\"ifb1\"} 0",
            "node_network_receive_nohandler_total{device=\"lo\"} 0",
        ]
    );
    for family in &NEW_IN_1_12[1..] {
        assert_eq!(
            family_lines(&ours, family),
            [
                format!("{family}{{cpu=\"0\"}} 0"),
                format!("{family}{{cpu=\"1\"}} 0")
            ],
        );
    }
}

#[test]
fn real_kernel_values_on_the_capture() {
    let text = collect_text::<Net>(&live_host(), "").unwrap();
    for line in [
        // /proc/net/dev, glued `eth0:` counters and all.
        "node_network_receive_bytes_total{device=\"eth0\"} 1.78062229e+08",
        "node_network_transmit_packets_total{device=\"eth0\"} 4038",
        // sysfs: speed -1 is reported by default; lo and ifb0 refuse theirs (EINVAL, not captured).
        "node_network_speed_bytes{device=\"eth0\"} -125000",
        "node_network_mtu_bytes{device=\"lo\"} 65536",
        "node_network_protocol_type{device=\"lo\"} 772",
        "node_network_flags{device=\"eth0\"} 4099",
        "node_network_up{device=\"eth0\"} 1",
        "node_network_up{device=\"lo\"} 0",
        // snmp and netstat, default fields only.
        "node_netstat_Tcp_ActiveOpens 44",
        "node_netstat_Ip_Forwarding 2",
        // sockstat: 120 pages of 4 KiB (no auxv in the capture).
        "node_sockstat_TCP_mem_bytes 491520",
        "node_sockstat_sockets_used 26",
        // softnet (15 columns on 6.18), conntrack (17 columns), arp, empty udp tables.
        "node_softnet_processed_total{cpu=\"1\"} 6969",
        "node_nf_conntrack_entries_limit 262144",
        "node_nf_conntrack_stat_found 0",
        "node_arp_entries{device=\"eth0\"} 1",
        "node_udp_queues{ip=\"v6\",queue=\"rx\"} 0",
    ] {
        assert!(sample_lines(&text).contains(&line), "{line}");
    }
    assert!(family_lines(&text, "node_network_speed_bytes").len() == 1);
    assert!(!text.contains("node_netstat_Tcp_MaxConn"));
}

#[test]
fn runs_on_this_machine() {
    let host = Fixture::new()
        .root(Root::Proc, "/proc")
        .root(Root::Sys, "/sys")
        .host();
    let text = collect_text::<Net>(&host, "").unwrap();
    // sysfs attributes the kernel refuses (EINVAL for lo's speed and duplex) are skipped quietly.
    assert!(host.logged().is_empty(), "{:?}", host.logged());
    for family in [
        "node_network_up",
        "node_network_info",
        "node_network_receive_bytes_total",
        "node_network_receive_nohandler_total",
        "node_netstat_Tcp_CurrEstab",
        "node_sockstat_TCP_inuse",
        "node_softnet_processed_total",
    ] {
        assert!(!family_lines(&text, family).is_empty(), "{family}");
    }
    assert!(text.contains("node_network_up{device=\"lo\"} "), "{text}");
}
