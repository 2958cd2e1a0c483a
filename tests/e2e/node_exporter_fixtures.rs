//! `sonde collect --once` over node_exporter's own end-to-end fixture trees, with the options of
//! node_exporter's e2e run, compared series by series with its expected output
//! (`tests/fixtures/node-exporter/e2e-output.txt`) for the collectors sonde's built-ins replace:
//! every series with its value, every family's HELP and TYPE, and no series node_exporter does
//! not have (but those listed with a reason).

use crate::support::{fixtures, metric_name, parse_exposition};
use regex::Regex;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// node_exporter's collectors in its e2e run, each with the families it prints: the first
/// pattern that matches a family's name names its collector.
const COLLECTORS: &[(&str, &str)] = &[
    ("cpu_vulnerabilities", "^node_cpu_vulnerabilities_"),
    (
        "cpufreq",
        "^node_cpu_(frequency|scaling_frequency|scaling_governor)",
    ),
    ("cpu", "^node_cpu_"),
    ("loadavg", "^node_load(1|5|15)$"),
    ("pressure", "^node_pressure_"),
    ("meminfo_numa", "^node_memory_numa_"),
    ("meminfo", "^node_memory_"),
    ("vmstat", "^node_vmstat_"),
    ("diskstats", "^node_disk_"),
    ("filesystem", "^node_filesystem_"),
    ("netdev", "^node_network_(receive|transmit)_.*_total$"),
    ("netclass", "^node_network_"),
    ("netstat", "^node_netstat_"),
    ("sockstat", "^node_sockstat_"),
    ("softnet", "^node_softnet_"),
    ("arp", "^node_arp_"),
    ("conntrack", "^node_nf_conntrack_"),
    ("udp_queues", "^node_udp_queues$"),
    ("processes", "^node_processes_"),
    ("softirqs", "^node_softirqs_functions_total$"),
    (
        "stat",
        "^node_(intr_total|context_switches_total|forks_total|boot_time_seconds|procs_|softirqs_total)",
    ),
    ("interrupts", "^node_interrupts_"),
    ("uname", "^node_uname_"),
    ("os", "^node_os_"),
    ("time", "^node_time_"),
    ("timex", "^node_timex_"),
    ("filefd", "^node_filefd_"),
    ("entropy", "^node_entropy_"),
    ("textfile", "^(node_textfile_|testmetric)"),
    ("bcachefs", "^node_bcachefs_"),
    ("bcache", "^node_bcache_"),
    ("bonding", "^node_bonding_"),
    ("btrfs", "^node_btrfs_"),
    ("buddyinfo", "^node_buddyinfo_"),
    ("cgroups", "^node_cgroups_"),
    ("dmi", "^node_dmi_"),
    ("dmmultipath", "^node_dmmultipath_"),
    ("drbd", "^node_drbd_"),
    ("edac", "^node_edac_"),
    ("fibrechannel", "^node_fibrechannel_"),
    ("hwmon", "^node_hwmon_"),
    ("infiniband", "^node_infiniband_"),
    ("ipvs", "^node_ipvs_"),
    ("kernel_hung", "^node_kernel_hung_"),
    ("ksmd", "^node_ksmd_"),
    ("lnstat", "^node_lnstat_"),
    ("mdadm", "^node_md_"),
    ("mountstats", "^node_mountstats_"),
    ("nfsd", "^node_nfsd_"),
    ("nfs", "^node_nfs_"),
    ("nvme", "^node_nvme_"),
    ("pcidevice", "^node_pcidevice_"),
    ("powersupplyclass", "^node_power_supply_"),
    ("rapl", "^node_rapl_"),
    ("schedstat", "^node_schedstat_"),
    ("selinux", "^node_selinux_"),
    ("slabinfo", "^node_slabinfo_"),
    ("sysctl", "^node_sysctl_"),
    ("tapestats", "^node_tape_"),
    ("thermal_zone", "^node_(thermal_zone_|cooling_device_)"),
    ("watchdog", "^node_watchdog_"),
    ("xfrm", "^node_xfrm_"),
    ("xfs", "^node_xfs_"),
    ("zfs", "^node_zfs_"),
    ("zoneinfo", "^node_zoneinfo_"),
    ("scrape", "^node_scrape_collector_"),
];

