//! `netns`: which network namespace the `/proc/net` figures describe. A tree whose `net/` (the
//! reader's namespace) has only `lo` and whose `1/net/` (pid 1's, the host's) has `eth0` too.

use sonde_plugin_net::Net;
use sonde_sdk::Root;
use sonde_sdk::testing::{Tree, collect_text, family_lines};

const DEV_HEADER: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
";
const LO: &str = "    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n";
const ETH0: &str = "  eth0: 9876543    7000    0    0    0     0          0         0  1234567    5000    0    0    0     0       0          0\n";
const CONNTRACK_HEADER: &str = "entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n";

/// The tree: the agent's own namespace (`net/`) and the host's (`1/net/`).
fn tree() -> Tree {
    let own_conntrack = format!(
        "{CONNTRACK_HEADER}00000005  00000000 00000000 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n"
    );
    let host_conntrack = format!(
        "{CONNTRACK_HEADER}0000002a  00000000 00000000 00000000 00000007 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n\
         0000002a  00000000 00000000 00000000 00000003 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n"
    );
    Tree::with_files(
        "net-netns",
        &[
            ("net/dev", format!("{DEV_HEADER}{LO}")),
            ("1/net/dev", format!("{DEV_HEADER}{LO}{ETH0}")),
            ("net/sockstat", "sockets: used 3\n".to_owned()),
            ("1/net/sockstat", "sockets: used 300\n".to_owned()),
            ("net/stat/nf_conntrack", own_conntrack),
            ("1/net/stat/nf_conntrack", host_conntrack),
            ("sys/net/netfilter/nf_conntrack_count", "5\n".to_owned()),
            ("sys/net/netfilter/nf_conntrack_max", "65536\n".to_owned()),
        ],
    )
}

/// netdev, sockstat and conntrack only, in the namespace `netns` (`None`: the default).
fn collect(netns: Option<&str>) -> Result<String, sonde_sdk::Error> {
    let tree = tree();
    let host = tree.serve(&[Root::Proc, Root::Sys]).host();
    let off = [
        "netclass",
        "netstat",
        "softnet",
        "arp",
        "udp_queues",
        "bonding",
        "infiniband",
        "ipvs",
    ]
    .map(|part| format!("\"{part}\": {{\"enabled\": false}}"))
    .join(", ");
    let config = match netns {
        Some(netns) => format!("{{\"netns\": \"{netns}\", {off}}}"),
        None => format!("{{{off}}}"),
    };
    collect_text::<Net>(&host, &config)
}

fn receive_bytes(text: &str) -> Vec<&str> {
    family_lines(text, "node_network_receive_bytes_total")
}

#[test]
fn host_reads_pid_1s_namespace() {
    let text = collect(Some("host")).unwrap();
    assert_eq!(
        receive_bytes(&text),
        [
            "node_network_receive_bytes_total{device=\"eth0\"} 9.876543e+06",
            "node_network_receive_bytes_total{device=\"lo\"} 100",
        ]
    );
    assert_eq!(
        family_lines(&text, "node_sockstat_sockets_used"),
        ["node_sockstat_sockets_used 300"]
    );
    // /proc/sys has no copy per pid: the host's count is the `entries` column of its stat file;
    // the limit is global.
    assert_eq!(
        family_lines(&text, "node_nf_conntrack_entries"),
        ["node_nf_conntrack_entries 42"]
    );
    assert_eq!(
        family_lines(&text, "node_nf_conntrack_entries_limit"),
        ["node_nf_conntrack_entries_limit 65536"]
    );
    assert_eq!(
        family_lines(&text, "node_nf_conntrack_stat_invalid"),
        ["node_nf_conntrack_stat_invalid 10"]
    );
}

#[test]
fn self_and_unresolved_auto_read_the_own_namespace() {
    // `auto` is resolved by the agent from its procfs root; a plugin run on its own reads its own.
    for netns in [Some("self"), Some("auto"), None] {
        let text = collect(netns).unwrap();
        assert_eq!(
            receive_bytes(&text),
            ["node_network_receive_bytes_total{device=\"lo\"} 100"],
            "{netns:?}"
        );
        assert_eq!(
            family_lines(&text, "node_nf_conntrack_entries"),
            ["node_nf_conntrack_entries 5"]
        );
        assert_eq!(
            family_lines(&text, "node_sockstat_sockets_used"),
            ["node_sockstat_sockets_used 3"]
        );
    }
}

#[test]
fn an_unknown_namespace_is_a_config_error() {
    let error = collect(Some("container")).unwrap_err().to_string();
    assert!(
        error.contains("unknown variant `container`, expected one of `auto`, `host`, `self`"),
        "{error}"
    );
}

#[test]
fn host_without_pid_1_reports_nothing_and_fails_nothing() {
    let tree = Tree::with_files(
        "net-netns-no-pid1",
        &[("net/dev", format!("{DEV_HEADER}{LO}"))],
    );
    let host = tree.serve(&[Root::Proc, Root::Sys]).host();
    let text = collect_text::<Net>(&host, r#"{"netns": "host"}"#).unwrap();
    assert!(receive_bytes(&text).is_empty(), "{text}");
}
