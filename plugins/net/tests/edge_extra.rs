//! bonding, infiniband, ipvs, xfrm and lnstat on hostile and broken trees built here: names with
//! quotes, backslashes, newlines and bytes that are not UTF-8, bonds without slaves, missing and
//! malformed files, IPv6 and fwmark services, and hosts without these sources.

use sonde_plugin_net::Net;
use sonde_sdk::testing::{Tree, collect_text, family_lines, sample_lines};
use sonde_sdk::{Host, Level, Root};

/// A scratch tree of `files` (byte paths, so names that are not UTF-8 can be made).
fn scratch(name: &str, files: &[(&[u8], &str)]) -> Tree {
    Tree::with_files(&format!("netx-{name}"), files)
}

/// Only the part `name` (plus its config), everything else off.
fn only(name: &str, config: &str) -> String {
    let mut parts: Vec<String> = [
        "netdev",
        "netclass",
        "netstat",
        "sockstat",
        "softnet",
        "arp",
        "conntrack",
        "udp_queues",
        "bonding",
        "infiniband",
        "ipvs",
        "xfrm",
        "lnstat",
    ]
    .iter()
    .filter(|p| **p != name)
    .map(|p| format!("\"{p}\": {{\"enabled\": false}}"))
    .collect();
    parts.push(format!("\"{name}\": {config}"));
    format!("{{{}}}", parts.join(", "))
}

fn logged(host: &Host) -> Vec<String> {
    host.logged()
        .into_iter()
        .map(|(level, line)| {
            assert_eq!(level, Level::Warn);
            line
        })
        .collect()
}

#[test]
fn without_the_sources_nothing_is_reported_or_logged() {
    let tree = Tree::new("netx-none");
    let host = tree.serve(&[Root::Proc, Root::Sys]).host();
    let config = r#"{"xfrm": {"enabled": true}, "lnstat": {"enabled": true},
        "netdev": {"enabled": false}}"#;
    assert_eq!(collect_text::<Net>(&host, config).unwrap(), "");
    assert!(host.logged().is_empty(), "{:?}", host.logged());
    // /sys/class/net without bonding, /proc/net without ip_vs or stat/.
    let tree = scratch(
        "no-bonding",
        &[(b"class/net/eth0/mtu", "1500\n"), (b"net/sockstat", "")],
    );
    let host = tree.serve(&[Root::Proc, Root::Sys]).host();
    let config = r#"{"xfrm": {"enabled": true}, "lnstat": {"enabled": true}}"#;
    let text = collect_text::<Net>(&host, config).unwrap();
    for prefix in [
        "node_bonding",
        "node_infiniband",
        "node_ipvs",
        "node_xfrm",
        "node_lnstat",
    ] {
        assert!(!text.contains(prefix), "{text}");
    }
    assert!(host.logged().is_empty(), "{:?}", host.logged());
}

#[test]
fn bonding_with_hostile_names_missing_slaves_and_old_kernels() {
    let tree = scratch(
        "bonding",
        &[
            (
                b"class/net/bonding_masters",
                "bo\"nd\\1 bond0 bond0 gone old broken\n",
            ),
            (b"class/net/bo\"nd\\1/bonding/slaves", "e\"th0 eth1\n"),
            (
                b"class/net/bo\"nd\\1/lower_e\"th0/bonding_slave/mii_status",
                "up\n",
            ),
            (
                b"class/net/bo\"nd\\1/lower_eth1/bonding_slave/mii_status",
                "going back\n",
            ),
            // A bond without slaves.
            (b"class/net/bond0/bonding/slaves", "\n"),
            // Older kernels: slave_<name>.
            (b"class/net/old/bonding/slaves", "eth2 eth3"),
            (b"class/net/old/slave_eth2/bonding_slave/mii_status", "up"),
            (b"class/net/old/lower_eth3/bonding_slave/mii_status", "up"),
            // A slave without any mii_status.
            (b"class/net/broken/bonding/slaves", "eth9"),
        ],
    );
    let host = tree.serve(&[Root::Proc, Root::Sys]).host();
    let text = collect_text::<Net>(&host, &only("bonding", "{}")).unwrap();
    assert_eq!(
        sample_lines(&text),
        [
            "node_bonding_active{master=\"bo\\\"nd\\\\1\"} 1",
            "node_bonding_active{master=\"bond0\"} 0",
            "node_bonding_active{master=\"old\"} 2",
            "node_bonding_slaves{master=\"bo\\\"nd\\\\1\"} 2",
            "node_bonding_slaves{master=\"bond0\"} 0",
            "node_bonding_slaves{master=\"old\"} 2",
        ]
    );
    assert_eq!(
        logged(&host),
        [
            "bonding: reading /sys/class/net/broken/slave_eth9/bonding_slave/mii_status: \
          not found; reading /sys/class/net/gone/bonding/slaves: not found"
        ]
    );

    // A master whose name is not UTF-8 cannot be read through the host: named in the error.
    let tree = scratch("bonding-bytes", &[(b"class/net/bond0/bonding/slaves", "")]);
    std::fs::write(
        tree.path().join("class/net/bonding_masters"),
        b"bond\xff\xfe1 bond0\n",
    )
    .unwrap();
    let host = tree.serve(&[Root::Proc, Root::Sys]).host();
    let text = collect_text::<Net>(&host, &only("bonding", "{}")).unwrap();
    assert_eq!(
        family_lines(&text, "node_bonding_slaves"),
        ["node_bonding_slaves{master=\"bond0\"} 0"]
    );
    assert_eq!(
        logged(&host),
        [
            "bonding: /sys/class/net/bonding_masters: interface name \"bond\u{FFFD}\u{FFFD}1\" \
          is not UTF-8"
        ]
    );
}

