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

/// The families of the node_exporter collectors sonde's built-ins replace (cpu, cpufreq, loadavg,
/// pressure, meminfo, vmstat, diskstats, filesystem, netdev, netclass, netstat, sockstat, softnet,
/// arp, conntrack, udp_queues, processes, stat, uname, os, time, timex, filefd, entropy,
/// textfile).
const IN_SCOPE: &str = r"^(node_(cpu_(seconds|guest|core_throttles|package_throttles|isolated|online|info|flag_info|bug_info|frequency|scaling)|load(1|5|15)$|pressure_|memory_|vmstat_|disk_|filesystem_|network_|netstat_|sockstat_|softnet_|arp_|nf_conntrack_|udp_queues|processes_|intr_total|context_switches_total|forks_total|boot_time_seconds|procs_|softirqs_total|uname_|os_|time_|timex_|filefd_|entropy_|textfile_)|testmetric)";

/// Families in scope by name but from other node_exporter collectors (meminfo_numa).
const OTHER_COLLECTORS: &str = r"^node_memory_numa_";

/// The one series of e2e-output.txt that no fixture file holds: node_exporter 1.12 reads netdev
/// counters over netlink, and `rx_nohandler` of the e2e machine's `lo` has no `/proc/net/dev`
/// column (sonde reads it from sysfs, which the fixture tree lacks for `lo`).
const FROM_THE_E2E_MACHINE: &str = "node_network_receive_nohandler_total{device=\"lo\"}";

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

#[test]
fn every_series_of_node_exporters_e2e_output_matches_with_its_help_and_type() {
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
config = {{ info = true, flags_include = "^(aes|avx.?|constant_tsc)$", bugs_include = "^(cpu_meltdown|spectre_.*|mds)$" }}

[plugins.disk]
config = {{ filesystem = false, udev_data_path = "/collector/fixtures/udev/data" }}

[plugins.net]
config = {{ netdev = {{ device_include = "lo" }}, netclass = {{ ignored_devices = "(dmz|int)", ignore_invalid_speed = true }}, arp = {{ device_exclude = "nope" }} }}

[plugins.system]
config = {{ softirq = true, uname = false, timex = false }}

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
    let theirs = parse_exposition(&expected);
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

    let in_scope = Regex::new(IN_SCOPE).unwrap();
    let other = Regex::new(OTHER_COLLECTORS).unwrap();
    let compared = |series: &str| {
        let name = metric_name(series);
        in_scope.is_match(name) && !other.is_match(name) && series != FROM_THE_E2E_MACHINE
    };
    let mut per_family: BTreeMap<&str, (usize, Vec<String>)> = BTreeMap::new();
    let (mut total, mut matched) = (0, 0);
    for (series, value) in theirs.iter().filter(|(s, _)| compared(s)) {
        total += 1;
        let entry = per_family.entry(metric_name(series)).or_default();
        entry.0 += 1;
        match ours.get(series) {
            Some(v) if v == value || (v.is_nan() && value.is_nan()) => matched += 1,
            Some(v) => entry.1.push(format!("{series}: {v} != {value}")),
            None => entry.1.push(format!("{series}: missing")),
        }
    }
    // Series of these families that node_exporter's output lacks, and HELP or TYPE lines that
    // differ, are differences too.
    let extra: Vec<&String> = ours
        .keys()
        .filter(|s| compared(s) && !theirs.contains_key(*s))
        .filter(|s| {
            !EXTRA_ALLOWED
                .iter()
                .any(|(prefix, _)| s.starts_with(prefix))
        })
        .collect();
    let (our_meta, their_meta) = (parse_help_and_type(&stdout), parse_help_and_type(&expected));
    let metadata: Vec<String> = per_family
        .keys()
        .filter_map(|family| {
            let (ours, theirs) = (our_meta.get(*family), their_meta.get(*family));
            (ours != theirs).then(|| format!("{family}: {ours:?} != {theirs:?}"))
        })
        .collect();
    let differing: Vec<String> = per_family
        .iter()
        .filter(|(_, (_, problems))| !problems.is_empty())
        .map(|(family, (n, problems))| {
            format!(
                "{family}: {}/{n} differ, e.g. {}",
                problems.len(),
                problems[0]
            )
        })
        .collect();
    println!(
        "node_exporter e2e fixtures: {matched}/{total} series of {} families match; {} extra series; {} families with another HELP or TYPE",
        per_family.len(),
        extra.len(),
        metadata.len()
    );
    // The README quotes this figure.
    assert_eq!(
        total, 597,
        "the comparison covers {total} series; update the README"
    );
    assert!(
        differing.is_empty() && extra.is_empty() && metadata.is_empty(),
        "differing series:\n{}\nextra series:\n{}\nHELP or TYPE:\n{}",
        differing.join("\n"),
        extra
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        metadata.join("\n")
    );
}

/// Series sonde adds to families node_exporter also has, with why node_exporter's e2e output
/// lacks them.
const EXTRA_ALLOWED: &[(&str, &str)] = &[
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
