//! Per-CPU facts from `/sys/devices/system/cpu`: thermal throttle counts, isolated CPUs, online
//! state.

use sonde_procfs::sysfs::{list, parse_cpu_list, read_attr, read_attrs, read_u64};
use sonde_sdk::{Error, Host, MetricFamily};
use std::collections::BTreeSet;

const CPU_DIR: &str = "devices/system/cpu";

/// The `cpuN` directory names, in node_exporter's (lexical) glob order.
pub fn cpu_dirs(host: &Host) -> Result<Vec<String>, Error> {
    Ok(list(host, CPU_DIR)?
        .into_iter()
        .filter(|n| {
            n.strip_prefix("cpu")
                .is_some_and(|d| d.starts_with(|c: char| c.is_ascii_digit()))
        })
        .collect())
}

/// Throttle counters, isolated CPUs and online CPUs.
pub fn collect(host: &Host) -> Result<Vec<MetricFamily>, Error> {
    let cpus = cpu_dirs(host)?;
    let mut out = throttles(host, &cpus)?;
    out.push(isolated(host)?);
    out.push(online(host, &cpus)?);
    Ok(out)
}

/// `node_cpu_core_throttles_total{package,core}` (once per core, first readable sibling wins) and
/// `node_cpu_package_throttles_total{package}` (once per package).
fn throttles(host: &Host, cpus: &[String]) -> Result<Vec<MetricFamily>, Error> {
    let mut core_family = MetricFamily::counter(
        "node_cpu_core_throttles_total",
        "Number of times this CPU core has been throttled.",
    );
    let mut package_family = MetricFamily::counter(
        "node_cpu_package_throttles_total",
        "Number of times this CPU package has been throttled.",
    );
    let mut cores_seen = BTreeSet::new();
    let mut packages_seen = BTreeSet::new();
    for cpu in cpus {
        let ids = read_attrs(
            host,
            &format!("{CPU_DIR}/{cpu}/topology"),
            &["physical_package_id", "core_id"],
        );
        let id = |i: usize| match &ids[i] {
            Ok(Some(text)) => text.parse::<u64>().ok(),
            _ => None,
        };
        let (Some(package), Some(core)) = (id(0), id(1)) else {
            continue;
        };
        let (package_label, core_label) = (package.to_string(), core.to_string());
        if !cores_seen.contains(&(package, core))
            && let Ok(Some(count)) = read_u64(
                host,
                &format!("{CPU_DIR}/{cpu}/thermal_throttle/core_throttle_count"),
            )
        {
            cores_seen.insert((package, core));
            core_family.sample(
                &[("package", &package_label), ("core", &core_label)],
                count as f64,
            );
        }
        if !packages_seen.contains(&package)
            && let Ok(Some(count)) = read_u64(
                host,
                &format!("{CPU_DIR}/{cpu}/thermal_throttle/package_throttle_count"),
            )
        {
            packages_seen.insert(package);
            package_family.sample(&[("package", &package_label)], count as f64);
        }
    }
    Ok(vec![core_family, package_family])
}

/// `node_cpu_isolated{cpu}` for each CPU in `isolated`.
fn isolated(host: &Host) -> Result<MetricFamily, Error> {
    let mut family = MetricFamily::gauge(
        "node_cpu_isolated",
        "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.",
    );
    if let Some(text) = read_attr(host, &format!("{CPU_DIR}/isolated"))? {
        for cpu in parse_cpu_list(&text)? {
            family.sample(&[("cpu", &cpu.to_string())], 1.0);
        }
    }
    Ok(family)
}

/// `node_cpu_online{cpu}`: 1 if `cpuN/online` reads `1`; nothing when `cpu0` has no such file.
fn online(host: &Host, cpus: &[String]) -> Result<MetricFamily, Error> {
    let mut family = MetricFamily::gauge(
        "node_cpu_online",
        "CPUs that are online and being scheduled.",
    );
    let has_online = cpus.first().is_some_and(|cpu0| {
        matches!(
            read_attr(host, &format!("{CPU_DIR}/{cpu0}/online")),
            Ok(Some(_))
        )
    });
    if has_online {
        for cpu in cpus {
            let up = matches!(read_attr(host, &format!("{CPU_DIR}/{cpu}/online")), Ok(Some(v)) if v == "1");
            family.sample(&[("cpu", &cpu[3..])], if up { 1.0 } else { 0.0 });
        }
    }
    Ok(family)
}
