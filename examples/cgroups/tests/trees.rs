//! The plugin on trees built by each test: hosts without cgroup v2, hostile names, broken
//! files, thousands of cgroups.

mod common;

use common::{Tree, check_exposition};
use sonde_plugin_cgroups::Cgroups;
use sonde_sdk::testing::{Fixture, Instance, collect_text, family_lines, sample_lines};
use sonde_sdk::{Host, Level, Root};

fn host(tree: &Tree) -> Host {
    Fixture::new().root(Root::Sys, tree.path()).host()
}

const ALL: &str = r#"{"include": ""}"#;

#[test]
fn a_cgroup_v1_host_reports_nothing_and_says_so_once() {
    let tree = Tree::new("v1");
    tree.file("memory/system.slice/memory.usage_in_bytes", "4096\n")
        .file("cpu,cpuacct/system.slice/cpuacct.usage", "123\n")
        .dir("unified/system.slice");
    let host = host(&tree);
    let mut instance = Instance::<Cgroups>::new("").unwrap();
    assert_eq!(instance.collect_text(&host).unwrap(), "");
    assert_eq!(instance.collect_text(&host).unwrap(), "");
    let logged = host.logged();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0].0, Level::Info);
    assert!(logged[0].1.contains("no cgroup v2 hierarchy"), "{logged:?}");
}

#[test]
fn without_the_grant_the_collection_fails() {
    let err = collect_text::<Cgroups>(&Fixture::new().host(), "").unwrap_err();
    assert_eq!(
        err.to_string(),
        "reading /sys/fs/cgroup/cgroup.controllers: not granted to this plugin"
    );
}

#[test]
fn an_empty_hierarchy_reports_nothing() {
    let tree = Tree::v2("empty");
    assert_eq!(collect_text::<Cgroups>(&host(&tree), ALL).unwrap(), "");
}

#[test]
fn files_of_controllers_not_enabled_are_skipped() {
    let tree = Tree::v2("controllers");
    // Only what every cgroup has: cpu.stat's three base fields.
    tree.file(
        "a.slice/cpu.stat",
        "usage_usec 2000000\nuser_usec 1500000\nsystem_usec 500000\n",
    )
    .file("a.slice/cgroup.stat", "nr_descendants 0\n")
    // memory and pids, no cpu, io or pressure files (a kernel without PSI).
    .file("b.slice/memory.current", "8192\n")
    .file("b.slice/memory.max", "max\n")
    .file("b.slice/pids.current", "3\n")
    .file("b.slice/pids.max", "max\n");
    let host = host(&tree);
    let text = collect_text::<Cgroups>(&host, ALL).unwrap();
    assert_eq!(
        sample_lines(&text),
        [
            "cgroup_cpu_system_seconds_total{cgroup=\"/a.slice\"} 0.5",
            "cgroup_cpu_usage_seconds_total{cgroup=\"/a.slice\"} 2",
            "cgroup_cpu_user_seconds_total{cgroup=\"/a.slice\"} 1.5",
            "cgroup_memory_usage_bytes{cgroup=\"/b.slice\"} 8192",
            "cgroup_threads{cgroup=\"/b.slice\"} 3",
        ]
    );
    assert_eq!(host.logged(), []);
}

#[test]
fn hostile_names_stay_valid_exposition() {
    let tree = Tree::v2("hostile");
    let names: [&[u8]; 9] = [
        b"quote\"d.service",
        b"back\\slash.service",
        b"new\nline.service",
        b"{brace=1,x}.service",
        b"trailing\\",
        "ünïcode ✓.service".as_bytes(),
        b"tab\there",
        b"  spaces  ",
        b"systemd-fsck@dev-disk-by\\x2duuid-1.service",
    ];
    for name in names {
        let mut path = name.to_vec();
        path.extend_from_slice(b"/memory.current");
        tree.file(&path, "4096\n");
    }
    let host = host(&tree);
    let text = collect_text::<Cgroups>(&host, ALL).unwrap();
    assert_eq!(check_exposition(&text), names.len());
    assert!(text.contains("cgroup_memory_usage_bytes{cgroup=\"/quote\\\"d.service\"} 4096\n"));
    assert!(text.contains("cgroup_memory_usage_bytes{cgroup=\"/back\\\\slash.service\"} 4096\n"));
    assert!(text.contains("cgroup_memory_usage_bytes{cgroup=\"/new\\nline.service\"} 4096\n"));
    assert!(text.contains("cgroup_memory_usage_bytes{cgroup=\"/trailing\\\\\"} 4096\n"));
    assert!(text.contains("cgroup_memory_usage_bytes{cgroup=\"/tab\there\"} 4096\n"));
    assert_eq!(host.logged(), []);
}

#[test]
fn names_that_are_not_utf8_are_skipped_without_duplicates() {
    let tree = Tree::v2("utf8");
    // Both come back from the host as "bad\u{FFFD}", a name under which nothing can be read.
    tree.file(b"bad\xff/memory.current", "1\n")
        .file(b"bad\xfe/memory.current", "2\n")
        .file("good/memory.current", "4\n");
    let host = host(&tree);
    let mut instance = Instance::<Cgroups>::new(ALL).unwrap();
    for _ in 0..2 {
        let text = instance.collect_text(&host).unwrap();
        assert_eq!(
            sample_lines(&text),
            ["cgroup_memory_usage_bytes{cgroup=\"/good\"} 4"]
        );
    }
    let logged = host.logged();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0].0, Level::Debug);
    assert!(
        logged[0]
            .1
            .starts_with("2 cgroups have names that are not UTF-8"),
        "{logged:?}"
    );

    // With a cgroup really named "bad\u{FFFD}", all three names read its files: it is reported
    // once, not three times (which the host would refuse as duplicate series).
    tree.file("bad\u{FFFD}/memory.current", "3\n");
    let text = collect_text::<Cgroups>(&host, ALL).unwrap();
    assert_eq!(
        family_lines(&text, "cgroup_memory_usage_bytes"),
        [
            "cgroup_memory_usage_bytes{cgroup=\"/bad\u{FFFD}\"} 3",
            "cgroup_memory_usage_bytes{cgroup=\"/good\"} 4",
        ]
    );
    check_exposition(&text);
}

