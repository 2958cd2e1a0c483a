//! The mem collector, run natively through the SDK harness: against node_exporter's own fixture
//! tree (its e2e output must match), a capture of a Debian 12 host, and small edge-case trees.

use sonde_plugin_mem::Mem;
use sonde_sdk::testing::{
    Fixture, Instance, Tree, collect_text, diff_families, family_lines, family_names,
    restore_empty_dirs, sample_lines,
};
use sonde_sdk::{Level, Root};
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

#[test]
fn matches_node_exporter_on_its_own_fixture() {
    let dir = fixtures().join("node-exporter");
    restore_empty_dirs(&dir, &dir.join("empty-dirs.txt")).unwrap();
    let host = Fixture::new().root(Root::Proc, dir.join("proc")).host();
    let ours = collect_text::<Mem>(&host, "").unwrap();
    let theirs = std::fs::read_to_string(dir.join("e2e-output.txt")).unwrap();
    assert_eq!(diff_families(&ours, &theirs), Vec::<String>::new());
    // Every family node_exporter's meminfo, vmstat and memory pressure report is there.
    let expected: Vec<&str> = family_names(&theirs)
        .into_iter()
        .filter(|n| {
            (n.starts_with("node_memory_") && !n.starts_with("node_memory_numa_"))
                || n.starts_with("node_vmstat_")
                || n.starts_with("node_pressure_memory_")
        })
        .collect();
    assert_eq!(expected.len(), 42 + 7 + 2);
    assert_eq!(family_names(&ours), expected);
    assert_eq!(
        family_lines(&ours, "node_memory_VmallocTotal_bytes"),
        ["node_memory_VmallocTotal_bytes 3.5184372087808e+13"]
    );
}

#[test]
fn every_meminfo_line_of_a_newer_kernel() {
    let host = Fixture::new()
        .root(Root::Proc, fixtures().join("live-debian12/proc"))
        .host();
    let text = collect_text::<Mem>(&host, "").unwrap();
    // Lines node_exporter 1.12 dropped but 1.5.0 reported, and the unit-less HugePages counts.
    for line in [
        "node_memory_KReclaimable_bytes 2.77983232e+08",
        "node_memory_SecPageTables_bytes 0",
        "node_memory_FileHugePages_bytes 7.9691776e+07",
        "node_memory_Hugetlb_bytes 0",
        "node_memory_Balloon_bytes 0",
        "node_memory_DirectMap1G_bytes 2.5769803776e+10",
        "node_memory_Zswapped_bytes 0",
        "node_memory_MemAvailable_bytes 2.4772366336e+10",
        "node_memory_HugePages_Total 0",
        "node_memory_Active_anon_bytes 1.589248e+06",
    ] {
        assert!(sample_lines(&text).contains(&line), "{line}");
    }
    assert!(text.contains(
        "# HELP node_memory_Inactive_file_bytes Memory information field Inactive_file_bytes.\n\
         # TYPE node_memory_Inactive_file_bytes gauge\n"
    ));
    let meminfo = std::fs::read_to_string(fixtures().join("live-debian12/proc/meminfo")).unwrap();
    let memory_lines = sample_lines(&text)
        .into_iter()
        .filter(|l| l.starts_with("node_memory_"))
        .count();
    assert_eq!(memory_lines, meminfo.lines().count());
    let others: Vec<&str> = sample_lines(&text)
        .into_iter()
        .filter(|l| !l.starts_with("node_memory_"))
        .collect();
    assert_eq!(
        others,
        [
            "node_pressure_memory_stalled_seconds_total 0",
            "node_pressure_memory_waiting_seconds_total 0",
            "node_vmstat_oom_kill 0",
            "node_vmstat_pgfault 6.0574426e+07",
            "node_vmstat_pgmajfault 12395",
            "node_vmstat_pgpgin 5.596933e+06",
            "node_vmstat_pgpgout 1.4710096e+07",
            "node_vmstat_pswpin 0",
            "node_vmstat_pswpout 0",
        ]
    );
}

