//! The net collector's config keys (node_exporter's flags and defaults) and its handling of
//! missing and broken files, on the fixture trees and on small trees built here.

use sonde_plugin_net::Net;
use sonde_sdk::testing::{Fixture, Tree, collect_text, family_lines, sample_lines};
use sonde_sdk::{Capability, Collector, Host, Level, Root};
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn host(tree: &str) -> Host {
    let dir = fixtures().join(tree);
    Fixture::new()
        .root(Root::Proc, dir.join("proc"))
        .root(Root::Sys, dir.join("sys"))
        .host()
}

#[test]
fn describes_itself() {
    let d = Net::describe();
    assert_eq!(d.name, "net");
    assert_eq!(d.needs, [Capability::Proc, Capability::Sys]);
}

#[test]
fn default_config_is_node_exporters() {
    let text = collect_text::<Net>(&host("node-exporter"), "").unwrap();
    // netclass: nothing ignored, and an unknown speed (-1) is reported.
    assert_eq!(
        family_lines(&text, "node_network_speed_bytes"),
        [
            "node_network_speed_bytes{device=\"bond0\"} -125000",
            "node_network_speed_bytes{device=\"dmz\"} 1.25e+08",
            "node_network_speed_bytes{device=\"eth0\"} 1.25e+08",
            "node_network_speed_bytes{device=\"int\"} 1.25e+08",
        ]
    );
    // arp: no device filter.
    assert_eq!(
        family_lines(&text, "node_arp_entries"),
        [
            "node_arp_entries{device=\"eth0\"} 3",
            "node_arp_entries{device=\"eth1\"} 3",
            "node_arp_entries{device=\"nope\"} 1",
        ]
    );
    let text = collect_text::<Net>(&host("node-exporter-netdev"), "").unwrap();
    assert_eq!(
        family_lines(&text, "node_network_receive_drop_total").len(),
        10
    );
}

#[test]
fn device_filters() {
    let netdev = host("node-exporter-netdev");
    let text = collect_text::<Net>(
        &netdev,
        r#"{"netdev": {"device_exclude": "^(lo|eth0|💩0)$"}}"#,
    )
    .unwrap();
    let devices = family_lines(&text, "node_network_transmit_bytes_total");
    assert_eq!(devices.len(), 7);
    assert!(
        devices
            .iter()
            .all(|l| !l.contains("\"lo\"") && !l.contains("\"eth0\""))
    );
    assert!(devices.contains(&"node_network_transmit_bytes_total{device=\"ibr10:30\"} 0"));

    let err = collect_text::<Net>(
        &netdev,
        r#"{"netdev": {"device_include": "lo", "device_exclude": "eth"}}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("mutually exclusive"), "{err}");
    let err = collect_text::<Net>(&netdev, r#"{"arp": {"device_include": "("}}"#).unwrap_err();
    assert!(err.to_string().contains("invalid include pattern"), "{err}");

    // arp applies both patterns (node_exporter does not make them exclusive).
    let text = collect_text::<Net>(
        &host("node-exporter"),
        r#"{"arp": {"device_include": "^eth", "device_exclude": "0$"}}"#,
    )
    .unwrap();
    assert_eq!(
        family_lines(&text, "node_arp_entries"),
        ["node_arp_entries{device=\"eth1\"} 3"]
    );
}

#[test]
fn netstat_fields_pattern() {
    let text = collect_text::<Net>(
        &host("live-debian12"),
        r#"{"netstat": {"fields": "^Tcp_MaxConn$"}}"#,
    )
    .unwrap();
    let netstat: Vec<&str> = sample_lines(&text)
        .into_iter()
        .filter(|l| l.starts_with("node_netstat_"))
        .collect();
    assert_eq!(netstat, ["node_netstat_Tcp_MaxConn -1"]);
    assert!(text.contains("# TYPE node_netstat_Tcp_MaxConn untyped\n"));
    // Unanchored, like Go's MatchString.
    let text = collect_text::<Net>(
        &host("node-exporter"),
        r#"{"netstat": {"fields": "OutOctets"}}"#,
    )
    .unwrap();
    let netstat: Vec<&str> = sample_lines(&text)
        .into_iter()
        .filter(|l| l.starts_with("node_netstat_"))
        .collect();
    assert_eq!(
        netstat,
        [
            "node_netstat_Ip6_OutOctets 536",
            "node_netstat_IpExt_OutOctets 2.786264347e+09"
        ]
    );
}

#[test]
fn parts_can_be_turned_off() {
    let off = r#"{"enabled": false}"#;
    let config = format!(
        r#"{{"netdev": {off}, "netclass": {off}, "netstat": {off}, "sockstat": {off},
            "softnet": {off}, "arp": {off}, "udp_queues": {off}, "bonding": {off},
            "infiniband": {off}, "ipvs": {off}}}"#
    );
    let text = collect_text::<Net>(&host("node-exporter"), &config).unwrap();
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .collect();
    assert_eq!(names.len(), 10);
    assert!(names.iter().all(|n| n.starts_with("node_nf_conntrack_")));
    let err = collect_text::<Net>(&host("node-exporter"), r#"{"softnet": {"enable": false}}"#)
        .unwrap_err();
    assert!(err.to_string().contains("unknown field `enable`"), "{err}");
}

#[test]
fn missing_files_are_skipped_quietly() {
    let empty = Tree::new("net-empty");
    let host = empty.serve(&[Root::Proc, Root::Sys]).host();
    assert_eq!(collect_text::<Net>(&host, "").unwrap(), "");
    assert!(host.logged().is_empty(), "{:?}", host.logged());

    // conntrack stops at the first missing source, keeping what it read.
    let tree = Tree::with_files(
        "net-conntrack",
        &[("sys/net/netfilter/nf_conntrack_count", "7\n")],
    );
    let text = collect_text::<Net>(&tree.serve(&[Root::Proc, Root::Sys]).host(), "").unwrap();
    assert_eq!(sample_lines(&text), ["node_nf_conntrack_entries 7"]);
}

#[test]
fn a_broken_part_is_logged_and_the_others_kept() {
    let tree = Tree::with_files(
        "net-broken",
        &[
            ("net/softnet_stat", "00000001 00000002\n"),
            ("net/sockstat", "sockets: used 3\n"),
        ],
    );
    let host = tree.serve(&[Root::Proc, Root::Sys]).host();
    let text = collect_text::<Net>(&host, "").unwrap();
    assert_eq!(sample_lines(&text), ["node_sockstat_sockets_used 3"]);
    let logged = host.logged();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0].0, Level::Warn);
    assert_eq!(
        logged[0].1,
        "softnet: /proc/net/softnet_stat: 2 columns, expected at least 9"
    );

    // With nothing collected, the failures fail the collection.
    let tree = Tree::with_files(
        "net-all-broken",
        &[("net/softnet_stat", "x\n"), ("net/arp", "1 2 3\n")],
    );
    let err = collect_text::<Net>(&tree.serve(&[Root::Proc, Root::Sys]).host(), "").unwrap_err();
    assert_eq!(
        err.to_string(),
        "softnet: /proc/net/softnet_stat: 1 columns, expected at least 9; \
         arp: /proc/net/arp: 3 columns, expected 6, in line \"1 2 3\""
    );
}

