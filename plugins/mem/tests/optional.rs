//! node_exporter's optional memory collectors (meminfo_numa, buddyinfo, zoneinfo, swap, ksmd,
//! slabinfo): against node_exporter's own fixture tree, edge-case trees, and hosts without the
//! sources.

use sonde_plugin_mem::Mem;
use sonde_sdk::Root;
use sonde_sdk::testing::{
    Fixture, Tree, collect_text, diff_families, family_lines, family_names, restore_empty_dirs,
    sample_lines,
};
use std::path::PathBuf;

/// Every optional part on, the default ones off.
const ALL_OPTIONAL: &str = r#"{"meminfo": false, "vmstat": false, "pressure": false,
    "meminfo_numa": {"enabled": true}, "buddyinfo": {"enabled": true},
    "zoneinfo": {"enabled": true}, "swap": {"enabled": true}, "ksmd": {"enabled": true},
    "slabinfo": {"enabled": true}}"#;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn node_exporter_host() -> sonde_sdk::Host {
    let dir = fixtures().join("node-exporter");
    restore_empty_dirs(&dir, &dir.join("empty-dirs.txt")).unwrap();
    Fixture::new()
        .root(Root::Proc, dir.join("proc"))
        .root(Root::Sys, dir.join("sys"))
        .host()
}

#[test]
fn matches_node_exporter_on_its_own_fixture() {
    let host = node_exporter_host();
    let ours = collect_text::<Mem>(&host, ALL_OPTIONAL).unwrap();
    assert!(host.logged().is_empty(), "{:?}", host.logged());
    let theirs = std::fs::read_to_string(fixtures().join("node-exporter/e2e-output.txt")).unwrap();
    assert_eq!(diff_families(&ours, &theirs), Vec::<String>::new());
    let prefixes = [
        "node_memory_numa_",
        "node_buddyinfo_",
        "node_zoneinfo_",
        "node_ksmd_",
        "node_slabinfo_",
    ];
    let expected: Vec<&str> = family_names(&theirs)
        .into_iter()
        .filter(|n| prefixes.iter().any(|p| n.starts_with(p)))
        .collect();
    assert_eq!(expected.len(), 35 + 1 + 37 + 10 + 5);
    // node_exporter's e2e run does not enable `swap`; the fixture's /proc/swaps gives its three
    // families on top.
    let swap = [
        "node_swap_priority",
        "node_swap_size_bytes",
        "node_swap_used_bytes",
    ];
    let mut with_swap = expected.clone();
    with_swap.extend(swap);
    with_swap.sort();
    assert_eq!(family_names(&ours), with_swap);
    let series = |text: &str| {
        sample_lines(text)
            .into_iter()
            .filter(|l| prefixes.iter().any(|p| l.starts_with(p)))
            .count()
    };
    assert_eq!(series(&ours), series(&theirs));
    assert_eq!(series(&ours), 265);
    // node_exporter's swap_linux_test: the zram device of the fixture.
    assert_eq!(
        sample_lines(&ours)
            .into_iter()
            .filter(|l| l.starts_with("node_swap_"))
            .collect::<Vec<_>>(),
        [
            "node_swap_priority{device=\"/dev/zram0\",swap_type=\"partition\"} 100",
            "node_swap_size_bytes{device=\"/dev/zram0\",swap_type=\"partition\"} 8.589930496e+09",
            "node_swap_used_bytes{device=\"/dev/zram0\",swap_type=\"partition\"} 77824",
        ]
    );
}

#[test]
fn optional_parts_are_off_by_default() {
    let host = node_exporter_host();
    let text = collect_text::<Mem>(&host, "").unwrap();
    assert!(
        family_names(&text)
            .iter()
            .all(
                |n| n.starts_with("node_memory_") && !n.starts_with("node_memory_numa_")
                    || n.starts_with("node_vmstat_")
                    || n.starts_with("node_pressure_memory_")
            ),
        "{text}"
    );
    let default = sonde_sdk::default_config_json::<Mem>();
    for part in ["meminfo_numa", "buddyinfo", "zoneinfo", "swap", "ksmd"] {
        assert!(
            default.contains(&format!("\"{part}\":{{\"enabled\":false}}")),
            "{default}"
        );
    }
    assert!(default.contains(
        "\"slabinfo\":{\"enabled\":false,\"slabs_include\":\".*\",\"slabs_exclude\":\"\"}"
    ));
    assert!(
        default.contains("\"meminfo\":{\"enabled\":true}"),
        "{default}"
    );
}