#[test]
fn malformed_lines_are_skipped_and_the_rest_reported() {
    let tree = Tree::v2("malformed");
    tree.file(
        "x.service/cpu.stat",
        "usage_usec 1000000\nuser_usec ??\nsystem_usec 1 2\ngarbage\nnr_periods 5\n",
    )
    .file("x.service/memory.current", "lots\n")
    .file("x.service/memory.max", "-1\n")
    .file("x.service/memory.events", "oom 1\noom 2\noom_kill\n")
    .file(
        "x.service/io.stat",
        "8:0 rbytes=10 wbytes=x\n8:0 rbytes=99\n8:16 rbytes\n",
    )
    .file(
        "x.service/cpu.pressure",
        "some avg10=0.00 total=7\nfull avg10=0.00\n",
    )
    .file("x.service/pids.current", "\n");
    let host = host(&tree);
    let text = collect_text::<Cgroups>(&host, ALL).unwrap();
    let g = "cgroup=\"/x.service\"";
    assert_eq!(
        sample_lines(&text),
        [
            format!("cgroup_cpu_cfs_periods_total{{{g}}} 5"),
            format!("cgroup_cpu_usage_seconds_total{{{g}}} 1"),
            format!("cgroup_io_read_bytes_total{{{g},device=\"8:0\"}} 10"),
            format!("cgroup_memory_events_total{{{g},event=\"oom\"}} 1"),
            format!("cgroup_pressure_cpu_waiting_seconds_total{{{g}}} 7e-06"),
        ]
    );
    let logged = host.logged();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0].0, Level::Warn);
    assert_eq!(
        logged[0].1,
        "10 malformed lines skipped (first: \"/sys/fs/cgroup/x.service/cpu.stat\": \"user_usec ??\")"
    );
}

#[test]
fn unreadable_files_are_logged_and_fail_only_an_empty_collection() {
    let tree = Tree::v2("unreadable");
    // A directory where a file should be: reading it fails with an error that is not "absent".
    tree.file("a.service/memory.current", "4096\n")
        .dir("a.service/memory.stat")
        .dir("b.service/memory.current");
    let host = host(&tree);
    let text = collect_text::<Cgroups>(&host, ALL).unwrap();
    assert_eq!(
        sample_lines(&text),
        ["cgroup_memory_usage_bytes{cgroup=\"/a.service\"} 4096"]
    );
    let logged = host.logged();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0]
            .1
            .starts_with("2 files unreadable (first: \"/sys/fs/cgroup/a.service/memory.stat\": "),
        "{logged:?}"
    );

    let tree = Tree::v2("unreadable-all");
    tree.dir("b.service/memory.current");
    let err = collect_text::<Cgroups>(&Fixture::new().root(Root::Sys, tree.path()).host(), ALL)
        .unwrap_err();
    assert!(err.to_string().starts_with("1 files unreadable"), "{err}");
}

#[test]
fn two_thousand_services_in_batches() {
    let tree = Tree::v2("many");
    tree.file("system.slice/cgroup.stat", "nr_descendants 2000\n");
    for i in 0..2000 {
        let dir = format!("system.slice/svc-{i:04}.service");
        tree.file(format!("{dir}/cgroup.stat"), "nr_descendants 0\n")
            .file(
                format!("{dir}/cpu.stat"),
                format!("usage_usec {i}\nuser_usec {i}\nsystem_usec 0\n"),
            )
            .file(format!("{dir}/memory.current"), format!("{}\n", i * 4096))
            .file(format!("{dir}/memory.max"), "max\n")
            .file(format!("{dir}/pids.current"), "1\n")
            .file(
                format!("{dir}/io.stat"),
                "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n",
            );
    }
    let host = host(&tree);
    let text = collect_text::<Cgroups>(&host, "").unwrap();
    for family in [
        "cgroup_cpu_usage_seconds_total",
        "cgroup_cpu_user_seconds_total",
        "cgroup_cpu_system_seconds_total",
        "cgroup_memory_usage_bytes",
        "cgroup_threads",
        "cgroup_io_read_bytes_total",
        "cgroup_io_discards_total",
    ] {
        assert_eq!(family_lines(&text, family).len(), 2000, "{family}");
    }
    assert!(family_lines(&text, "cgroup_memory_limit_bytes").is_empty());
    assert_eq!(check_exposition(&text), 2000 * 11);
    assert!(text.contains(
        "cgroup_memory_usage_bytes{cgroup=\"/system.slice/svc-1999.service\"} 8.187904e+06\n"
    ));
    assert_eq!(host.logged(), []);

    // Deeper, the 2000 services are listed only when cgroup.stat says they have children.
    let text = collect_text::<Cgroups>(&host, r#"{"include": "", "max_depth": 5}"#).unwrap();
    assert_eq!(check_exposition(&text), 2000 * 11);
}

#[test]
fn config_errors() {
    let err = |config: &str| Instance::<Cgroups>::new(config).err().unwrap().to_string();
    assert_eq!(
        err(r#"{"max_depth": 0}"#),
        "max_depth must be between 1 and 16, not 0"
    );
    assert!(err(r#"{"include": "("}"#).starts_with("invalid include pattern \"(\""));
    assert!(err(r#"{"depth": 2}"#).contains("unknown field `depth`"));
}