/// Families of e2e-output.txt that are not sonde's to reproduce, with why.
const NOT_COMPARED: &[(&str, &str)] = &[
    (
        "^(go_|process_|promhttp_|node_exporter_build_info$)",
        "node_exporter's own Go runtime, process and HTTP handler (sonde reports its own as sonde_* and process_*)",
    ),
    (
        "^node_qdisc_",
        "qdisc asks the kernel over netlink (the e2e run feeds it a JSON file of netlink answers)",
    ),
    (
        "^node_wifi_",
        "wifi asks the kernel over nl80211 netlink (the e2e run feeds it JSON fixtures)",
    ),
];

/// Series of e2e-output.txt that sonde gives otherwise, each with why: only node_exporter's own
/// e2e machine (or netlink) could give them, or node_exporter prints its command line.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "node_scrape_collector_success{collector=\"qdisc\"}",
        "qdisc asks the kernel over netlink: not a sonde collector",
    ),
    (
        "node_scrape_collector_success{collector=\"wifi\"}",
        "wifi asks the kernel over nl80211 netlink: not a sonde collector",
    ),
    (
        "node_network_receive_nohandler_total{device=\"lo\"}",
        "node_exporter 1.12 reads netdev counters over netlink, and `rx_nohandler` of the e2e machine's `lo` has no `/proc/net/dev` column (sonde reads it from sysfs, which the fixture tree lacks for `lo`)",
    ),
];

/// Label values sonde prints otherwise, rewritten to node_exporter's before comparing, each
/// with why: (what sonde prints, what node_exporter's e2e run printed, why).
const REWRITTEN: &[(&str, &str, &str)] = &[(
    "path=\"/sys/class/powercap/",
    "path=\"collector/fixtures/sys/class/powercap/",
    "rapl's `path` label: node_exporter prefixes the `--path.sysfs` it was given (its e2e run gives a relative one); sonde's plugins see the sysfs root, not where it is mounted, and print the kernel's path",
)];

/// The share of node_exporter's series each collector must reproduce with equal values.
const REQUIRED_SHARE: f64 = 0.98;

/// Copies `from` (a file or directory tree) to `to`.
fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

/// One `sonde collect --once` over the fixture tree with the options of node_exporter's e2e run
/// (every collector it enables, on), shared by the tests below.
struct FixtureRun {
    /// What sonde printed.
    stdout: String,
    /// node_exporter's expected output, e2e-output.txt.
    expected: String,
}

fn fixture_run() -> &'static FixtureRun {
    static RUN: std::sync::OnceLock<FixtureRun> = std::sync::OnceLock::new();
    RUN.get_or_init(run_on_the_fixture_tree)
}

