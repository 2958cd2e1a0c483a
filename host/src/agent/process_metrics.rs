//! The agent's own process metrics, as every Prometheus exporter serves them (client_golang's
//! process collector, which node_exporter and Alloy embed): `process_cpu_seconds_total`,
//! memory, descriptors and start time, read from the real `/proc/self` whatever `--path.procfs`
//! says (they describe sonde, not the monitored host), with the plugins' `/proc` parsers
//! (`sonde-procfs`).

use sonde_procfs::{USER_HZ, pid_stat, stat};
use sonde_sdk::MetricFamily;
use std::sync::OnceLock;

/// The `process_*` families, with client_golang's names, HELP and TYPE. A figure that cannot be
/// read is left out (never a zero standing in for it).
#[allow(clippy::unnecessary_cast)] // the RLIMIT_* constants are u32 with glibc, c_int with musl
pub fn families() -> Vec<MetricFamily> {
    let mut families = Vec::with_capacity(7);
    let text = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let stat = pid_stat::parse(&text).ok();
    if let Some(stat) = &stat {
        families.push(
            MetricFamily::counter(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
            )
            .with_sample(&[], (stat.utime + stat.stime) as f64 / USER_HZ),
        );
    }
    let mut gauge = |name: &str, help: &str, value: Option<f64>| {
        if let Some(value) = value {
            families.push(MetricFamily::gauge(name, help).with_sample(&[], value));
        }
    };
    gauge(
        "process_max_fds",
        "Maximum number of open file descriptors.",
        soft_limit(libc::RLIMIT_NOFILE as u32),
    );
    gauge(
        "process_open_fds",
        "Number of open file descriptors.",
        open_fds().map(|n| n as f64),
    );
    gauge(
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        stat.map(|s| s.rss as f64 * page_size()),
    );
    gauge(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        stat.and_then(|s| Some(boot_time()? + s.starttime as f64 / USER_HZ)),
    );
    gauge(
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        stat.map(|s| s.vsize as f64),
    );
    gauge(
        "process_virtual_memory_max_bytes",
        "Maximum amount of virtual memory available in bytes.",
        soft_limit(libc::RLIMIT_AS as u32),
    );
    families
}

/// How many descriptors this process has open: the size Linux 6.2 and later report for
/// `/proc/self/fd` (one `statx`, where listing the ~250 descriptors of kept files took several
/// `getdents64` a scrape), else the listing counted.
fn open_fds() -> Option<u64> {
    match std::fs::metadata("/proc/self/fd") {
        Ok(meta) if meta.len() > 0 => Some(meta.len()),
        _ => std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|entries| entries.count() as u64),
    }
}

/// The boot time (`btime` of `/proc/stat`), read once.
fn boot_time() -> Option<f64> {
    static BOOT_TIME: OnceLock<Option<f64>> = OnceLock::new();
    *BOOT_TIME.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        Some(stat::parse(&text).0.boot_time? as f64)
    })
}

/// A resource's soft limit; unlimited as client_golang reports it, 2^64 - 1.
fn soft_limit(resource: u32) -> Option<f64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `struct rlimit` to a valid pointer.
    (unsafe { libc::getrlimit(resource as _, &mut limit) } == 0).then_some(limit.rlim_cur as f64)
}

fn page_size() -> f64 {
    // SAFETY: sysconf has no memory effects.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_descriptors_are_counted_as_the_listing_counts_them() {
        let kept: Vec<std::fs::File> = (0..20)
            .map(|_| std::fs::File::open("/proc/self/stat").unwrap())
            .collect();
        // Other test threads open and close descriptors meanwhile, and the listing holds one
        // of its own: a few tries find a quiet moment.
        let mut seen = Vec::new();
        for _ in 0..50 {
            let counted = open_fds().unwrap();
            let listed = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
            assert!(counted >= kept.len() as u64);
            if counted.abs_diff(listed) <= 1 {
                return;
            }
            seen.push((counted, listed));
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("counted vs listed: {seen:?}");
    }

    #[test]
    fn this_process_is_described_with_client_golangs_names() {
        let families = families();
        let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "process_cpu_seconds_total",
                "process_max_fds",
                "process_open_fds",
                "process_resident_memory_bytes",
                "process_start_time_seconds",
                "process_virtual_memory_bytes",
                "process_virtual_memory_max_bytes",
            ]
        );
        let value = |name: &str| families.iter().find(|f| f.name == name).unwrap().samples[0].value;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = value("process_start_time_seconds");
        assert!(
            started <= now + 1.0 && started > now - 3600.0,
            "{started} vs {now}"
        );
        assert!(value("process_open_fds") >= 3.0);
        assert!(value("process_resident_memory_bytes") > 1e6);
        assert!(value("process_virtual_memory_bytes") >= value("process_resident_memory_bytes"));
    }
}
