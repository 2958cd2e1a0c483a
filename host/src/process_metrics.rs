//! The agent's own process metrics, as every Prometheus exporter serves them (client_golang's
//! process collector, which node_exporter and Alloy embed): `process_cpu_seconds_total`,
//! memory, descriptors and start time, read from the real `/proc/self` whatever `--path.procfs`
//! says (they describe sonde, not the monitored host).

use sonde_sdk::MetricFamily;
use std::sync::OnceLock;

/// The `process_*` families, with client_golang's names, HELP and TYPE. A figure that cannot be
/// read is left out (never a zero standing in for it).
#[allow(clippy::unnecessary_cast)] // the RLIMIT_* constants are u32 with glibc, c_int with musl
pub fn families() -> Vec<MetricFamily> {
    let mut families = Vec::with_capacity(7);
    let mut gauge = |name: &str, help: &str, value: Option<f64>| {
        if let Some(value) = value {
            families.push(MetricFamily::gauge(name, help).with_sample(&[], value));
        }
    };
    let stat = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|text| SelfStat::parse(&text));
    gauge(
        "process_max_fds",
        "Maximum number of open file descriptors.",
        soft_limit(libc::RLIMIT_NOFILE as u32),
    );
    gauge(
        "process_open_fds",
        "Number of open file descriptors.",
        std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|entries| entries.count() as f64),
    );
    gauge(
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        stat.map(|s| s.rss_pages * sysconf(libc::_SC_PAGESIZE)),
    );
    gauge(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        start_time(stat.as_ref()),
    );
    gauge(
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        stat.map(|s| s.vsize_bytes),
    );
    gauge(
        "process_virtual_memory_max_bytes",
        "Maximum amount of virtual memory available in bytes.",
        soft_limit(libc::RLIMIT_AS as u32),
    );
    if let Some(stat) = stat {
        families.insert(
            0,
            MetricFamily::counter(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
            )
            .with_sample(&[], stat.cpu_ticks / sysconf(libc::_SC_CLK_TCK)),
        );
    }
    families
}

/// The fields of `/proc/self/stat` these metrics use.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SelfStat {
    /// utime + stime, in clock ticks.
    cpu_ticks: f64,
    /// Start after boot, in clock ticks.
    start_ticks: f64,
    vsize_bytes: f64,
    rss_pages: f64,
}

impl SelfStat {
    /// Parses `/proc/<pid>/stat` (proc(5)): the fields after the command name, which is in
    /// parentheses and may itself hold spaces and parentheses.
    fn parse(text: &str) -> Option<SelfStat> {
        let fields: Vec<&str> = text
            .get(text.rfind(')')? + 1..)?
            .split_whitespace()
            .collect();
        // proc(5) numbers fields from 1; `state` (field 3) is the first after the name.
        let field = |n: usize| fields.get(n - 3)?.parse::<f64>().ok();
        Some(SelfStat {
            cpu_ticks: field(14)? + field(15)?,
            start_ticks: field(22)?,
            vsize_bytes: field(23)?,
            rss_pages: field(24)?,
        })
    }
}

/// Boot time plus the process's start after boot; the boot time (`btime` of `/proc/stat`) is
/// read once.
fn start_time(stat: Option<&SelfStat>) -> Option<f64> {
    static BOOT_TIME: OnceLock<Option<f64>> = OnceLock::new();
    let boot = (*BOOT_TIME.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        text.lines()
            .find_map(|line| line.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()
    }))?;
    Some(boot + stat?.start_ticks / sysconf(libc::_SC_CLK_TCK))
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

fn sysconf(name: libc::c_int) -> f64 {
    // SAFETY: sysconf has no memory effects.
    unsafe { libc::sysconf(name) as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_found_after_a_command_name_with_spaces_and_parentheses() {
        let line = "4242 (sonde (a) b) S 1 4242 4242 0 -1 4194560 2650 0 0 0 37 12 0 0 20 0 \
                    9 0 123456 1046941696 3796 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 \
                    1 0 0 0 0 0";
        assert_eq!(
            SelfStat::parse(line),
            Some(SelfStat {
                cpu_ticks: 49.0,
                start_ticks: 123456.0,
                vsize_bytes: 1046941696.0,
                rss_pages: 3796.0,
            })
        );
        assert_eq!(SelfStat::parse("4242 (cut"), None);
        assert_eq!(SelfStat::parse("4242 (sonde) S 1 2"), None);
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