fn run_on_the_fixture_tree() -> FixtureRun {
    crate::old_kernel::act_as_old_kernel_if_asked();
    let tree = fixtures().join("node-exporter");
    sonde_sdk::testing::restore_empty_dirs(&tree, &tree.join("empty-dirs.txt")).unwrap();
    // node_exporter's run used paths relative to its repository (`collector/fixtures/...`),
    // which show up in textfile HELP texts: lay out a rootfs the same way.
    let rootfs = tempfile::tempdir().unwrap();
    let fixtures_dir = rootfs.path().join("collector/fixtures");
    copy(
        &tree.join("textfile/two_metric_files"),
        &fixtures_dir.join("textfile/two_metric_files"),
    );
    copy(&tree.join("udev"), &fixtures_dir.join("udev"));
    copy(&tree.join("usr"), &rootfs.path().join("usr"));
    // node_exporter's e2e run read netdev counters over netlink from its machine's `lo`; upstream's
    // earlier `/proc/net/dev` fixture (whose `lo` line has the same zeros) stands in for that.
    let proc = rootfs.path().join("proc");
    copy(&tree.join("proc"), &proc);
    copy(
        &fixtures().join("node-exporter-netdev/proc/net/dev"),
        &proc.join("net/dev"),
    );
    let config = rootfs.path().join("sonde.toml");
    std::fs::write(
        &config,
        format!(
            r#"{global}
[paths]
procfs = {proc:?}
sysfs = {sys:?}
rootfs = {rootfs:?}

[plugins.cpu]
config = {{ info = true, flags_include = "^(aes|avx.?|constant_tsc)$", bugs_include = "^(cpu_meltdown|spectre_.*|mds)$", cpu_vulnerabilities = {{ enabled = true }}, interrupts = {{ enabled = true }}, softirqs = {{ enabled = true }} }}

[plugins.disk]
config = {{ filesystem = false, udev_data_path = "/collector/fixtures/udev/data", bcache = {{ priority_stats = true }} }}

[plugins.net]
config = {{ netdev = {{ device_include = "lo" }}, netclass = {{ ignored_devices = "(dmz|int)", ignore_invalid_speed = true }}, arp = {{ device_exclude = "nope" }}, xfrm = {{ enabled = true }}, lnstat = {{ enabled = true }} }}

[plugins.hardware]
config = {{ hwmon = {{ chip_include = "(applesmc|asus_nb_wmi|coretemp|hwmon4|ieee80211|nct6779)" }}, pcidevice = {{ enabled = true }} }}

[plugins.nfs]
config = {{ mountstats = {{ enabled = true }} }}

[plugins.storage]
config = {{ drbd = {{ enabled = true }} }}

[plugins.mem]
config = {{ meminfo_numa = {{ enabled = true }}, buddyinfo = {{ enabled = true }}, zoneinfo = {{ enabled = true }}, ksmd = {{ enabled = true }}, slabinfo = {{ enabled = true }} }}

[plugins.system]
config = {{ softirq = true, uname = false, timex = false, selinux = false, cgroups = {{ enabled = true }}, sysctl = {{ enabled = true, include = ["fs.file-nr", "fs.file-nr:total,current,max", "kernel.threads-max"], include_info = ["kernel.seccomp.actions_avail"] }} }}

[plugins.textfile]
config = {{ directory = "collector/fixtures/textfile/two_metric_files/" }}
"#,
            // An old kernel compiles the plugins afresh: wasmtime takes its fallbacks there too.
            global = match crate::old_kernel::acting_as_old_kernel() {
                true => format!("[global]\ncache_dir = {:?}\n", rootfs.path().join("cache")),
                false => String::new(),
            },
            proc = proc,
            sys = tree.join("sys"),
            rootfs = rootfs.path(),
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sonde"))
        .args(["collect", "--once", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let expected = std::fs::read_to_string(tree.join("e2e-output.txt")).unwrap();
    let ours = parse_exposition(&stdout);
    // node_exporter's e2e output leaves out the samples of node_textfile_mtime_seconds (they
    // depend on the checkout); ours come through the host's `modified` call, in whole seconds.
    for file in ["metrics1.prom", "metrics2.prom"] {
        let path = format!("collector/fixtures/textfile/two_metric_files/{file}");
        let modified = std::fs::metadata(rootfs.path().join(&path))
            .and_then(|m| m.modified())
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as f64;
        let series = format!("node_textfile_mtime_seconds{{file={path:?}}}");
        assert_eq!(ours.get(&series), Some(&modified), "{series}");
    }

    FixtureRun { stdout, expected }
}

#[test]
fn every_series_of_node_exporters_e2e_output_matches_with_its_help_and_type() {
    let FixtureRun { stdout, expected } = fixture_run();
    let ours: BTreeMap<String, f64> = parse_exposition(stdout)
        .into_iter()
        .map(|(series, value)| {
            let rewritten = REWRITTEN
                .iter()
                .fold(series, |series, (from, to, _)| series.replace(from, to));
            (rewritten, value)
        })
        .collect();
    let theirs = parse_exposition(expected);
    let collectors: Vec<(&str, Regex)> = COLLECTORS
        .iter()
        .map(|(name, pattern)| (*name, Regex::new(pattern).unwrap()))
        .collect();
    let not_compared: Vec<Regex> = NOT_COMPARED
        .iter()
        .map(|(pattern, _)| Regex::new(pattern).unwrap())
        .collect();
    let collector_of = |family: &str| -> Option<&str> {
        if not_compared.iter().any(|p| p.is_match(family)) {
            return None;
        }
        let found = collectors.iter().find(|(_, p)| p.is_match(family));
        Some(
            found
                .unwrap_or_else(|| panic!("{family}: no collector in COLLECTORS"))
                .0,
        )
    };
    let (our_meta, their_meta) = (parse_help_and_type(stdout), parse_help_and_type(expected));

    // Per collector: its families and series, and what differs.
    #[derive(Default)]
    struct Figures {
        families: usize,
        families_equal: usize,
        series: usize,
        series_equal: usize,
        /// Series in KNOWN_DIFFERENCES.
        known: usize,
        problems: Vec<String>,
    }
    let mut per_collector: BTreeMap<&str, Figures> = BTreeMap::new();
    let mut problems_by_family: BTreeMap<&str, usize> = BTreeMap::new();
    for (series, value) in &theirs {
        let family = metric_name(series);
        let Some(collector) = collector_of(family) else {
            continue;
        };
        let figures = per_collector.entry(collector).or_default();
        figures.series += 1;
        let ours = ours.get(series);
        if ours.is_some_and(|v| v == value || (v.is_nan() && value.is_nan())) {
            figures.series_equal += 1;
            continue;
        }
        *problems_by_family.entry(family).or_default() += 1;
        if KNOWN_DIFFERENCES.iter().any(|(s, _)| s == series) {
            figures.known += 1;
            continue;
        }
        figures.problems.push(match ours {
            Some(v) => format!("{series}: {v} != {value}"),
            None => format!("{series}: missing"),
        });
    }
    for (family, theirs) in &their_meta {
        let Some(collector) = collector_of(family) else {
            continue;
        };
        let figures = per_collector.entry(collector).or_default();
        figures.families += 1;
        let metadata_equal = our_meta.get(family) == Some(theirs);
        // A family all of whose series are known differences may be missing altogether.
        let only_known = !our_meta.contains_key(family)
            && KNOWN_DIFFERENCES
                .iter()
                .any(|(series, _)| metric_name(series) == family);
        if !metadata_equal && !only_known {
            figures.problems.push(format!(
                "{family}: HELP and TYPE {:?} != {theirs:?}",
                our_meta.get(family)
            ));
        }
        if metadata_equal && !problems_by_family.contains_key(family.as_str()) {
            figures.families_equal += 1;
        }
    }
    // Series of compared families that node_exporter's output lacks are differences too.
    for series in ours.keys() {
        let family = metric_name(series);
        if !their_meta.contains_key(family) {
            continue; // sonde's own (sonde_*), or a collector node_exporter's run leaves off
        }
        let Some(collector) = collector_of(family) else {
            continue;
        };
        if !theirs.contains_key(series)
            && !EXTRA_ALLOWED
                .iter()
                .any(|(prefix, _)| series.starts_with(prefix))
        {
            (per_collector.entry(collector).or_default().problems)
                .push(format!("{series}: not in node_exporter's output"));
        }
    }

    // The figures, per collector and in all (against every family and series of the file).
    let all_families = their_meta.len();
    let all_series = theirs.len();
    let (mut families_equal, mut series_equal) = (0, 0);
    println!("| collector | families equal | series equal |\n|---|---|---|");
    for (collector, f) in &per_collector {
        families_equal += f.families_equal;
        series_equal += f.series_equal;
        println!(
            "| {collector} | {}/{} | {}/{} |",
            f.families_equal, f.families, f.series_equal, f.series
        );
    }
    println!(
        "node_exporter e2e fixtures: {families_equal}/{all_families} families and {series_equal}/{all_series} series equal"
    );
    // The README quotes these figures.
    assert_eq!(
        (all_families, all_series),
        (1228, 3027),
        "e2e-output.txt changed; update the README"
    );

    let mut failures = Vec::new();
    for (collector, f) in &per_collector {
        // Of the series sonde can give: the known differences are listed with their reasons.
        let share = f.series_equal as f64 / (f.series - f.known).max(1) as f64;
        if share < REQUIRED_SHARE && f.series > 0 {
            failures.push(format!(
                "{collector}: {}/{} series equal ({} known differences), below {REQUIRED_SHARE}",
                f.series_equal, f.series, f.known
            ));
        }
        failures.extend(f.problems.iter().map(|p| format!("{collector}: {p}")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The metrics node_exporter's node-mixin (`docs/node-mixin` at node_exporter commit a7dcc3a0)
/// alerts and recording rules read that collectors reading files provide, with the series an
/// alert selects where it selects one.
const MIXIN_METRICS: &[&str] = &[
    "node_bonding_active",
    "node_bonding_slaves",
    "node_cpu_seconds_total",
    "node_disk_io_time_seconds_total",
    "node_disk_io_time_weighted_seconds_total",
    "node_filefd_allocated",
    "node_filefd_maximum",
    "node_load1",
    "node_md_disks",
    "node_md_disks{device=\"md0\",state=\"active\"}",
    "node_md_disks{device=\"md0\",state=\"failed\"}",
    "node_md_disks_required",
    "node_memory_Buffers_bytes",
    "node_memory_Cached_bytes",
    "node_memory_MemFree_bytes",
    "node_memory_MemTotal_bytes",
    "node_memory_Slab_bytes",
    "node_network_receive_bytes_total",
    "node_network_receive_drop_total",
    "node_network_receive_errs_total",
    "node_network_receive_packets_total",
    "node_network_transmit_bytes_total",
    "node_network_transmit_drop_total",
    "node_network_transmit_errs_total",
    "node_network_transmit_packets_total",
    "node_nf_conntrack_entries",
    "node_nf_conntrack_entries_limit",
    "node_textfile_scrape_error",
    "node_vmstat_pgmajfault",
    // Not in the mixin's alerts at that commit, but the hardware alert operators write on it.
    "node_hwmon_temp_celsius",
];

/// The mixin's other inputs, and why the fixture tree has none: they do not come from files.
const MIXIN_METRICS_ELSEWHERE: &[(&str, &str)] = &[
    (
        "node_filesystem_*",
        "statfs(2) of mount points (off in the e2e run; tests/e2e/live_node_exporter.rs compares them on this host)",
    ),
    (
        "node_timex_*",
        "adjtimex(2) (off in the e2e run; the system plugin's tests give canned answers)",
    ),
    ("node_systemd_*", "systemd over D-Bus (issue 28)"),
    (
        "node_memory_MemAvailable_bytes",
        "the fixture's /proc/meminfo comes from a kernel before 3.14, without MemAvailable (tests/e2e/live_node_exporter.rs compares it on this host)",
    ),
];

#[test]
fn the_node_mixin_alerts_and_rules_find_their_metrics() {
    let ours = parse_exposition(&fixture_run().stdout);
    let missing: Vec<&str> = MIXIN_METRICS
        .iter()
        .copied()
        .filter(|wanted| match wanted.contains('{') {
            true => !ours.contains_key(*wanted),
            false => !ours.keys().any(|series| metric_name(series) == *wanted),
        })
        .collect();
    assert!(missing.is_empty(), "missing: {missing:?}");
    assert_eq!(MIXIN_METRICS_ELSEWHERE.len(), 4);
}

#[test]
fn every_collector_reads_within_its_plugins_default_grants() {
    // Every collector runs on the fixture tree (the e2e run's optional ones too), each plugin
    // with the grants it gets by default (`DEFAULT_GRANTS`): none of its reads is refused.
    let ours = parse_exposition(&fixture_run().stdout);
    let refused: Vec<(&String, &f64)> = ours
        .iter()
        .filter(|(series, _)| metric_name(series) == "sonde_plugin_refused_host_calls_total")
        .collect();
    // The built-ins that are off by default (systemd, which reads no file) do not run here.
    let running = sonde::wasm::builtin::builtin_names()
        .filter(|n| !sonde::wasm::builtin::disabled_by_default(n))
        .count();
    assert_eq!(refused.len(), running);
    assert!(refused.iter().all(|(_, n)| **n == 0.0), "{refused:?}");
}

/// "Node Exporter Full" (tests/fixtures/node-exporter/dashboard-node-exporter-full.json): the
/// metric names its queries use, listed by `dashboard_coverage.py --list-only`.
fn dashboard_metric_names() -> Vec<String> {
    let dir = fixtures().join("node-exporter");
    let out = Command::new("python3")
        .arg(dir.join("dashboard_coverage.py"))
        .arg("--list-only")
        .arg(dir.join("dashboard-node-exporter-full.json"))
        .output()
        .expect("python3 runs dashboard_coverage.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .filter(|l| !l.starts_with("dashboard metrics:") && !l.is_empty())
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect()
}

#[test]
fn node_exporter_full_finds_at_least_as_many_metrics_as_on_node_exporter() {
    let FixtureRun { stdout, expected } = fixture_run();
    let names = dashboard_metric_names();
    assert_eq!(names.len(), 229);
    let present = |text: &str| {
        let series = parse_exposition(text);
        let have: std::collections::BTreeSet<&str> =
            series.keys().map(|s| metric_name(s)).collect();
        names.iter().filter(|n| have.contains(n.as_str())).count()
    };
    let (ours, theirs) = (present(stdout), present(expected));
    println!(
        "Node Exporter Full: sonde {ours}/229, node_exporter {theirs}/229 metric names present"
    );
    assert!(ours >= theirs, "sonde {ours} < node_exporter {theirs}");
}

/// Series sonde adds to families node_exporter also has, with why node_exporter's e2e output
/// lacks them.
const EXTRA_ALLOWED: &[(&str, &str)] = &[
    (
        "node_scrape_collector_duration_seconds{",
        "node_exporter's e2e output leaves the samples out (they change every run)",
    ),
    (
        "node_textfile_mtime_seconds{",
        "node_exporter's e2e output leaves the samples out (they depend on the checkout); ours are checked above",
    ),
    (
        "node_time_seconds",
        "the clock: the e2e output keeps HELP and TYPE, not the sample, which changes every run",
    ),
    (
        "node_time_zone_offset_seconds{",
        "as node_time_seconds: the e2e output has no sample for the zone of its machine",
    ),
    (
        "node_network_receive_bytes_total{device=\"lo\"}",
        "node_exporter's e2e run read lo over netlink and drops its byte and packet samples, which change every run",
    ),
    (
        "node_network_receive_packets_total{device=\"lo\"}",
        "as node_network_receive_bytes_total{device=\"lo\"}",
    ),
    (
        "node_network_transmit_bytes_total{device=\"lo\"}",
        "as node_network_receive_bytes_total{device=\"lo\"}",
    ),
    (
        "node_network_transmit_packets_total{device=\"lo\"}",
        "as node_network_receive_bytes_total{device=\"lo\"}",
    ),
];

/// `# HELP` and `# TYPE` of each family of an exposition text: name → (help, type).
fn parse_help_and_type(text: &str) -> BTreeMap<String, (String, String)> {
    let mut families: BTreeMap<String, (String, String)> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            families.entry(name.to_owned()).or_default().0 = help.to_owned();
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            families.entry(name.to_owned()).or_default().1 = kind.to_owned();
        }
    }
    families
}