/// A port directory with state, rate and the given counters.
fn port(tree: &Tree, device: &[u8], port: &str, counters: &[(&str, &str)]) {
    let dir = [
        b"class/infiniband/",
        device,
        b"/ports/",
        port.as_bytes(),
        b"/",
    ]
    .concat();
    for (file, text) in [
        ("state", "4: ACTIVE\n"),
        ("phys_state", "5: LinkUp\n"),
        ("rate", "100 Gb/sec (4X EDR)\n"),
        ("link_layer", "InfiniBand\n"),
    ]
    .iter()
    .chain(counters)
    {
        tree.file([dir.as_slice(), file.as_bytes()].concat(), text);
    }
}

#[test]
fn infiniband_with_hostile_names_and_missing_or_broken_counters() {
    let tree = Tree::new("netx-infiniband");
    let weird: &[u8] = b"ml\"x\\5\n0";
    tree.file(
        [b"class/infiniband/", weird, b"/fw_ver"].concat(),
        "16.35.1012\n",
    );
    tree.file(
        [b"class/infiniband/", weird, b"/hca_type"].concat(),
        "MT\"4119\n",
    );
    // No board_id: an empty label. Port 1: a few counters only, one malformed, one N/A, one
    // refused; hw_counters with lifespan in ms.
    port(
        &tree,
        weird,
        "1",
        &[
            ("counters/port_rcv_data", "10\n"),
            ("counters/link_downed", "0x2\n"),
            ("counters/symbol_error", "12x\n"),
            ("counters/port_xmit_wait", "N/A (no PMA)\n"),
            ("counters/unknown_counter", "garbage\n"),
            ("hw_counters/lifespan", "12000\n"),
            ("hw_counters/out_of_buffer", "7\n"),
        ],
    );
    // Port 2 has no counters directories at all.
    port(&tree, weird, "2", &[]);
    // Port 3 has a malformed state: left out.
    port(&tree, weird, "3", &[]);
    tree.file(
        [b"class/infiniband/", weird, b"/ports/3/state"].concat(),
        "ACTIVE\n",
    );
    // A device without fw_ver: left out; one without ports/: left out.
    port(&tree, b"nofw0", "1", &[]);
    tree.file(b"class/infiniband/noports0/fw_ver", "1.0");
    // A device whose name is not UTF-8.
    tree.file(b"class/infiniband/hfi\xff1/fw_ver", "1.0");
    let host = tree.serve(&[Root::Proc, Root::Sys]).host();
    let text = collect_text::<Net>(&host, &only("infiniband", "{}")).unwrap();
    let device = "device=\"ml\\\"x\\\\5\\n0\"";
    assert_eq!(
        sample_lines(&text),
        [
            format!(
                "node_infiniband_info{{board_id=\"\",{device},firmware_version=\"16.35.1012\",\
                 hca_type=\"MT\\\"4119\"}} 1"
            ),
            format!("node_infiniband_lifespan_seconds{{{device},port=\"1\"}} 12"),
            format!("node_infiniband_link_downed_total{{{device},port=\"1\"}} 2"),
            format!("node_infiniband_out_of_buffer_drops_total{{{device},port=\"1\"}} 7"),
            format!("node_infiniband_physical_state_id{{{device},port=\"1\"}} 5"),
            format!("node_infiniband_physical_state_id{{{device},port=\"2\"}} 5"),
            format!("node_infiniband_port_data_received_bytes_total{{{device},port=\"1\"}} 40"),
            format!("node_infiniband_rate_bytes_per_second{{{device},port=\"1\"}} 1.25e+10"),
            format!("node_infiniband_rate_bytes_per_second{{{device},port=\"2\"}} 1.25e+10"),
            format!("node_infiniband_state_id{{{device},port=\"1\"}} 4"),
            format!("node_infiniband_state_id{{{device},port=\"2\"}} 4"),
        ]
    );
    let logged = logged(&host);
    assert_eq!(logged.len(), 1, "{logged:?}");
    let problems: Vec<&str> = logged[0]
        .strip_prefix("infiniband: ")
        .unwrap()
        .split("; ")
        .collect();
    assert_eq!(
        problems,
        [
            "reading /sys/class/infiniband/hfi\u{FFFD}1/fw_ver: not found",
            "/sys/class/infiniband/ml\"x\\5\n0/ports/1/counters/symbol_error: invalid counter \"12x\"",
            "/sys/class/infiniband/ml\"x\\5\n0/ports/3/state: cannot parse \"ACTIVE\\n\"",
            "reading /sys/class/infiniband/nofw0/fw_ver: not found",
            "reading /sys/class/infiniband/noports0/ports: not found",
        ]
    );

    // device_include / device_exclude.
    let host = tree.serve(&[Root::Proc, Root::Sys]).host();
    let text = collect_text::<Net>(
        &host,
        &only(
            "infiniband",
            r#"{"device_exclude": "^(ml|nofw|noports|hfi)"}"#,
        ),
    )
    .unwrap();
    assert_eq!(text, "");
    assert!(host.logged().is_empty());
    let err =
        collect_text::<Net>(&host, &only("infiniband", r#"{"device_include": "("}"#)).unwrap_err();
    assert!(err.to_string().contains("invalid include pattern"), "{err}");
}

const IP_VS_STATS: &str = "   Total Incoming Outgoing         Incoming         Outgoing\n   Conns  Packets  Packets            Bytes            Bytes\n       A        B        C               D                E\n\n Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n       0        0        0                0                0\n";

const IP_VS: &str = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  [2001:0db8:0000:0000:0000:0000:0000:0001]:0050 rr
  -> [2001:0db8:0000:0000:0000:0000:0000:0a0b]:1F90      Masq    1      2          3
  -> [0000:0000:0000:0000:0000:ffff:c0a8:0001]:1F90      Masq    1      4          5
UDP  0A000001:0035 rr
  -> 0A000002:0035      Route   1      0          6
  -> 0A000003:0035      Route   x      0          6
  -> 0A000004:0035
TCP  0A00001:00050 rr
  -> 0A000005:0050      Route   1      7          7
FWM  00000064 wlc
  -> 0A000006:0050      Route   2      8          9
  -> 0A000007:0050      Route   3      10         11
SCTP 0A000001:0B59 rr
  -> 0A000008:0B59      Route   1      12         13
";

#[test]
fn ipvs_ipv6_fwmark_and_malformed_lines() {
    let tree = scratch(
        "ipvs",
        &[(b"net/ip_vs_stats", IP_VS_STATS), (b"net/ip_vs", IP_VS)],
    );
    let host = tree.serve(&[Root::Proc, Root::Sys]).host();
    let text = collect_text::<Net>(&host, &only("ipvs", "{}")).unwrap();
    assert_eq!(
        family_lines(&text, "node_ipvs_backend_connections_active"),
        [
            "node_ipvs_backend_connections_active{local_address=\"\",local_mark=\"00000064\",local_port=\"0\",proto=\"FWM\",remote_address=\"10.0.0.6\",remote_port=\"80\"} 8",
            "node_ipvs_backend_connections_active{local_address=\"\",local_mark=\"00000064\",local_port=\"0\",proto=\"FWM\",remote_address=\"10.0.0.7\",remote_port=\"80\"} 10",
            "node_ipvs_backend_connections_active{local_address=\"10.0.0.1\",local_mark=\"\",local_port=\"2905\",proto=\"SCTP\",remote_address=\"10.0.0.8\",remote_port=\"2905\"} 12",
            "node_ipvs_backend_connections_active{local_address=\"10.0.0.1\",local_mark=\"\",local_port=\"53\",proto=\"UDP\",remote_address=\"10.0.0.2\",remote_port=\"53\"} 0",
            "node_ipvs_backend_connections_active{local_address=\"2001:db8::1\",local_mark=\"\",local_port=\"80\",proto=\"TCP\",remote_address=\"192.168.0.1\",remote_port=\"8080\"} 4",
            "node_ipvs_backend_connections_active{local_address=\"2001:db8::1\",local_mark=\"\",local_port=\"80\",proto=\"TCP\",remote_address=\"2001:db8::a0b\",remote_port=\"8080\"} 2",
        ]
    );
    assert_eq!(
        family_lines(&text, "node_ipvs_incoming_bytes_total"),
        ["node_ipvs_incoming_bytes_total 13"]
    );
    assert_eq!(
        logged(&host),
        [
            "ipvs: /proc/net/ip_vs: 3 malformed lines skipped, first line 9: malformed real \
          server line \"  -> 0A000003:0035      Route   x      0          6\""
        ]
    );

    // Fewer labels: the backends that share them are summed.
    let host = tree.serve(&[Root::Proc, Root::Sys]).host();
    let text = collect_text::<Net>(
        &host,
        &only("ipvs", r#"{"backend_labels": "proto,,local_port"}"#),
    )
    .unwrap();
    assert_eq!(
        family_lines(&text, "node_ipvs_backend_weight"),
        [
            "node_ipvs_backend_weight{local_port=\"0\",proto=\"FWM\"} 5",
            "node_ipvs_backend_weight{local_port=\"2905\",proto=\"SCTP\"} 1",
            "node_ipvs_backend_weight{local_port=\"53\",proto=\"UDP\"} 1",
            "node_ipvs_backend_weight{local_port=\"80\",proto=\"TCP\"} 2",
        ]
    );
    let err = collect_text::<Net>(&host, &only("ipvs", r#"{"backend_labels": "proto,vip,b"}"#))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown IPVS backend labels: \"b, vip\""),
        "{err}"
    );

    // ip_vs_stats without ip_vs: the totals, and the error; a broken ip_vs_stats: nothing.
    let tree = scratch("ipvs-stats-only", &[(b"net/ip_vs_stats", IP_VS_STATS)]);
    let host = tree.serve(&[Root::Proc, Root::Sys]).host();
    let text = collect_text::<Net>(&host, &only("ipvs", "{}")).unwrap();
    assert_eq!(sample_lines(&text).len(), 5);
    assert_eq!(logged(&host), ["ipvs: reading /proc/net/ip_vs: not found"]);
    let tree = scratch(
        "ipvs-bad-stats",
        &[(b"net/ip_vs_stats", "a\nb\n1 2 3 4 Z\n")],
    );
    let err = collect_text::<Net>(
        &tree.serve(&[Root::Proc, Root::Sys]).host(),
        &only("ipvs", "{}"),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "ipvs: /proc/net/ip_vs_stats: invalid hex number \"Z\""
    );
}

#[test]
fn xfrm_and_lnstat_malformed_lines() {
    let tree = scratch(
        "xfrm-lnstat",
        &[
            (
                b"net/xfrm_stat",
                "XfrmInError 3\nXfrmInHdrError 1 2\nXfrmFuture 9\n",
            ),
            (
                b"net/stat/rt_cache",
                "entries in_hit bad-name\n00000001 00000002 00000003\n0000000g 1 2\n00000004 00000005 00000006\n",
            ),
            (b"net/stat/empty", ""),
        ],
    );
    let host = tree.serve(&[Root::Proc, Root::Sys]).host();
    let config = r#"{"xfrm": {"enabled": true}, "lnstat": {"enabled": true},
        "netdev": {"enabled": false}, "conntrack": {"enabled": false}}"#;
    let text = collect_text::<Net>(&host, config).unwrap();
    let lines = sample_lines(&text);
    // 28 xfrm counters but the malformed one; absent ones read 0.
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("node_xfrm_")).count(),
        27
    );
    assert!(lines.contains(&"node_xfrm_in_error_packets_total 3"));
    assert!(lines.contains(&"node_xfrm_acquire_error_packets_total 0"));
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("node_lnstat_"))
            .copied()
            .collect::<Vec<_>>(),
        [
            "node_lnstat_entries_total{cpu=\"0\",subsystem=\"rt_cache\"} 1",
            "node_lnstat_entries_total{cpu=\"2\",subsystem=\"rt_cache\"} 4",
            "node_lnstat_in_hit_total{cpu=\"0\",subsystem=\"rt_cache\"} 2",
            "node_lnstat_in_hit_total{cpu=\"2\",subsystem=\"rt_cache\"} 5",
        ]
    );
    assert_eq!(
        logged(&host),
        [
            "xfrm: /proc/net/xfrm_stat: 1 malformed line skipped: line 2: 3 fields in line \
             \"XfrmInHdrError 1 2\"",
            "lnstat: /proc/net/stat/rt_cache: column \"bad-name\" makes no valid metric name; \
             /proc/net/stat/rt_cache: 1 malformed line skipped: line 3: invalid hex value in \
             line \"0000000g 1 2\"",
        ]
    );
}