#[test]
fn malformed_lines_drop_their_series_only_and_fail_their_part() {
    let udp_header = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n";
    let udp6 = format!(
        "{udp_header}  0: 00000000000000000000000000000000:0222 00000000000000000000000000000000:0000 07 00000000:00000004 00:00000000 00000000     0        0 5 2 ffff 0\n"
    );
    let tree = Tree::with_files(
        "net-malformed-lines",
        &[
            (
                "net/sockstat",
                "sockets: used 229\nTCP: inuse x orphan 0\nUDP: inuse 3 mem 0\n",
            ),
            (
                "net/softnet_stat",
                "00000001 0 0 0 0 0 0 0 0 0 0\n00000002 0\n00000003 0 0 0 0 0 0 0 0 0 0\n",
            ),
            (
                "net/snmp",
                "Ip: Forwarding\nIp: x\nUdp: InDatagrams NoPorts\nUdp: 7 8\n",
            ),
            ("sys/net/netfilter/nf_conntrack_count", "7\n"),
            ("sys/net/netfilter/nf_conntrack_max", "65536\n"),
            ("net/stat/nf_conntrack", "header\n1 2 3\n"),
            ("net/udp", &format!("{udp_header}0: 1 2\n")),
            ("net/udp6", &udp6),
        ],
    );
    let host = tree.serve(&[Root::Proc, Root::Sys]).host();
    let config = r#"{"netstat": {"fields": "^(Ip|Udp)_"}}"#;
    let text = collect_text::<Net>(&host, config).unwrap();
    assert_eq!(
        sample_lines(&text)
            .into_iter()
            .filter(|l| !l.starts_with("node_softnet_"))
            .collect::<Vec<_>>(),
        [
            "node_netstat_Udp_InDatagrams 7",
            "node_netstat_Udp_NoPorts 8",
            "node_nf_conntrack_entries 7",
            "node_nf_conntrack_entries_limit 65536",
            "node_sockstat_UDP_inuse 3",
            "node_sockstat_UDP_mem 0",
            "node_sockstat_UDP_mem_bytes 0",
            "node_sockstat_sockets_used 229",
            "node_udp_queues{ip=\"v6\",queue=\"rx\"} 4",
            "node_udp_queues{ip=\"v6\",queue=\"tx\"} 0",
        ]
    );
    assert_eq!(
        family_lines(&text, "node_softnet_processed_total"),
        [
            "node_softnet_processed_total{cpu=\"0\"} 1",
            "node_softnet_processed_total{cpu=\"2\"} 3",
        ]
    );
    let logged: Vec<String> = host.logged().into_iter().map(|(_, line)| line).collect();
    assert_eq!(
        logged,
        [
            "netstat: /proc/net/snmp: 1 malformed line skipped: line 2: invalid value \"x\"",
            "sockstat: /proc/net/sockstat: 1 malformed line skipped: line 2: invalid integer \
             \"x\" in line \"TCP: inuse x orphan 0\"",
            "softnet: /proc/net/softnet_stat: 1 malformed line skipped: line 2: 2 columns, \
             expected at least 9",
            "conntrack: /proc/net/stat/nf_conntrack: 3 columns in line \"1 2 3\"",
            "udp_queues: /proc/net/udp: 3 columns, expected at least 13 in socket line \"0: 1 2\"",
        ]
    );
}
