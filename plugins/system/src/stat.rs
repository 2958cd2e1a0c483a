//! node_exporter's `stat` collector: the kernel activity counters of `/proc/stat`.

use sonde_sdk::bundle::read_optional;
use sonde_sdk::procfs::stat;
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// The softirq vectors of the `softirq` line, in the kernel's order (after the total).
const SOFTIRQ_VECTORS: [&str; 10] = [
    "hi",
    "timer",
    "net_tx",
    "net_rx",
    "block",
    "block_iopoll",
    "tasklet",
    "sched",
    "hrtimer",
    "rcu",
];

/// Appends the `/proc/stat` counters, and `node_softirqs_total` when `softirq` is on.
pub fn collect(host: &Host, softirq: bool, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let Some(text) = read_optional(host, Root::Proc, "stat")? else {
        return Ok(());
    };
    let s = stat::parse(&text)?;
    out.extend([
        MetricFamily::counter("node_intr_total", "Total number of interrupts serviced.")
            .with_value(s.interrupts as f64),
        MetricFamily::counter(
            "node_context_switches_total",
            "Total number of context switches.",
        )
        .with_value(s.context_switches as f64),
        MetricFamily::counter("node_forks_total", "Total number of forks.")
            .with_value(s.forks as f64),
        MetricFamily::gauge("node_boot_time_seconds", "Node boot time, in unixtime.")
            .with_value(s.boot_time as f64),
        MetricFamily::gauge(
            "node_procs_running",
            "Number of processes in runnable state.",
        )
        .with_value(s.procs_running as f64),
        MetricFamily::gauge(
            "node_procs_blocked",
            "Number of processes blocked waiting for I/O to complete.",
        )
        .with_value(s.procs_blocked as f64),
    ]);
    if softirq {
        // Without a softirq line node_exporter reports zeros; a short line is an error.
        let counts = match s.softirqs.as_slice() {
            [] => vec![0; SOFTIRQ_VECTORS.len()],
            [_total, vectors @ ..] if vectors.len() >= SOFTIRQ_VECTORS.len() => vectors.to_vec(),
            short => {
                return Err(Error::msg(format!(
                    "/proc/stat: softirq line has {} numbers, expected 11",
                    short.len()
                )));
            }
        };
        let mut family = MetricFamily::counter("node_softirqs_total", "Number of softirq calls.");
        for (vector, count) in SOFTIRQ_VECTORS.iter().zip(counts) {
            family.sample(&[("vector", vector)], count as f64);
        }
        out.push(family);
    }
    Ok(())
}
