//! Side by side with Debian's `prometheus-node-exporter` on this machine: every series node_exporter
//! emits for the collectors sonde replaces is in `sonde collect --once` with the same labels, and
//! gauges that do not move have the same values.

use crate::support::{KillOnDrop, free_port, http_get, metric_name, parse_exposition};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

/// Gauges whose value cannot change between the two reads.
const STABLE: &[&str] = &[
    "node_memory_MemTotal_bytes",
    "node_memory_SwapTotal_bytes",
    "node_filesystem_size_bytes",
    "node_filesystem_files",
    "node_filesystem_readonly",
    "node_network_mtu_bytes",
    "node_network_up",
    "node_network_info",
    "node_uname_info",
    "node_os_info",
    "node_boot_time_seconds",
    "node_processes_max_processes",
    "node_processes_max_threads",
    "node_entropy_pool_size_bits",
    "node_cpu_frequency_max_hertz",
    "node_cpu_frequency_min_hertz",
    "node_cpu_scaling_frequency_max_hertz",
    "node_cpu_scaling_frequency_min_hertz",
    "node_disk_info",
];

/// Families with one series per process state that exists at the instant of the read: a
/// process caught in `D` or `Z` by one read may be gone by the other, so for these only the
/// family must be present in sonde's output, not every state node_exporter saw.
const MOMENTARY: &[&str] = &["node_processes_state", "node_processes_threads_state"];

/// Labels node_exporter added after 1.5.0 (Debian 12's version); sonde follows 1.12, so they
/// are left out of the comparison: filesystem `device_error` (1.8), netclass `adminstate`
/// (1.9), diskstats `rotational` (1.9).
const NEWER_LABELS: &[&str] = &["device_error", "adminstate", "rotational"];

/// Series 1.5.0 emits that 1.12 does not: its default diskstats device exclude did not cover
/// zram devices yet (`^(z?ram|loop|fd|…)\d+$` since 1.7).
fn excluded_since_1_5(series: &str) -> bool {
    series.starts_with("node_disk_") && series.contains("device=\"zram")
}

/// The series key without the labels node_exporter added after 1.5.0.
fn comparable(series: &str) -> String {
    NEWER_LABELS
        .iter()
        .fold(series.to_owned(), |s, label| without_label(&s, label))
}

/// Removes one label (`name="…"`, escapes included) from a series key.
fn without_label(series: &str, name: &str) -> String {
    let needle = format!("{name}=\"");
    let Some(start) = series
        .match_indices(&needle)
        .map(|(i, _)| i)
        .find(|&i| i > 0 && matches!(&series[i - 1..i], "{" | ","))
    else {
        return series.to_owned();
    };
    let value_start = start + needle.len();
    let mut end = value_start;
    let bytes = series.as_bytes();
    while end < bytes.len() && bytes[end] != b'"' {
        end += if bytes[end] == b'\\' { 2 } else { 1 };
    }
    // Remove the label and the comma that separates it from its neighbour.
    let (mut cut_start, mut cut_end) = (start, end + 1);
    if series[cut_end..].starts_with(',') {
        cut_end += 1;
    } else if series[..cut_start].ends_with(',') {
        cut_start -= 1;
    }
    format!("{}{}", &series[..cut_start], &series[cut_end..])
}

#[test]
fn newer_labels_are_dropped_cleanly() {
    assert_eq!(
        comparable(
            r#"node_filesystem_size_bytes{device="/dev/vda",device_error="",fstype="ext4",mountpoint="/"}"#
        ),
        r#"node_filesystem_size_bytes{device="/dev/vda",fstype="ext4",mountpoint="/"}"#
    );
    assert_eq!(
        without_label(r#"x{device_error="a \" b"}"#, "device_error"),
        "x{}"
    );
    assert_eq!(
        without_label(r#"x{a="1",rotational="0"}"#, "rotational"),
        r#"x{a="1"}"#
    );
    assert_eq!(comparable("node_load1"), "node_load1");
}

/// Debian's node_exporter's `/metrics` on this host (with the flags sonde's defaults mirror, and
/// its own `process_*`/`go_*` metrics if `exporter_metrics`), or `None` when it is not installed
/// (and the run does not require it).
pub fn node_exporter_metrics(exporter_metrics: bool) -> Option<String> {
    if !crate::support::peer_installed(NODE_EXPORTER, "prometheus-node-exporter") {
        return None;
    }
    let port = free_port();
    let mut cmd = Command::new(NODE_EXPORTER);
    let mut args = sonde::wasm::builtin::node_exporter_args(&format!("127.0.0.1:{port}"));
    if exporter_metrics {
        args.retain(|a| a != "--web.disable-exporter-metrics");
    }
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    let _exporter = KillOnDrop(cmd.spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match http_get(port, "/metrics") {
            Ok(body) => return Some(body),
            Err(e) if Instant::now() > deadline => panic!("node_exporter did not answer: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[test]
fn every_node_exporter_series_is_in_sondes_output() {
    let Some(theirs) = node_exporter_metrics(false) else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_sonde"))
        .args(["collect", "--once"])
        .output()
        .unwrap();
    let ours = String::from_utf8_lossy(&out.stdout);
    let ours: std::collections::BTreeMap<String, f64> = parse_exposition(&ours)
        .into_iter()
        .map(|(k, v)| (comparable(&k), v))
        .collect();
    let theirs = parse_exposition(&theirs);
    let mut missing = Vec::new();
    let mut different = Vec::new();
    let mut compared = 0;
    for (series, value) in &theirs {
        let name = metric_name(series);
        if name.starts_with("node_scrape_collector_")
            || name.starts_with("promhttp_")
            || name == "node_exporter_build_info"
            || excluded_since_1_5(series)
        {
            continue;
        }
        compared += 1;
        match ours.get(&comparable(series)) {
            None if MOMENTARY.contains(&name) && ours.keys().any(|k| metric_name(k) == name) => {}
            None => missing.push(series.clone()),
            Some(v) if STABLE.contains(&name) && v != value => {
                different.push(format!("{series}: node_exporter {value}, sonde {v}"))
            }
            Some(_) => {}
        }
    }
    eprintln!(
        "compared {compared} node_exporter series: {} missing, {} different",
        missing.len(),
        different.len()
    );
    assert!(
        missing.is_empty(),
        "missing from sonde:\n{}",
        missing.join("\n")
    );
    assert!(
        different.is_empty(),
        "stable values differ:\n{}",
        different.join("\n")
    );
}
