//! node_exporter's `stat` collector: the kernel activity counters of `/proc/stat`.

use sonde_procfs::stat::{self, Softirqs};
use sonde_sdk::bundle::read_optional;
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

/// Appends the `/proc/stat` counters, and `node_softirqs_total` when `softirq` is on. A counter
/// whose line is missing or malformed has no sample; a malformed line fails the part.
pub fn collect(host: &Host, softirq: bool, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let Some(text) = read_optional(host, Root::Proc, "stat")? else {
        return Ok(());
    };
    let (s, skipped) = stat::parse(&text);
    let counters = [
        (
            MetricFamily::counter("node_intr_total", "Total number of interrupts serviced."),
            s.interrupts,
        ),
        (
            MetricFamily::counter(
                "node_context_switches_total",
                "Total number of context switches.",
            ),
            s.context_switches,
        ),
        (
            MetricFamily::counter("node_forks_total", "Total number of forks."),
            s.forks,
        ),
        (
            MetricFamily::gauge("node_boot_time_seconds", "Node boot time, in unixtime."),
            s.boot_time,
        ),
        (
            MetricFamily::gauge(
                "node_procs_running",
                "Number of processes in runnable state.",
            ),
            s.procs_running,
        ),
        (
            MetricFamily::gauge(
                "node_procs_blocked",
                "Number of processes blocked waiting for I/O to complete.",
            ),
            s.procs_blocked,
        ),
    ];
    let mut kept = false;
    for (family, value) in counters {
        if let Some(value) = value {
            out.push(family.with_value(value as f64));
            kept = true;
        }
    }
    if softirq {
        // Without a softirq line node_exporter reports zeros; a short line is an error.
        let counts = match &s.softirqs {
            Softirqs::Absent => Some(vec![0; SOFTIRQ_VECTORS.len()]),
            Softirqs::Counts(counts) => match counts.as_slice() {
                [_total, vectors @ ..] if vectors.len() >= SOFTIRQ_VECTORS.len() => {
                    Some(vectors.to_vec())
                }
                short => {
                    // One error per part: the skipped lines' if any, else this one.
                    skipped.result("/proc/stat", kept)?;
                    return Err(Error::msg(format!(
                        "/proc/stat: softirq line has {} numbers, expected 11",
                        short.len()
                    )));
                }
            },
            // Counted in `skipped`.
            Softirqs::Malformed => None,
        };
        if let Some(counts) = counts {
            let mut family =
                MetricFamily::counter("node_softirqs_total", "Number of softirq calls.");
            for (vector, count) in SOFTIRQ_VECTORS.iter().zip(counts) {
                family.sample(&[("vector", vector)], count as f64);
            }
            out.push(family);
        }
    }
    skipped.result("/proc/stat", kept)
}