#[test]
fn config_selects_parts_and_vmstat_fields() {
    let host = Fixture::new()
        .root(Root::Proc, fixtures().join("live-debian12/proc"))
        .host();
    let config =
        r#"{"meminfo": false, "pressure": false, "vmstat_fields": "^nr_(free|zone_active)"}"#;
    let text = collect_text::<Mem>(&host, config).unwrap();
    assert_eq!(
        sample_lines(&text),
        [
            "node_vmstat_nr_free_cma 0",
            "node_vmstat_nr_free_pages 1.95096e+06",
            "node_vmstat_nr_free_pages_blocks 924160",
            "node_vmstat_nr_zone_active_anon 388",
            "node_vmstat_nr_zone_active_file 577748",
        ]
    );
    // Unanchored, as Go's MatchString: "fault" finds pgfault, pgmajfault, thp_fault_alloc, ….
    let text = collect_text::<Mem>(&host, r#"{"meminfo": false, "vmstat_fields": "majfault"}"#);
    assert!(sample_lines(&text.unwrap()).contains(&"node_vmstat_pgmajfault 12395"));
    let err = collect_text::<Mem>(&host, r#"{"vmstat_fields": "("}"#).unwrap_err();
    assert!(err.to_string().contains("invalid include pattern"), "{err}");
    let err = collect_text::<Mem>(&host, r#"{"vmstat": 1}"#).unwrap_err();
    assert!(err.to_string().contains("invalid config"), "{err}");
}

#[test]
fn missing_files_are_skipped_silently() {
    let tree = Tree::new("mem-empty");
    let host = Fixture::new().root(Root::Proc, tree.path()).host();
    assert_eq!(collect_text::<Mem>(&host, "").unwrap(), "");
    assert!(host.logged().is_empty());
}

#[test]
fn a_broken_part_is_logged_and_the_others_kept() {
    let tree = Tree::with_files(
        "mem-broken",
        &[
            ("meminfo", "MemTotal: 12 MB\n"),
            ("vmstat", "pgfault 7\n"),
            // PSI without a `full` line reports nothing, as node_exporter does.
            (
                "pressure/memory",
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\n",
            ),
        ],
    );
    let host = Fixture::new().root(Root::Proc, tree.path()).host();
    let text = collect_text::<Mem>(&host, "").unwrap();
    assert_eq!(sample_lines(&text), ["node_vmstat_pgfault 7"]);
    let logged = host.logged();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].0, Level::Warn);
    assert!(
        logged[0]
            .1
            .starts_with("meminfo: /proc/meminfo: unit other than kB"),
        "{logged:?}"
    );

    let tree = Tree::with_files(
        "mem-all-broken",
        &[("meminfo", "MemTotal: x kB\n"), ("vmstat", "x\n")],
    );
    let host = Fixture::new().root(Root::Proc, tree.path()).host();
    let err = collect_text::<Mem>(&host, "").unwrap_err().to_string();
    assert!(
        err.starts_with("meminfo: ") && err.contains("; vmstat: "),
        "{err}"
    );
}

#[test]
fn pressure_total_is_converted_as_node_exporter_does() {
    let tree = Tree::with_files(
        "mem-psi",
        &[(
            "pressure/memory",
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=14036781\n\
             full avg10=0.00 avg60=0.00 avg300=0.00 total=2000001\n",
        )],
    );
    let host = Fixture::new().root(Root::Proc, tree.path()).host();
    let text = collect_text::<Mem>(&host, r#"{"meminfo": false, "vmstat": false}"#).unwrap();
    assert_eq!(
        sample_lines(&text),
        [
            "node_pressure_memory_stalled_seconds_total 2.000001",
            "node_pressure_memory_waiting_seconds_total 14.036781000000001",
        ]
    );
}

#[test]
fn a_malformed_meminfo_line_is_skipped_and_fails_the_part() {
    let live = std::fs::read_to_string(fixtures().join("live-debian12/proc/meminfo")).unwrap();
    assert_eq!(live.lines().count(), 54);
    let line = live.lines().nth(6).unwrap();
    let broken = live.replacen(line, "Foo:             x kB", 1);
    let vmstat = std::fs::read_to_string(fixtures().join("live-debian12/proc/vmstat")).unwrap();
    let tree = Tree::with_files(
        "mem-bad-meminfo",
        &[("meminfo", &broken), ("vmstat", &vmstat)],
    );
    let host = Fixture::new().root(Root::Proc, tree.path()).host();
    let text = collect_text::<Mem>(&host, "").unwrap();
    let memory: Vec<&str> = family_names(&text)
        .into_iter()
        .filter(|n| n.starts_with("node_memory_"))
        .collect();
    assert_eq!(memory.len(), 53, "the other lines are all there");
    assert!(sample_lines(&text).contains(&"node_memory_MemAvailable_bytes 2.4772366336e+10"));
    assert!(sample_lines(&text).contains(&"node_vmstat_pgmajfault 12395"));
    assert_eq!(
        host.logged(),
        [(
            Level::Warn,
            "meminfo: /proc/meminfo: 1 malformed line skipped: line 7: invalid digit found in \
             string in line \"Foo:             x kB\""
                .to_owned()
        )]
    );
}

#[test]
fn malformed_vmstat_and_pressure_lines_give_no_samples() {
    let tree = Tree::with_files(
        "mem-bad-vmstat",
        &[
            ("vmstat", "pgfault 7\npgmajfault\npswpin 3\n"),
            (
                "pressure/memory",
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\n\
                 full avg10=0.00 avg60=0.00 avg300=0.00 total=\n",
            ),
        ],
    );
    let host = Fixture::new().root(Root::Proc, tree.path()).host();
    let text = collect_text::<Mem>(&host, r#"{"vmstat_fields": "."}"#).unwrap();
    assert_eq!(
        sample_lines(&text),
        ["node_vmstat_pgfault 7", "node_vmstat_pswpin 3"]
    );
    let logged: Vec<String> = host.logged().into_iter().map(|(_, line)| line).collect();
    assert_eq!(
        logged,
        [
            "vmstat: /proc/vmstat: 1 malformed line skipped: line 2: no value in line \
             \"pgmajfault\"",
            "pressure: /proc/pressure/memory: 1 malformed line skipped: line 2: total=: cannot \
             parse integer from empty string in line \"full avg10=0.00 avg60=0.00 \
             avg300=0.00 total=\"",
        ]
    );
}

#[test]
fn one_collector_collects_every_cycle_and_follows_the_kernel() {
    let tree = Tree::with_files(
        "mem-cycles",
        &[
            ("meminfo", "MemTotal: 12 kB\nBad-Key: 1 kB\n"),
            ("vmstat", "pgfault 7\n"),
        ],
    );
    let host = Fixture::new().root(Root::Proc, tree.path()).host();
    let mut mem = Instance::<Mem>::new(r#"{"pressure": false}"#).unwrap();
    let first = mem.collect_text(&host).unwrap();
    assert_eq!(
        sample_lines(&first),
        ["node_memory_MemTotal_bytes 12288", "node_vmstat_pgfault 7"]
    );
    // The field that makes no valid name is logged once, when its name is first derived.
    assert_eq!(host.logged().len(), 1, "{:?}", host.logged());
    assert_eq!(mem.collect_text(&host).unwrap(), first);
    assert_eq!(host.logged().len(), 1, "{:?}", host.logged());

    // New values and a new field are reported by the same collector.
    tree.file("vmstat", "pgfault 8\npgmajfault 1\n");
    assert_eq!(
        sample_lines(&mem.collect_text(&host).unwrap()),
        [
            "node_memory_MemTotal_bytes 12288",
            "node_vmstat_pgfault 8",
            "node_vmstat_pgmajfault 1"
        ]
    );
}