#[test]
fn existing_keys_take_a_bool_or_a_table() {
    let host = node_exporter_host();
    let as_bools = collect_text::<Mem>(
        &host,
        r#"{"meminfo": false, "vmstat": true, "pressure": false}"#,
    );
    let as_tables = collect_text::<Mem>(
        &host,
        r#"{"meminfo": {"enabled": false}, "vmstat": {}, "pressure": {"enabled": false}}"#,
    );
    let as_bools = as_bools.unwrap();
    assert_eq!(as_bools, as_tables.unwrap());
    assert!(
        family_names(&as_bools)
            .iter()
            .all(|n| n.starts_with("node_vmstat_"))
    );
    for bad in [
        r#"{"meminfo": 1}"#,
        r#"{"meminfo": {"enabled": true, "x": 1}}"#,
        r#"{"slabinfo": {"slab_include": "x"}}"#,
        r#"{"swaps": {}}"#,
    ] {
        let err = collect_text::<Mem>(&host, bad).unwrap_err().to_string();
        assert!(err.contains("invalid config"), "{bad}: {err}");
    }
}

#[test]
fn slab_filters_as_node_exporter() {
    let host = node_exporter_host();
    let names = |config: &str| -> Vec<String> {
        let text = collect_text::<Mem>(&host, config).unwrap();
        family_lines(&text, "node_slabinfo_objects")
            .into_iter()
            .map(|l| l.split('"').nth(1).unwrap().to_owned())
            .collect()
    };
    let base = r#""meminfo": false, "vmstat": false, "pressure": false"#;
    assert_eq!(
        names(&format!(r#"{{{base}, "slabinfo": {{"enabled": true}}}}"#)),
        [
            "dmaengine-unmap-128",
            "kmalloc-8192",
            "kmem_cache",
            "tw_sock_TCP"
        ]
    );
    // Unanchored, as Go's MatchString: "km" finds kmalloc-8192 and kmem_cache.
    assert_eq!(
        names(&format!(
            r#"{{{base}, "slabinfo": {{"enabled": true, "slabs_include": "km", "slabs_exclude": "8192"}}}}"#
        )),
        ["kmem_cache"]
    );
    let err = collect_text::<Mem>(
        &host,
        r#"{"slabinfo": {"enabled": true, "slabs_exclude": "("}}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("slabinfo"), "{err}");
}

/// Every sample line is `name{label="value",…} number` with its label values escaped: parsed
/// back character by character.
fn assert_valid_exposition(text: &str) {
    for line in sample_lines(text) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
        let Some((_, labels)) = series.split_once('{') else {
            continue;
        };
        let mut chars = labels.strip_suffix('}').expect(line).chars();
        loop {
            let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
            assert!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{line}"
            );
            assert_eq!(chars.next(), Some('"'), "{line}");
            loop {
                match chars.next().expect(line) {
                    '\\' => assert!(matches!(chars.next(), Some('\\' | '"' | 'n')), "{line}"),
                    '"' => break,
                    '\n' => panic!("raw newline in {line}"),
                    _ => {}
                }
            }
            match chars.next() {
                Some(',') => continue,
                None => break,
                Some(c) => panic!("{c:?} after a label in {line}"),
            }
        }
    }
}

#[test]
fn a_host_without_the_sources_gets_nothing_and_no_log() {
    let tree = Tree::new("memx-none");
    let host = tree.host();
    assert_eq!(collect_text::<Mem>(&host, ALL_OPTIONAL).unwrap(), "");
    assert!(host.logged().is_empty());
    // An empty node directory (no NUMA node listed) and an empty ksm directory: nothing either.
    tree.dir("sys/devices/system/node/power")
        .dir("sys/kernel/mm/ksm");
    assert_eq!(collect_text::<Mem>(&host, ALL_OPTIONAL).unwrap(), "");
    assert!(host.logged().is_empty());
}

#[test]
fn hostile_swap_paths_and_slab_names() {
    let swaps: &[u8] = b"Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
        /swap\\040file\\011with\\012newline\\134back\"quote file\t1024\t0\t-2\n\
        /dev/\xff\xfebad partition 2048 1 5\n\
        /dev/sda2 partition 4096 not-a-number 1\n\
        /short\n\
        /swap\\040file\\011with\\012newline\\134back\"quote file\t1024\t0\t-2\n";
    let slabinfo: &[u8] = b"slabinfo - version: 2.1\n\
        # name <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n\
        a\"b\\c{}=, 1 2 3 4 5 : tunables 0 0 0 : slabdata 1 1 0\n\
        :0000064 7 8 64 64 1 : tunables 0 0 0 : slabdata 1 1 0\n\
        \xc3\x28bad 1 1 1 1 1 : tunables 0 0 0 : slabdata 1 1 0\n\
        short 1 2 3\n\
        :0000064 9 9 64 64 1 : tunables 0 0 0 : slabdata 1 1 0\n";
    let tree = Tree::with_files(
        "memx-hostile",
        &[("proc/swaps", swaps), ("proc/slabinfo", slabinfo)],
    );
    let host = tree.host();
    let text = collect_text::<Mem>(
        &host,
        r#"{"meminfo": false, "vmstat": false, "pressure": false, "swap": {"enabled": true}, "slabinfo": {"enabled": true}}"#,
    )
    .unwrap();
    assert_valid_exposition(&text);
    assert_eq!(
        family_lines(&text, "node_swap_priority"),
        [
            "node_swap_priority{device=\"/dev/\u{FFFD}\u{FFFD}bad\",swap_type=\"partition\"} 5",
            // The kernel's escapes are kept, as node_exporter reports them; the backslashes and
            // the quote are escaped in the exposition.
            "node_swap_priority{device=\"/swap\\\\040file\\\\011with\\\\012newline\\\\134back\\\"quote\",swap_type=\"file\"} -2",
        ]
    );
    assert_eq!(
        family_lines(&text, "node_slabinfo_active_objects"),
        [
            "node_slabinfo_active_objects{slab=\":0000064\"} 7",
            "node_slabinfo_active_objects{slab=\"a\\\"b\\\\c{}=,\"} 1",
            "node_slabinfo_active_objects{slab=\"\u{FFFD}(bad\"} 1",
        ]
    );
    let logged: Vec<String> = host.logged().into_iter().map(|(_, l)| l).collect();
    assert_eq!(
        logged,
        [
            "swap: /proc/swaps: 2 malformed lines skipped, first line 4: used \"not-a-number\": \
             invalid digit found in string in line \"/dev/sda2 partition 4096 not-a-number 1\"",
            "slabinfo: /proc/slabinfo: 1 malformed line skipped: line 6: 4 fields, expected 16 \
             in line \"short 1 2 3\"",
        ]
    );
}

#[test]
fn broken_numa_nodes_zones_and_ksm_files() {
    let tree = Tree::with_files(
        "memx-broken",
        &[
            (
                "sys/devices/system/node/node0/meminfo",
                b"Node 0 MemTotal:  100 kB\nNode 0 Bad-Name: 1 kB\nNode 0 HugePages_Total: 2\n\
                  Node 0 Odd: 1 MB\nNode 0 Short:\n\nNode 0 Active(anon): 3 kB\n"
                    as &[u8],
            ),
            (
                "sys/devices/system/node/node0/numastat",
                b"numa_hit 5\nnuma_miss\nlocal_node 7\n",
            ),
            // node1 has no numastat; node2x is node 2 (glob node[0-9]*); nodes is not a node.
            (
                "sys/devices/system/node/node1/meminfo",
                b"Node 1 MemTotal: 200 kB\n",
            ),
            (
                "sys/devices/system/node/node2x/meminfo",
                b"Node 2 MemTotal: 300 kB\n",
            ),
            ("sys/devices/system/node/node2x/numastat", b"numa_hit 9\n"),
            ("sys/devices/system/node/nodes/meminfo", b"garbage\n"),
            ("sys/kernel/mm/ksm/run", b"1\n"),
            ("sys/kernel/mm/ksm/general_profit", b"-4096\n"),
            ("sys/kernel/mm/ksm/pages_shared", b"lots\n"),
            (
                "proc/zoneinfo",
                b"Node 0, zone      DMA\n  per-node stats\n      nr_inactive_anon 95612\n\
                  pages free 3\n        min      x\n        low      11\n\
                  protection: (0, 2039)\nNode 1, zone Normal\n   spanned 7\n",
            ),
            (
                "proc/buddyinfo",
                b"Node 0, zone DMA 1 2 3\nNode 0, zone Normal 1 2\nNode 1, zone DMA 4 5 6\n",
            ),
        ],
    );
    let host = tree.host();
    let text = collect_text::<Mem>(&host, ALL_OPTIONAL).unwrap();
    assert_valid_exposition(&text);
    let numa: Vec<&str> = sample_lines(&text)
        .into_iter()
        .filter(|l| l.starts_with("node_memory_numa_"))
        .collect();
    assert_eq!(
        numa,
        [
            "node_memory_numa_Active_anon{node=\"0\"} 3072",
            "node_memory_numa_HugePages_Total{node=\"0\"} 2",
            "node_memory_numa_MemTotal{node=\"0\"} 102400",
            "node_memory_numa_MemTotal{node=\"1\"} 204800",
            "node_memory_numa_MemTotal{node=\"2\"} 307200",
            "node_memory_numa_local_node_total{node=\"0\"} 7",
            "node_memory_numa_numa_hit_total{node=\"0\"} 5",
            "node_memory_numa_numa_hit_total{node=\"2\"} 9",
        ]
    );
    assert!(text.contains("# TYPE node_memory_numa_numa_hit_total counter\n"));
    assert!(text.contains("# TYPE node_memory_numa_MemTotal gauge\n"));
    let ksmd: Vec<&str> = sample_lines(&text)
        .into_iter()
        .filter(|l| l.starts_with("node_ksmd_"))
        .collect();
    assert_eq!(
        ksmd,
        ["node_ksmd_general_profit_bytes -4096", "node_ksmd_run 1"]
    );
    let zoneinfo: Vec<&str> = sample_lines(&text)
        .into_iter()
        .filter(|l| l.starts_with("node_zoneinfo_"))
        .collect();
    assert_eq!(
        zoneinfo,
        [
            "node_zoneinfo_low_pages{node=\"0\",zone=\"DMA\"} 11",
            "node_zoneinfo_nr_inactive_anon_pages{node=\"0\",zone=\"DMA\"} 95612",
            "node_zoneinfo_protection_0{node=\"0\",zone=\"DMA\"} 0",
            "node_zoneinfo_protection_1{node=\"0\",zone=\"DMA\"} 2039",
            "node_zoneinfo_spanned_pages{node=\"1\",zone=\"Normal\"} 7",
        ]
    );
    assert_eq!(family_lines(&text, "node_buddyinfo_blocks").len(), 6);
    let mut logged: Vec<String> = host
        .logged()
        .into_iter()
        .map(|(level, line)| {
            assert_eq!(level, sonde_sdk::Level::Warn);
            line
        })
        .collect();
    logged.sort();
    assert_eq!(
        logged,
        [
            "buddyinfo: /proc/buddyinfo: 1 malformed line skipped: line 2: 2 orders where the \
             first line has 3 in line \"Node 0, zone Normal 1 2\"",
            "ksmd: /sys/kernel/mm/ksm/pages_shared: \"lots\": invalid digit found in string",
            "meminfo_numa: /sys/devices/system/node/node0/meminfo: line 4: unexpected number of \
             fields in line \"Node 0 Odd: 1 MB\" (and 2 more problems)",
            "meminfo_numa: skipping invalid metric name \"node_memory_numa_Bad-Name\"",
            "zoneinfo: /proc/zoneinfo: 1 malformed line skipped: line 5: invalid integer \"x\" \
             in line \"        min      x\"",
        ]
    );
}

#[test]
fn many_numa_nodes_and_slabs() {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for node in 0..256 {
        let meminfo: String = (0..20)
            .map(|f| format!("Node {node} Field{f}: {} kB\n", node * f))
            .collect();
        files.push((
            format!("sys/devices/system/node/node{node}/meminfo"),
            meminfo.into(),
        ));
        files.push((
            format!("sys/devices/system/node/node{node}/numastat"),
            b"numa_hit 1\nnuma_miss 2\n".to_vec(),
        ));
    }
    let mut slabinfo = String::from("slabinfo - version: 2.1\n");
    for slab in 0..5000 {
        slabinfo.push_str(&format!(
            "cache-{slab} 1 2 3 4 5 : tunables 0 0 0 : slabdata 1 1 0\n"
        ));
    }
    files.push(("proc/slabinfo".into(), slabinfo.into()));
    let files: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect();
    let tree = Tree::with_files("memx-many", &files);
    let host = tree.host();
    let start = std::time::Instant::now();
    let text = collect_text::<Mem>(&host, ALL_OPTIONAL).unwrap();
    let lines = sample_lines(&text);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("node_memory_numa_"))
            .count(),
        256 * 22
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("node_slabinfo_"))
            .count(),
        5000 * 5
    );
    assert!(host.logged().is_empty());
    // A guard against a quadratic blow-up, loose enough for a loaded CI machine (about 1 s in a
    // debug build).
    assert!(start.elapsed().as_secs() < 30, "{:?}", start.elapsed());
}
