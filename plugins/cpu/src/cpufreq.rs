//! node_exporter's `cpufreq` collector: frequencies and governors from
//! `/sys/devices/system/cpu/cpuN/cpufreq`.

use crate::topology::cpu_dirs;
use sonde_procfs::sysfs::{list, parse_cpu_list, read_attr, read_attrs};
use sonde_sdk::{Error, Host, MetricFamily};

/// The frequency families in node_exporter's order, file and HELP; kHz in sysfs, Hz exposed.
const FREQUENCIES: [(&str, &str, &str); 7] = [
    (
        "node_cpu_frequency_hertz",
        "cpuinfo_cur_freq",
        "Current CPU thread frequency in hertz.",
    ),
    (
        "node_cpu_frequency_avg_hertz",
        "cpuinfo_avg_freq",
        "Average CPU thread frequency in hertz.",
    ),
    (
        "node_cpu_frequency_min_hertz",
        "cpuinfo_min_freq",
        "Minimum CPU thread frequency in hertz.",
    ),
    (
        "node_cpu_frequency_max_hertz",
        "cpuinfo_max_freq",
        "Maximum CPU thread frequency in hertz.",
    ),
    (
        "node_cpu_scaling_frequency_hertz",
        "scaling_cur_freq",
        "Current scaled CPU thread frequency in hertz.",
    ),
    (
        "node_cpu_scaling_frequency_min_hertz",
        "scaling_min_freq",
        "Minimum scaled CPU thread frequency in hertz.",
    ),
    (
        "node_cpu_scaling_frequency_max_hertz",
        "scaling_max_freq",
        "Maximum scaled CPU thread frequency in hertz.",
    ),
];

/// The cpufreq families of the online CPUs that have a `cpufreq` directory. With
/// `current_frequency` off, `node_cpu_frequency_hertz` is left to the cpuinfo variant.
pub fn collect(host: &Host, current_frequency: bool) -> Result<Vec<MetricFamily>, Error> {
    let offline = match read_attr(host, "devices/system/cpu/offline")? {
        Some(text) => parse_cpu_list(&text)?,
        None => Vec::new(),
    };
    let frequencies: Vec<_> = FREQUENCIES
        .iter()
        .filter(|(name, _, _)| current_frequency || *name != "node_cpu_frequency_hertz")
        .collect();
    let mut families: Vec<MetricFamily> = frequencies
        .iter()
        .map(|(name, _, help)| MetricFamily::gauge(*name, *help))
        .collect();
    let mut governors = MetricFamily::gauge(
        "node_cpu_scaling_governor",
        "Current enabled CPU frequency governor.",
    );
    for dir in cpu_dirs(host)? {
        let cpu = &dir[3..];
        if cpu.parse::<u32>().is_ok_and(|n| offline.contains(&n)) {
            continue;
        }
        let base = format!("devices/system/cpu/{dir}/cpufreq");
        if list(host, &base)?.is_empty() {
            // No cpufreq directory (no driver): no metrics for this CPU.
            continue;
        }
        // One host call for all of the CPU's files.
        let mut files: Vec<&str> = frequencies.iter().map(|(_, file, _)| *file).collect();
        files.extend(["scaling_governor", "scaling_available_governors"]);
        let mut attrs = read_attrs(host, &base, &files);
        let available = attrs.pop().expect("one result per file");
        let governor = attrs.pop().expect("one result per file");
        for (family, attr) in families.iter_mut().zip(attrs) {
            // cpuinfo_cur_freq is readable by root only on many systems: absent then.
            if let Ok(Some(khz)) = attr.map(|a| a.and_then(|text| text.parse::<u64>().ok())) {
                family.sample(&[("cpu", cpu)], khz as f64 * 1000.0);
            }
        }
        let governor = governor?.unwrap_or_default();
        if !governor.is_empty() {
            let available = available?.unwrap_or_default();
            for candidate in available.split(' ').filter(|g| !g.is_empty()) {
                let value = if candidate == governor { 1.0 } else { 0.0 };
                governors.sample(&[("cpu", cpu), ("governor", candidate)], value);
            }
        }
    }
    families.push(governors);
    Ok(families)
}
