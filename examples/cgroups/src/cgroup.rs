//! One cgroup's interface files → its samples.

use crate::families::{Families, Metric};
use crate::parse;
use crate::report::Report;
use sonde_sdk::FsError;

/// The files read from every cgroup, in this order: they are in one directory, so the host opens
/// it once per cgroup and reads each file relative to it.
pub const FILES: [&str; 12] = [
    "cpu.stat",
    "cpu.pressure",
    "memory.current",
    "memory.max",
    "memory.swap.current",
    "memory.stat",
    "memory.events",
    "memory.pressure",
    "io.stat",
    "io.pressure",
    "pids.current",
    "pids.max",
];

/// Microseconds → seconds.
fn seconds(usec: u64) -> f64 {
    usec as f64 / 1e6
}

/// The contents of one cgroup's [`FILES`], `None` where a file is not there.
pub struct Files<'a> {
    /// The cgroup's label value, e.g. `/system.slice/sshd.service`.
    pub label: &'a str,
    /// Per file of [`FILES`].
    pub texts: [Option<String>; FILES.len()],
}

impl<'a> Files<'a> {
    /// Sorts the read results of one cgroup: a file that is absent (its controller is not
    /// enabled for this cgroup, the kernel lacks it) or went away with the cgroup is `None`
    /// quietly; other errors are `None` and told to `report`.
    pub fn new(
        label: &'a str,
        reads: impl Iterator<Item = Result<Vec<u8>, FsError>>,
        report: &mut Report,
    ) -> Self {
        let mut texts: [Option<String>; FILES.len()] = Default::default();
        for ((slot, file), read) in texts.iter_mut().zip(FILES).zip(reads) {
            match read {
                Ok(bytes) => *slot = Some(String::from_utf8_lossy(&bytes).into_owned()),
                Err(e) if absent(&e) => {}
                Err(e) => report.unreadable(label, file, &e),
            }
        }
        Files { label, texts }
    }

    fn text(&self, file: &str) -> Option<&str> {
        let index = FILES.iter().position(|f| *f == file)?;
        self.texts[index].as_deref()
    }

    /// True when no file could be read (a cgroup that vanished, a name the host could not hand
    /// back, see [`crate::walk`]).
    pub fn is_empty(&self) -> bool {
        self.texts.iter().all(Option::is_none)
    }

