//! node_exporter's `schedstat` collector: per-CPU scheduler time and timeslices from
//! `/proc/schedstat` (kernels with `CONFIG_SCHEDSTATS`).

use sonde_procfs::Skipped;
use sonde_sdk::bundle::{Part, read_optional};
use sonde_sdk::{Error, Host, MetricFamily};

/// The schedstat part.
pub struct Schedstat;

/// One `cpu<N>` line: the last three of its nine numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuSchedstat {
    /// The `<N>` of `cpu<N>`, as printed.
    pub cpu: String,
    /// Time spent running tasks, in nanoseconds.
    pub running_ns: u64,
    /// Time tasks spent waiting to run on this CPU, in nanoseconds.
    pub waiting_ns: u64,
    /// Timeslices run.
    pub timeslices: u64,
}

/// The `cpu<N>` lines of `/proc/schedstat` (the `version`, `timestamp` and `domain` lines are
/// not used). A `cpu<N>` line with fewer than nine numbers, a field that is not a number or a
/// CPU seen before is skipped.
pub fn parse(text: &str) -> (Vec<CpuSchedstat>, Skipped) {
    let mut cpus: Vec<CpuSchedstat> = Vec::new();
    let mut skipped = Skipped::default();
    for (index, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let Some(cpu) = fields
            .next()
            .and_then(|f| f.strip_prefix("cpu"))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let numbers: Result<Vec<u64>, _> = fields.take(9).map(str::parse::<u64>).collect();
        let problem = match numbers {
            Ok(n) if n.len() == 9 => {
                if cpus.iter().any(|c| c.cpu == cpu) {
                    format!("cpu{cpu} seen before")
                } else {
                    cpus.push(CpuSchedstat {
                        cpu: cpu.to_owned(),
                        running_ns: n[6],
                        waiting_ns: n[7],
                        timeslices: n[8],
                    });
                    continue;
                }
            }
            Ok(n) => format!("{} numbers, expected 9", n.len()),
            Err(e) => e.to_string(),
        };
        skipped.line(index + 1, format!("{problem} in line {line:?}"));
    }
    (cpus, skipped)
}

impl Part for Schedstat {
    /// Nothing on a kernel without `/proc/schedstat`; a malformed CPU line is left out and fails
    /// the part.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(text) = read_optional(host, sonde_sdk::Root::Proc, "schedstat")? else {
            return Ok(());
        };
        let (cpus, skipped) = parse(&text);
        let mut running = MetricFamily::counter(
            "node_schedstat_running_seconds_total",
            "Number of seconds CPU spent running a process.",
        );
        let mut waiting = MetricFamily::counter(
            "node_schedstat_waiting_seconds_total",
            "Number of seconds spent by processing waiting for this CPU.",
        );
        let mut timeslices = MetricFamily::counter(
            "node_schedstat_timeslices_total",
            "Number of timeslices executed by CPU.",
        );
        for c in &cpus {
            let labels = [("cpu", c.cpu.as_str())];
            running.sample(&labels, c.running_ns as f64 / 1e9);
            waiting.sample(&labels, c.waiting_ns as f64 / 1e9);
            timeslices.sample(&labels, c.timeslices as f64);
        }
        out.extend([running, waiting, timeslices]);
        skipped.result("/proc/schedstat", !cpus.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lines_only_and_malformed_ones_skipped() {
        let (cpus, skipped) = parse(
            "version 15\ntimestamp 1\ncpu0 1 2 3 4 5 6 70 80 90\ndomain0 3 1 2\n\
             cpu1 1 2 3\ncpu2 1 2 3 4 5 6 7 8 x\ncpu0 1 2 3 4 5 6 7 8 9\ncpux 1\n\
             cpu3 1 2 3 4 5 6 7 8 9 10\n",
        );
        assert_eq!(
            cpus,
            [
                CpuSchedstat {
                    cpu: "0".into(),
                    running_ns: 70,
                    waiting_ns: 80,
                    timeslices: 90
                },
                CpuSchedstat {
                    cpu: "3".into(),
                    running_ns: 7,
                    waiting_ns: 8,
                    timeslices: 9
                }
            ]
        );
        assert_eq!(skipped.count(), 3);
        assert_eq!(
            skipped
                .result("/proc/schedstat", true)
                .unwrap_err()
                .to_string(),
            "/proc/schedstat: 3 malformed lines skipped, first line 5: 3 numbers, expected 9 \
             in line \"cpu1 1 2 3\""
        );
    }
}
