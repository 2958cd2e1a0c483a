//! The system collector, run natively through the SDK harness: against node_exporter's own
//! fixture tree (its e2e output must match), a capture of a Debian 12 host, canned `uname`,
//! `clock` and `adjtimex` answers, and small edge-case trees.

use sonde_plugin_system::System;
use sonde_sdk::testing::{
    Fixture, Tree, collect_text, diff_families, family_lines, restore_empty_dirs, sample_lines,
};
use sonde_sdk::{Clock, Level, Root, Timex, Uname};
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// Only the parts whose output the host's clock and syscalls do not decide.
const FILES_ONLY: &str =
    r#"{"kernel_hung": false, "selinux": false, "uname": false, "timex": false, "time": false}"#;

/// Only the parts that read `/proc`.
const PROC_ONLY: &str = r#"{"kernel_hung": false, "selinux": false, "uname": false, "os": false, "time": false, "timex": false}"#;

/// node_exporter's e2e flags for the collectors of this plugin.
const E2E_CONFIG: &str = r#"{"softirq": true, "uname": false, "timex": false, "selinux": false,
    "cgroups": true,
    "sysctl": {"enabled": true,
        "include": ["fs.file-nr", "fs.file-nr:total,current,max", "kernel.threads-max"],
        "include_info": ["kernel.seccomp.actions_avail"]}}"#;

#[test]
fn matches_node_exporter_on_its_own_fixture() {
    let dir = fixtures().join("node-exporter");
    restore_empty_dirs(&dir, &dir.join("empty-dirs.txt")).unwrap();
    let host = Fixture::new()
        .root(Root::Proc, dir.join("proc"))
        .root(Root::Sys, dir.join("sys"))
        .root(Root::Rootfs, &dir)
        .host();
    // node_exporter's e2e flags: --collector.stat.softirq, --collector.{cgroups,sysctl},
    // the --collector.sysctl.include{,-info} flags, --no-collector.{uname,timex,selinux}.
    let ours = collect_text::<System>(&host, E2E_CONFIG).unwrap();
    // Its e2e script drops the samples (not HELP and TYPE) of node_time_seconds and
    // node_time_zone_offset_seconds; so do we.
    let ours: String = ours
        .lines()
        .filter(|l| !l.starts_with("node_time_seconds ") && !l.starts_with("node_time_zone"))
        .map(|l| format!("{l}\n"))
        .collect();
    let theirs = std::fs::read_to_string(dir.join("e2e-output.txt")).unwrap();
    assert_eq!(diff_families(&ours, &theirs), Vec::<String>::new());
    let families: Vec<&str> = ours
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .collect();
    assert_eq!(
        families,
        [
            "node_boot_time_seconds gauge",
            "node_cgroups_cgroups gauge",
            "node_cgroups_enabled gauge",
            "node_context_switches_total counter",
            "node_entropy_available_bits gauge",
            "node_entropy_pool_size_bits gauge",
            "node_filefd_allocated gauge",
            "node_filefd_maximum gauge",
            "node_forks_total counter",
            "node_intr_total counter",
            "node_kernel_hung_tasks_total counter",
            "node_os_info gauge",
            "node_os_version gauge",
            "node_procs_blocked gauge",
            "node_procs_running gauge",
            "node_softirqs_total counter",
            "node_sysctl_fs_file_nr untyped",
            "node_sysctl_fs_file_nr_current untyped",
            "node_sysctl_fs_file_nr_max untyped",
            "node_sysctl_fs_file_nr_total untyped",
            "node_sysctl_info gauge",
            "node_sysctl_kernel_threads_max untyped",
            "node_time_clocksource_available_info gauge",
            "node_time_clocksource_current_info gauge",
            "node_time_seconds gauge",
            "node_time_zone_offset_seconds gauge",
        ]
    );
    for family in families {
        assert!(theirs.contains(&format!("# TYPE {family}\n")), "{family}");
        let name = family.split(' ').next().unwrap();
        if !name.starts_with("node_time_") {
            assert_eq!(
                family_lines(&ours, name).len(),
                family_lines(&theirs, name).len(),
                "{name}"
            );
        }
    }
    assert!(host.logged().is_empty(), "{:?}", host.logged());
}

