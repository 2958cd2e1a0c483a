//! sonde's built-in `process` collector:
//!
//! * node_exporter's `processes` collector (`node_processes_*`: processes and threads by state,
//!   pid and thread limits), **on** by default here (off by default in node_exporter);
//! * per-group metrics in the style of ncabatoff/process-exporter (`namedprocess_namegroup_*`)
//!   for the groups configured in `process_names` (none by default). Its counters are the
//!   totals `/proc` shows for each group's current processes, not process-exporter's counts
//!   since its own start (see the `groups` module).
//!
//! One pass over `/proc` serves both: the directory listing, every process's `stat` and the
//! threads of the multi-threaded ones, read with batched host calls; the groups' own files
//! (`status`, `limits`, `io`, `cmdline`, `fd/`) are read only for the processes that need them.

mod assign;
mod attrs;
mod batch;
mod groups;
mod matcher;
mod processes;
mod scan;
mod template;

pub use matcher::MatcherGroup;

use assign::Assignment;
use matcher::Matchers;
use serde::{Deserialize, Serialize};
use sonde_sdk::{Capability, Collector, Description, Error, Host, Level, MetricFamily};

/// The `process` collector.
pub struct Process {
    config: Config,
    /// The `process_names` groups, compiled.
    matchers: Matchers,
}

/// `[plugins.process] config = { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Emit node_exporter's `node_processes_*` (its `--collector.processes`; on here).
    pub processes: bool,
    /// process-exporter's `process_names`: the groups to report, first match wins (none).
    pub process_names: Vec<MatcherGroup>,
    /// A process no group matches joins the group of its nearest matched ancestor
    /// (process-exporter's `-children`, on).
    pub children: bool,
    /// Report `proportionalResident` and `proportionalSwapped` memory from `smaps_rollup`
    /// (process-exporter's `-gather-smaps`). Off here: the kernel walks every page table of the
    /// process to produce that file.
    pub gather_smaps: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            processes: true,
            process_names: Vec::new(),
            children: true,
            gather_smaps: false,
        }
    }
}

impl Collector for Process {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "process",
            env!("CARGO_PKG_VERSION"),
            "process and thread counts by state, and per-group process metrics",
        )
        .needs(&[Capability::Proc])
    }

    fn new(config: Config) -> Result<Self, Error> {
        Ok(Process {
            matchers: Matchers::compile(&config.process_names)?,
            config,
        })
    }

    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        let (config, matchers) = (&self.config, &self.matchers);
        if !config.processes && matchers.is_empty() {
            return Ok(Vec::new());
        }
        let pids = scan::list_pids(host)?;
        let stat_texts = scan::read_stats(host, &pids);
        let (procs, proc_failure) = scan::parse_procs(&pids, &stat_texts);
        let assignment = if matchers.is_empty() {
            Assignment::default()
        } else {
            Assignment::new(host, matchers, config.children, &procs)
        };

        // Threads of the multi-threaded processes the two parts need.
        let in_group = |i: usize| assignment.of_proc.get(i).is_some_and(Option::is_some);
        let (tasks, task_failure) = scan::list_tasks(host, &procs, |i| {
            procs[i].stat.num_threads > 1 && (config.processes || in_group(i))
        });
        let (threads, thread_failure) = scan::read_threads(host, &procs, &tasks);

        let mut out = Vec::new();
        let mut failures = Vec::new();
        if config.processes {
            // node_exporter fails its collector when a process or thread cannot be read for
            // another reason than having exited.
            let failure = proc_failure.or(task_failure).or(thread_failure);
            host.part_finished("processes", failure.is_none());
            match failure {
                Some(e) => failures.push(e.context("processes")),
                None => {
                    let scan = processes::Scan {
                        procs: &procs,
                        threads: &threads,
                        task_dirs: scan::has_task_dirs(host, &procs),
                    };
                    out.extend(processes::families(host, &scan));
                }
            }
        }
        if !matchers.is_empty() {
            let groups = groups::families(host, &procs, &assignment, &threads, config.gather_smaps);
            host.part_finished("process_groups", groups.is_ok());
            match groups {
                Ok(families) => out.extend(families),
                Err(e) => failures.push(e.context("process groups")),
            }
        }
        if out.is_empty() && !failures.is_empty() {
            let messages: Vec<&str> = failures.iter().map(Error::message).collect();
            return Err(Error::msg(messages.join("; ")));
        }
        for failure in failures {
            host.log(Level::Warn, failure.message());
        }
        Ok(out)
    }
}

sonde_sdk::export!(Process);
