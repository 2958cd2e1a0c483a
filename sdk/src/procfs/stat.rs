//! `/proc/stat`: per-CPU times and the kernel's activity counters.

use crate::Error;

/// The times of one `cpuN` line, in `USER_HZ` ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTicks {
    /// The CPU number (`N` of `cpuN`); CPUs that are offline have no line.
    pub cpu: u32,
    /// Normal processes in user mode.
    pub user: u64,
    /// Niced processes in user mode.
    pub nice: u64,
    /// Kernel mode.
    pub system: u64,
    /// Idle.
    pub idle: u64,
    /// Waiting for I/O.
    pub iowait: u64,
    /// Servicing interrupts.
    pub irq: u64,
    /// Servicing softirqs.
    pub softirq: u64,
    /// Stolen by the hypervisor.
    pub steal: u64,
    /// Running a guest (included in `user`).
    pub guest: u64,
    /// Running a niced guest (included in `nice`).
    pub guest_nice: u64,
}

/// The parts of `/proc/stat` collectors use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stat {
    /// One entry per `cpuN` line, in file order (the `cpu` total line is left out).
    pub cpus: Vec<CpuTicks>,
    /// Total interrupts serviced (first field of `intr`).
    pub interrupts: u64,
    /// Context switches (`ctxt`).
    pub context_switches: u64,
    /// Boot time, seconds since the epoch (`btime`).
    pub boot_time: u64,
    /// Forks since boot (`processes`).
    pub forks: u64,
    /// Processes in runnable state (`procs_running`).
    pub procs_running: u64,
    /// Processes blocked on I/O (`procs_blocked`).
    pub procs_blocked: u64,
    /// The `softirq` line: total, then one count per softirq type.
    pub softirqs: Vec<u64>,
}

/// Parses `/proc/stat`. Missing trailing CPU fields (old kernels) read as 0.
pub fn parse(text: &str) -> Result<Stat, Error> {
    let mut stat = Stat::default();
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let Some(key) = fields.next() else { continue };
        let bad = |e: std::num::ParseIntError| Error::msg(format!("/proc/stat: line {key:?}: {e}"));
        let mut first =
            || -> Result<u64, Error> { fields.next().unwrap_or("0").parse().map_err(bad) };
        match key {
            "cpu" => {}
            "intr" => stat.interrupts = first()?,
            "ctxt" => stat.context_switches = first()?,
            "btime" => stat.boot_time = first()?,
            "processes" => stat.forks = first()?,
            "procs_running" => stat.procs_running = first()?,
            "procs_blocked" => stat.procs_blocked = first()?,
            "softirq" => {
                stat.softirqs = fields
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .map_err(bad)?
            }
            _ => {
                if let Some(n) = key.strip_prefix("cpu") {
                    let cpu = n.parse().map_err(bad)?;
                    let mut t = [0u64; 10];
                    for (slot, field) in t.iter_mut().zip(fields) {
                        *slot = field.parse().map_err(bad)?;
                    }
                    stat.cpus.push(CpuTicks {
                        cpu,
                        user: t[0],
                        nice: t[1],
                        system: t[2],
                        idle: t[3],
                        iowait: t[4],
                        irq: t[5],
                        softirq: t[6],
                        steal: t[7],
                        guest: t[8],
                        guest_nice: t[9],
                    });
                }
            }
        }
    }
    Ok(stat)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  301854 612 111922 8979004 3552 2 3944 0 44 36
cpu0 44490 19 21045 1087069 220 1 3410 0 2 1
cpu3 47054 102 15683 1113230 533 0 60 0 5 4
intr 8885917 17 0 0
ctxt 38014093
btime 1418183276
processes 26442
procs_running 2
procs_blocked 1
softirq 5057579 250191 1481983
";

    #[test]
    fn parses_cpus_with_their_numbers() {
        let s = parse(STAT).unwrap();
        assert_eq!(s.cpus.len(), 2);
        assert_eq!(
            s.cpus[1].cpu, 3,
            "an offline cpu leaves a gap, numbers are kept"
        );
        assert_eq!(s.cpus[0].idle, 1087069);
        assert_eq!(s.cpus[0].guest_nice, 1);
        assert_eq!(
            (s.interrupts, s.context_switches, s.boot_time, s.forks),
            (8885917, 38014093, 1418183276, 26442)
        );
        assert_eq!((s.procs_running, s.procs_blocked), (2, 1));
        assert_eq!(s.softirqs, [5057579, 250191, 1481983]);
    }

    #[test]
    fn old_kernel_lines_default_to_zero() {
        let s = parse("cpu0 1 2 3 4\n").unwrap();
        assert_eq!(s.cpus[0].idle, 4);
        assert_eq!(s.cpus[0].steal, 0);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(
            parse("cpu0 1 x\n")
                .unwrap_err()
                .to_string()
                .contains("cpu0")
        );
    }
}