    /// Adds the cgroup's samples to `out`; lines that do not parse are told to `report`.
    pub fn emit(&self, out: &mut Families, report: &mut Report) {
        let cgroup = self.label;
        let mut bad = |file: &str, line: &str| report.malformed(cgroup, file, line);

        if let Some(text) = self.text("cpu.stat") {
            let mut stat = [None; 6];
            parse::flat_keyed(
                text,
                |key, value| {
                    let slot = match key {
                        "usage_usec" => 0,
                        "user_usec" => 1,
                        "system_usec" => 2,
                        "nr_periods" => 3,
                        "nr_throttled" => 4,
                        "throttled_usec" => 5,
                        _ => return,
                    };
                    stat[slot] = Some(value);
                },
                &mut |line| bad("cpu.stat", line),
            );
            let metrics = [
                (Metric::CpuUsage, true),
                (Metric::CpuUser, true),
                (Metric::CpuSystem, true),
                (Metric::CpuPeriods, false),
                (Metric::CpuThrottledPeriods, false),
                (Metric::CpuThrottledTime, true),
            ];
            for ((metric, usec), value) in metrics.into_iter().zip(stat) {
                if let Some(value) = value {
                    let value = if usec { seconds(value) } else { value as f64 };
                    out.add(metric, cgroup, None, value);
                }
            }
        }

        let current = self.single("memory.current", &mut bad);
        if let Some(current) = current {
            out.add(Metric::MemoryUsage, cgroup, None, current as f64);
        }
        if let Some(Some(max)) = self.limit("memory.max", &mut bad) {
            out.add(Metric::MemoryLimit, cgroup, None, max as f64);
        }
        if let Some(swap) = self.single("memory.swap.current", &mut bad) {
            out.add(Metric::MemorySwap, cgroup, None, swap as f64);
        }
        if let Some(text) = self.text("memory.stat") {
            let (mut anon, mut file, mut inactive_file) = (None, None, None);
            parse::flat_keyed(
                text,
                |key, value| match key {
                    "anon" => anon = Some(value),
                    "file" => file = Some(value),
                    "inactive_file" => inactive_file = Some(value),
                    _ => {}
                },
                &mut |line| bad("memory.stat", line),
            );
            if let Some(anon) = anon {
                out.add(Metric::MemoryRss, cgroup, None, anon as f64);
            }
            if let Some(file) = file {
                out.add(Metric::MemoryCache, cgroup, None, file as f64);
            }
            // As cAdvisor computes it: never below zero.
            if let (Some(current), Some(inactive)) = (current, inactive_file) {
                let working_set = current.saturating_sub(inactive);
                out.add(Metric::MemoryWorkingSet, cgroup, None, working_set as f64);
            }
        }
        if let Some(text) = self.text("memory.events") {
            let mut seen: Vec<&str> = Vec::new();
            parse::flat_keyed(
                text,
                |event, count| {
                    // A key printed twice would be a second series with the same labels.
                    if !seen.contains(&event) {
                        seen.push(event);
                        out.add(
                            Metric::MemoryEvents,
                            cgroup,
                            Some(("event", event)),
                            count as f64,
                        );
                    }
                },
                &mut |line| bad("memory.events", line),
            );
        }

        if let Some(text) = self.text("io.stat") {
            let mut seen: Vec<&str> = Vec::new();
            let mut bad_values = Vec::new();
            parse::nested_keyed(
                text,
                |device, pairs| {
                    if seen.contains(&device) {
                        return;
                    }
                    seen.push(device);
                    for (name, value) in pairs {
                        let metric = match *name {
                            "rbytes" => Metric::IoReadBytes,
                            "wbytes" => Metric::IoWrittenBytes,
                            "rios" => Metric::IoReads,
                            "wios" => Metric::IoWrites,
                            "dbytes" => Metric::IoDiscardedBytes,
                            "dios" => Metric::IoDiscards,
                            // iocost's and iolatency's debug keys, future ones.
                            _ => continue,
                        };
                        match value.parse::<u64>() {
                            Ok(v) => out.add(metric, cgroup, Some(("device", device)), v as f64),
                            Err(_) => bad_values.push(format!("{device} {name}={value}")),
                        }
                    }
                },
                &mut |line| bad("io.stat", line),
            );
            for value in bad_values {
                bad("io.stat", &value);
            }
        }

        if let Some(threads) = self.single("pids.current", &mut bad) {
            out.add(Metric::Threads, cgroup, None, threads as f64);
        }
        if let Some(Some(max)) = self.limit("pids.max", &mut bad) {
            out.add(Metric::ThreadsLimit, cgroup, None, max as f64);
        }

        let pressures = [
            ("cpu.pressure", Metric::CpuWaiting, Metric::CpuStalled),
            (
                "memory.pressure",
                Metric::MemoryWaiting,
                Metric::MemoryStalled,
            ),
            ("io.pressure", Metric::IoWaiting, Metric::IoStalled),
        ];
        for (file, waiting, stalled) in pressures {
            if let Some(text) = self.text(file) {
                let p = parse::pressure(text, &mut |line| bad(file, line));
                if let Some(some) = p.some {
                    out.add(waiting, cgroup, None, seconds(some));
                }
                if let Some(full) = p.full {
                    out.add(stalled, cgroup, None, seconds(full));
                }
            }
        }
    }

    fn single(&self, file: &str, bad: &mut impl FnMut(&str, &str)) -> Option<u64> {
        let text = self.text(file)?;
        let value = parse::single(text);
        if value.is_none() {
            bad(file, text.trim_end());
        }
        value
    }

    fn limit(&self, file: &str, bad: &mut impl FnMut(&str, &str)) -> Option<Option<u64>> {
        let text = self.text(file)?;
        let value = parse::limit(text);
        if value.is_none() {
            bad(file, text.trim_end());
        }
        value
    }
}

/// Errors that mean "this cgroup has no such file now", not a problem: the file does not exist
/// (controller not enabled, an older kernel), the cgroup was removed while it was read
/// (`ENODEV`), or pressure accounting is off for it (`cgroup.pressure` 0: `EOPNOTSUPP`).
pub fn absent(e: &FsError) -> bool {
    match e {
        FsError::NotFound => true,
        FsError::Other(message) => ["(os error 19)", "(os error 95)"]
            .iter()
            .any(|errno| message.ends_with(errno)),
        _ => false,
    }
}
