//! node_exporter's `processes` collector: `node_processes_*`, the machine's process and thread
//! counts by state and its pid and thread limits.

use crate::scan::{Proc, Thread, state_letter};
use sonde_sdk::{Error, FsError, Host, Level, MetricFamily, Root};
use std::collections::BTreeMap;

/// What the scan of `/proc` found, for the system-wide counts.
pub struct Scan<'s, 'a> {
    /// The processes whose `stat` was read.
    pub procs: &'s [Proc<'a>],
    /// The threads of the multi-threaded processes.
    pub threads: &'s [Thread],
    /// Whether the tree has `task/` directories (else no thread is counted).
    pub task_dirs: bool,
}

/// The `node_processes_*` families. Counts follow node_exporter: processes whose `stat` could be
/// read, their states, the sum of their thread counts, and the state of every thread listed in
/// their `task/` directories.
pub fn families(host: &Host, scan: &Scan) -> Vec<MetricFamily> {
    let mut states = BTreeMap::<&str, u64>::new();
    let mut thread_states = BTreeMap::<char, u64>::new();
    let mut threads = 0;
    for proc in scan.procs {
        *states.entry(proc.stat.state).or_default() += 1;
        threads += proc.stat.num_threads;
        // A single thread's `task/` lists only the process itself: no need to read it.
        if scan.task_dirs && proc.stat.num_threads <= 1 {
            *thread_states
                .entry(state_letter(proc.stat.state))
                .or_default() += 1;
        }
    }
    for thread in scan.threads {
        *thread_states.entry(thread.state).or_default() += 1;
    }

    let mut out = vec![
        MetricFamily::gauge("node_processes_threads", "Allocated threads in system")
            .with_value(threads as f64),
        MetricFamily::gauge("node_processes_pids", "Number of PIDs")
            .with_value(scan.procs.len() as f64),
        by_label(
            "node_processes_state",
            "Number of processes in each state.",
            "state",
            states,
        ),
        by_label(
            "node_processes_threads_state",
            "Number of threads in each state.",
            "thread_state",
            thread_states.into_iter().map(|(s, n)| (s.to_string(), n)),
        ),
    ];
    for (name, help, path) in [
        (
            "node_processes_max_threads",
            "Limit of threads in the system",
            "sys/kernel/threads-max",
        ),
        (
            "node_processes_max_processes",
            "Number of max PIDs limit",
            "sys/kernel/pid_max",
        ),
    ] {
        match read_limit(host, path) {
            Ok(Some(limit)) => out.push(MetricFamily::gauge(name, help).with_value(limit as f64)),
            Ok(None) => {}
            Err(e) => host.log(Level::Warn, &format!("processes: {e}")),
        }
    }
    out
}

fn by_label<S: AsRef<str>>(
    name: &str,
    help: &str,
    label: &str,
    counts: impl IntoIterator<Item = (S, u64)>,
) -> MetricFamily {
    let mut family = MetricFamily::gauge(name, help);
    for (value, count) in counts {
        family.sample(&[(label, value.as_ref())], count as f64);
    }
    family
}

/// Reads a limit such as `/proc/sys/kernel/pid_max`; `None` when the kernel has no such file.
fn read_limit(host: &Host, path: &str) -> Result<Option<u64>, Error> {
    let text = match host.read_to_string(Root::Proc, path) {
        Ok(text) => text,
        Err(FsError::NotFound) => return Ok(None),
        Err(e) => return Err(Error::msg(e).context(format!("reading /proc/{path}"))),
    };
    text.trim()
        .parse()
        .map(Some)
        .map_err(|e| Error::msg(format!("/proc/{path}: {:?}: {e}", text.trim())))
}
