//! The families the plugin reports, one table: names after cAdvisor's `container_*` metrics where
//! one has the same meaning (with the unit as a suffix, as Prometheus' conventions ask), after
//! node_exporter's `node_pressure_*` for pressure stall information.

use sonde_sdk::{Label, MetricFamily};

/// One family of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Metric {
    CpuUsage,
    CpuUser,
    CpuSystem,
    CpuPeriods,
    CpuThrottledPeriods,
    CpuThrottledTime,
    MemoryUsage,
    MemoryLimit,
    MemoryWorkingSet,
    MemoryRss,
    MemoryCache,
    MemorySwap,
    MemoryEvents,
    IoReadBytes,
    IoWrittenBytes,
    IoReads,
    IoWrites,
    IoDiscardedBytes,
    IoDiscards,
    Threads,
    ThreadsLimit,
    CpuWaiting,
    CpuStalled,
    MemoryWaiting,
    MemoryStalled,
    IoWaiting,
    IoStalled,
}

/// How many families there are.
pub const COUNT: usize = Metric::IoStalled as usize + 1;

/// Name, HELP and whether the family is a counter, in [`Metric`]'s order.
const DEFINITIONS: [(&str, &str, bool); COUNT] = [
    (
        "cgroup_cpu_usage_seconds_total",
        "CPU time consumed by the cgroup's tasks (cpu.stat usage_usec).",
        true,
    ),
    (
        "cgroup_cpu_user_seconds_total",
        "CPU time the cgroup's tasks spent in user mode (cpu.stat user_usec).",
        true,
    ),
    (
        "cgroup_cpu_system_seconds_total",
        "CPU time the cgroup's tasks spent in kernel mode (cpu.stat system_usec).",
        true,
    ),
    (
        "cgroup_cpu_cfs_periods_total",
        "Enforcement periods of the cgroup's CPU limit that have elapsed (cpu.stat nr_periods).",
        true,
    ),
    (
        "cgroup_cpu_cfs_throttled_periods_total",
        "Enforcement periods in which the cgroup was throttled (cpu.stat nr_throttled).",
        true,
    ),
    (
        "cgroup_cpu_cfs_throttled_seconds_total",
        "Time the cgroup's tasks were throttled by its CPU limit (cpu.stat throttled_usec).",
        true,
    ),
    (
        "cgroup_memory_usage_bytes",
        "Memory used by the cgroup and its descendants, page cache included (memory.current).",
        false,
    ),
    (
        "cgroup_memory_limit_bytes",
        "The cgroup's hard memory limit (memory.max); absent when unlimited.",
        false,
    ),
    (
        "cgroup_memory_working_set_bytes",
        "Memory usage less inactive page cache (memory.current - memory.stat inactive_file), what the OOM killer and kubelet look at.",
        false,
    ),
    (
        "cgroup_memory_rss_bytes",
        "Anonymous memory of the cgroup: heaps, stacks, private mappings (memory.stat anon).",
        false,
    ),
    (
        "cgroup_memory_cache_bytes",
        "Page cache charged to the cgroup (memory.stat file).",
        false,
    ),
    (
        "cgroup_memory_swap_bytes",
        "Swap used by the cgroup (memory.swap.current).",
        false,
    ),
    (
        "cgroup_memory_events_total",
        "Memory events of the cgroup and its descendants (memory.events): low, high, max (limit hits), oom, oom_kill, oom_group_kill.",
        true,
    ),
    (
        "cgroup_io_read_bytes_total",
        "Bytes the cgroup read from the block device (io.stat rbytes).",
        true,
    ),
    (
        "cgroup_io_written_bytes_total",
        "Bytes the cgroup wrote to the block device (io.stat wbytes).",
        true,
    ),
    (
        "cgroup_io_reads_total",
        "Read operations of the cgroup on the block device (io.stat rios).",
        true,
    ),
    (
        "cgroup_io_writes_total",
        "Write operations of the cgroup on the block device (io.stat wios).",
        true,
    ),
    (
        "cgroup_io_discarded_bytes_total",
        "Bytes the cgroup discarded on the block device (io.stat dbytes).",
        true,
    ),
    (
        "cgroup_io_discards_total",
        "Discard operations of the cgroup on the block device (io.stat dios).",
        true,
    ),
    (
        "cgroup_threads",
        "Tasks (threads) in the cgroup and its descendants (pids.current).",
        false,
    ),
    (
        "cgroup_threads_limit",
        "The cgroup's limit on tasks (pids.max); absent when unlimited.",
        false,
    ),
    (
        "cgroup_pressure_cpu_waiting_seconds_total",
        "Time at least one of the cgroup's tasks waited for a CPU (cpu.pressure some total).",
        true,
    ),
    (
        "cgroup_pressure_cpu_stalled_seconds_total",
        "Time all of the cgroup's non-idle tasks waited for a CPU at once (cpu.pressure full total).",
        true,
    ),
    (
        "cgroup_pressure_memory_waiting_seconds_total",
        "Time at least one of the cgroup's tasks stalled on memory (memory.pressure some total).",
        true,
    ),
    (
        "cgroup_pressure_memory_stalled_seconds_total",
        "Time all of the cgroup's non-idle tasks stalled on memory at once (memory.pressure full total).",
        true,
    ),
    (
        "cgroup_pressure_io_waiting_seconds_total",
        "Time at least one of the cgroup's tasks stalled on I/O (io.pressure some total).",
        true,
    ),
    (
        "cgroup_pressure_io_stalled_seconds_total",
        "Time all of the cgroup's non-idle tasks stalled on I/O at once (io.pressure full total).",
        true,
    ),
];

/// The families of one collection, filled cgroup by cgroup.
pub struct Families {
    families: Vec<MetricFamily>,
}

impl Families {
    /// Empty families, one per [`Metric`].
    pub fn new() -> Self {
        Families {
            families: DEFINITIONS
                .iter()
                .map(|&(name, help, counter)| match counter {
                    true => MetricFamily::counter(name, help),
                    false => MetricFamily::gauge(name, help),
                })
                .collect(),
        }
    }

    /// Adds a sample of `metric` with the labels `cgroup` and, when given, `extra`.
    pub fn add(&mut self, metric: Metric, cgroup: &str, extra: Option<(&str, &str)>, value: f64) {
        let mut labels = Vec::with_capacity(1 + usize::from(extra.is_some()));
        labels.push(label("cgroup", cgroup));
        if let Some((name, value)) = extra {
            labels.push(label(name, value));
        }
        self.families[metric as usize].sample_owned(labels, value);
    }

    /// How many samples were added.
    pub fn samples(&self) -> usize {
        self.families.iter().map(|f| f.samples.len()).sum()
    }

    /// The families (empty ones are left out of the exposition by the host).
    pub fn into_vec(self) -> Vec<MetricFamily> {
        self.families
    }
}

fn label(name: &str, value: &str) -> Label {
    Label {
        name: name.to_owned(),
        value: value.to_owned(),
    }
}
