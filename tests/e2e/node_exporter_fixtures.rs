//! `sonde collect --once` over node_exporter's own end-to-end fixture trees, with the options of
//! node_exporter's e2e run, compared series by series with its expected output
//! (`tests/fixtures/node-exporter/e2e-output.txt`) for the collectors sonde's built-ins replace.

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
fn at_least_98_percent_of_node_exporters_series_match() {
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
            r#"
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
    let ours = parse_exposition(&String::from_utf8_lossy(&out.stdout));
    let theirs = parse_exposition(&std::fs::read_to_string(tree.join("e2e-output.txt")).unwrap());
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
    let mut per_family: BTreeMap<&str, (usize, Vec<String>)> = BTreeMap::new();
    let (mut total, mut matched) = (0, 0);
    for (series, value) in &theirs {
        let name = metric_name(series);
        if !in_scope.is_match(name) || other.is_match(name) || series == FROM_THE_E2E_MACHINE {
            continue;
        }
        total += 1;
        let entry = per_family.entry(name).or_default();
        entry.0 += 1;
        match ours.get(series) {
            Some(v) if v == value || (v.is_nan() && value.is_nan()) => matched += 1,
            Some(v) => entry.1.push(format!("{series}: {v} != {value}")),
            None => entry.1.push(format!("{series}: missing")),
        }
    }
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
    let ratio = matched as f64 / total as f64;
    eprintln!(
        "node_exporter e2e fixtures: {matched}/{total} series match ({:.2}%) in {} families; differing families:\n{}",
        ratio * 100.0,
        per_family.len(),
        differing.join("\n")
    );
    assert!(total > 500, "the comparison covers {total} series only");
    assert!(
        ratio >= 0.98,
        "only {:.2}% match:\n{}",
        ratio * 100.0,
        differing.join("\n")
    );
}