#[test]
fn exact_output_on_a_live_capture() {
    let dir = fixtures().join("live-debian12");
    let host = Fixture::new()
        .root(Root::Proc, dir.join("proc"))
        .root(Root::Sys, dir.join("sys"))
        .root(Root::Rootfs, &dir)
        .host();
    let text = collect_text::<System>(&host, FILES_ONLY).unwrap();
    let expected = "\
node_boot_time_seconds 1.795671691e+09
node_context_switches_total 331139
node_entropy_available_bits 256
node_entropy_pool_size_bits 256
node_filefd_allocated 544
node_filefd_maximum 2.46617e+06
node_forks_total 7276
node_intr_total 205614
node_os_info{build_id=\"\",id=\"debian\",id_like=\"\",image_id=\"\",image_version=\"\",name=\"Debian GNU/Linux\",pretty_name=\"Debian GNU/Linux 12 (bookworm)\",variant=\"\",variant_id=\"\",version=\"12 (bookworm)\",version_codename=\"bookworm\",version_id=\"12\"} 1
node_os_version{id=\"debian\",id_like=\"\",name=\"Debian GNU/Linux\"} 12
node_procs_blocked 0
node_procs_running 1
";
    assert_eq!(sample_lines(&text).join("\n") + "\n", expected);
    assert!(host.logged().is_empty());
}

#[test]
fn uname_time_and_timex_from_the_host() {
    let host = Fixture::new()
        .root(Root::Sys, fixtures().join("live-debian12/sys"))
        .uname(Uname {
            sysname: "Linux".into(),
            nodename: "host1".into(),
            release: "6.1.0-18-amd64".into(),
            version: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)".into(),
            machine: "x86_64".into(),
            domainname: "(none)".into(),
        })
        .clock(Clock {
            unix_seconds: 1_700_000_000.1234567,
            zone_name: "CET".into(),
            zone_offset_seconds: 3600,
        })
        .timex(Timex {
            state: 0,
            offset: -12_345,
            freq: -1_161_975,
            maxerror: 16_000,
            esterror: 1_500,
            status: 0x2001,
            constant: 7,
            precision: 1,
            tolerance: 32_768_000,
            tick: 10_000,
            ppsfreq: 65_536,
            jitter: 250,
            shift: 4,
            stabil: 131_072,
            jitcnt: 1,
            calcnt: 2,
            errcnt: 3,
            stbcnt: 4,
            tai: 37,
            nano: true,
        })
        .host();
    let config = r#"{"kernel_hung": false, "selinux": false, "stat": false, "os": false, "filefd": false, "entropy": false}"#;
    let text = collect_text::<System>(&host, config).unwrap();
    let expected = "\
node_time_clocksource_available_info{clocksource=\"kvm-clock\",device=\"0\"} 1
node_time_clocksource_available_info{clocksource=\"tsc\",device=\"0\"} 1
node_time_clocksource_current_info{clocksource=\"tsc\",device=\"0\"} 1
node_time_seconds 1.7000000001234567e+09
node_time_zone_offset_seconds{time_zone=\"CET\"} 3600
node_timex_estimated_error_seconds 0.0015
node_timex_frequency_adjustment_ratio 0.9999822696685791
node_timex_loop_time_constant 7
node_timex_maxerror_seconds 0.016
node_timex_offset_seconds -1.2345e-05
node_timex_pps_calibration_total 2
node_timex_pps_error_total 3
node_timex_pps_frequency_hertz 1e-06
node_timex_pps_jitter_seconds 2.5e-07
node_timex_pps_jitter_total 1
node_timex_pps_shift_seconds 4
node_timex_pps_stability_exceeded_total 4
node_timex_pps_stability_hertz 2e-06
node_timex_status 8193
node_timex_sync_status 1
node_timex_tai_offset_seconds 37
node_timex_tick_seconds 0.01
node_uname_info{domainname=\"(none)\",machine=\"x86_64\",nodename=\"host1\",release=\"6.1.0-18-amd64\",sysname=\"Linux\",version=\"#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)\"} 1
";
    assert_eq!(sample_lines(&text).join("\n") + "\n", expected);
    for line in [
        "# HELP node_timex_pps_jitter_total Pulse per second count of jitter limit exceeded events.",
        "# TYPE node_timex_pps_jitter_total counter",
        "# HELP node_uname_info Labeled system information as provided by the uname system call.",
        "# TYPE node_uname_info gauge",
        "# HELP node_time_zone_offset_seconds System time zone offset in seconds.",
    ] {
        assert!(text.lines().any(|l| l == line), "{line}");
    }
}

#[test]
fn timex_in_microseconds_and_unsynchronized() {
    let host = Fixture::new()
        .timex(Timex {
            state: 5,
            offset: -12_345,
            jitter: 250,
            status: 0x40,
            ..Timex::default()
        })
        .host();
    let config = r#"{"kernel_hung": false, "selinux": false, "stat": false, "os": false, "filefd": false, "entropy": false, "uname": false, "time": false}"#;
    let text = collect_text::<System>(&host, config).unwrap();
    for line in [
        "node_timex_sync_status 0",
        "node_timex_offset_seconds -0.012345",
        "node_timex_pps_jitter_seconds 0.00025",
        "node_timex_frequency_adjustment_ratio 1",
        "node_timex_status 64",
    ] {
        assert!(sample_lines(&text).contains(&line), "{line}");
    }
    // Without the timex capability there is nothing to report, and no error.
    let host = Fixture::new().host();
    assert_eq!(collect_text::<System>(&host, config).unwrap(), "");
    assert_eq!(host.logged()[0].0, Level::Debug);
}

/// A scratch tree with the given files and symlinks (`-> target`).
fn scratch(name: &str, files: &[(&str, &str)]) -> Tree {
    let tree = Tree::new(&format!("system-{name}"));
    for (path, content) in files {
        match content.strip_prefix("-> ") {
            Some(target) => tree.link(path, target),
            None => tree.file(path, content),
        };
    }
    tree
}

/// Runs only the os part, on `tree` as the rootfs.
fn collect_rootfs(tree: &Tree) -> Result<String, sonde_sdk::Error> {
    let host = Fixture::new().root(Root::Rootfs, tree.path()).host();
    let config = r#"{"kernel_hung": false, "selinux": false, "stat": false, "uname": false, "time": false, "timex": false, "filefd": false, "entropy": false}"#;
    collect_text::<System>(&host, config)
}

#[test]
fn os_release_support_end_and_fallbacks() {
    let tree = scratch(
        "os",
        &[
            (
                "etc/os-release",
                "NAME=Fedora\nID=fedora\nVERSION_ID=41\nSUPPORT_END=2025-12-15\n",
            ),
            ("usr/lib/os-release", "ID=ignored\n"),
        ],
    );
    let text = collect_rootfs(&tree).unwrap();
    assert!(text.contains(
        "# HELP node_os_support_end_timestamp_seconds Metric containing the end-of-life date \
         timestamp of the OS.\n# TYPE node_os_support_end_timestamp_seconds gauge\n\
         node_os_support_end_timestamp_seconds 1.7657568e+09\n"
    ));
    assert!(text.contains("node_os_version{id=\"fedora\",id_like=\"\",name=\"Fedora\"} 41\n"));

    // An absolute symlink cannot be followed inside the rootfs: usr/lib/os-release is read.
    let tree = scratch(
        "os-link",
        &[
            ("etc/os-release", "-> /usr/lib/os-release"),
            ("usr/lib/os-release", "ID=arch\nVERSION_ID=rolling\n"),
        ],
    );
    let text = collect_rootfs(&tree).unwrap();
    assert!(text.contains("id=\"arch\""));
    assert!(!text.contains("node_os_version"), "no number in VERSION_ID");

    // No os-release at all: nothing, no error.
    let tree = scratch("os-none", &[]);
    assert_eq!(collect_rootfs(&tree).unwrap(), "");

    let tree = scratch("os-bad", &[("etc/os-release", "ID=x\nSUPPORT_END=soon\n")]);
    let err = collect_rootfs(&tree).unwrap_err().to_string();
    assert_eq!(
        err,
        "os: reading /etc/os-release: SUPPORT_END \"soon\" is not a YYYY-MM-DD date"
    );
    let tree = scratch("os-syntax", &[("etc/os-release", "ID=\"x\n")]);
    let err = collect_rootfs(&tree).unwrap_err().to_string();
    assert_eq!(
        err,
        "os: reading /etc/os-release: error on line 1: unmatched \""
    );
}

#[test]
fn stat_softirq_and_partial_failures() {
    let tree = scratch(
        "stat",
        &[
            ("stat", "intr 5 1 2\nctxt 9\nsoftirq 10 1 2 3\n"),
            ("sys/fs/file-nr", "7 0 100\n"),
            ("sys/kernel/random/entropy_avail", "256\n"),
        ],
    );
    let host = Fixture::new().root(Root::Proc, tree.path()).host();
    let text = collect_text::<System>(&host, PROC_ONLY).unwrap();
    // Without softirq the stat part works; file-nr without tabs fails alone; no poolsize file.
    assert!(sample_lines(&text).contains(&"node_intr_total 5"));
    // No `processes` line: no sample (it once read as 0).
    assert!(!text.contains("node_forks_total"));
    assert!(sample_lines(&text).contains(&"node_entropy_available_bits 256"));
    assert!(!text.contains("node_entropy_pool_size_bits"));
    assert!(!text.contains("node_filefd"));
    let logged = host.logged();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0]
            .1
            .starts_with("filefd: file-nr: expected 3 tab-separated numbers")
    );

    let host = Fixture::new().root(Root::Proc, tree.path()).host();
    let config = r#"{"kernel_hung": false, "selinux": false, "softirq": true, "uname": false, "os": false, "time": false, "timex": false, "filefd": false}"#;
    let text = collect_text::<System>(&host, config).unwrap();
    assert!(
        text.contains("node_intr_total 5"),
        "metrics before the error are kept"
    );
    assert!(!text.contains("node_softirqs_total"));
    assert_eq!(
        host.logged()[0].1,
        "stat: /proc/stat: softirq line has 4 numbers, expected 11"
    );

    // A /proc/stat without a softirq line reports zeros, as node_exporter does.
    let tree = scratch("stat-nosoftirq", &[("stat", "ctxt 9\n")]);
    let host = Fixture::new().root(Root::Proc, tree.path()).host();
    let config = r#"{"kernel_hung": false, "selinux": false, "softirq": true, "uname": false, "os": false, "time": false, "timex": false}"#;
    let text = collect_text::<System>(&host, config).unwrap();
    assert!(text.contains("node_softirqs_total{vector=\"rcu\"} 0\n"));
}

/// The stat part's samples and log lines for a `/proc/stat` of `text`.
fn collect_stat(name: &str, text: &str) -> (String, Vec<(Level, String)>) {
    let tree = scratch(name, &[("stat", text)]);
    let host = Fixture::new().root(Root::Proc, tree.path()).host();
    let config = r#"{"kernel_hung": false, "selinux": false, "uname": false, "os": false, "time": false, "timex": false, "filefd": false, "entropy": false}"#;
    let text = collect_text::<System>(&host, config).unwrap();
    (sample_lines(&text).join("\n"), host.logged())
}

#[test]
fn missing_stat_lines_are_no_samples_not_zeros() {
    let live = std::fs::read_to_string(fixtures().join("live-debian12/proc/stat")).unwrap();
    let without = |key: &str| -> String {
        live.lines()
            .filter(|l| !l.starts_with(&format!("{key} ")))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let (samples, logged) = collect_stat("stat-no-btime", &without("btime"));
    assert!(!samples.contains("node_boot_time_seconds"), "{samples}");
    assert!(samples.contains("node_context_switches_total 331139"));
    assert_eq!(logged, []);
    let (samples, logged) = collect_stat("stat-no-ctxt", &without("ctxt"));
    assert!(
        !samples.contains("node_context_switches_total"),
        "{samples}"
    );
    assert!(samples.contains("node_boot_time_seconds 1.795671691e+09"));
    assert_eq!(logged, []);
}

#[test]
fn a_malformed_stat_line_fails_the_part_and_keeps_the_others() {
    let live = std::fs::read_to_string(fixtures().join("live-debian12/proc/stat")).unwrap();
    let (number, _) = live
        .lines()
        .enumerate()
        .find(|(_, l)| l.starts_with("ctxt "))
        .unwrap();
    let broken = live.replace("ctxt 331139", "ctxt 33x139");
    let (samples, logged) = collect_stat("stat-bad-ctxt", &broken);
    assert_eq!(
        samples,
        "node_boot_time_seconds 1.795671691e+09\nnode_forks_total 7276\n\
         node_intr_total 205614\nnode_procs_blocked 0\nnode_procs_running 1"
    );
    assert_eq!(
        logged,
        [(
            Level::Warn,
            format!(
                "stat: /proc/stat: 1 malformed line skipped: line {}: invalid digit found in \
                 string in line \"ctxt 33x139\"",
                number + 1
            )
        )]
    );
    // A softirq line that does not parse gives no node_softirqs_total (not zeros).
    let tree = scratch("stat-bad-softirq", &[("stat", "ctxt 9\nsoftirq 1 2 x\n")]);
    let host = Fixture::new().root(Root::Proc, tree.path()).host();
    let config = r#"{"kernel_hung": false, "selinux": false, "softirq": true, "uname": false, "os": false, "time": false, "timex": false, "filefd": false, "entropy": false}"#;
    let text = collect_text::<System>(&host, config).unwrap();
    assert_eq!(sample_lines(&text), ["node_context_switches_total 9"]);
    assert_eq!(host.logged().len(), 1);
}

#[test]
fn clocksource_without_its_files_is_an_error() {
    let tree = scratch(
        "clocksource",
        &[("devices/system/clocksource/clocksource0/x", "")],
    );
    let host = Fixture::new().root(Root::Sys, tree.path()).host();
    let config = r#"{"kernel_hung": false, "selinux": false, "stat": false, "uname": false, "os": false, "timex": false, "filefd": false, "entropy": false}"#;
    let text = collect_text::<System>(&host, config).unwrap();
    assert!(
        text.contains("node_time_seconds 0\n"),
        "the clock is still reported"
    );
    assert_eq!(
        host.logged()[0].1,
        "time: couldn't get clocksources: /sys/devices/system/clocksource/clocksource0/available_clocksource: not found"
    );
}
