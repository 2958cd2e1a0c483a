//! `/proc/stat`: per-CPU times and the kernel's activity counters.
//!
//! The CPU lines ([`parse_cpus`]) and the counters ([`parse`]) are parsed separately, so that a
//! malformed line counts against the part that reads it only.

use super::{Skipped, quoted};

/// The times of one `cpuN` line, in `USER_HZ` ticks. Columns an older kernel does not print
/// (`steal` before Linux 2.6.11, `guest` before 2.6.24, `guest_nice` before 2.6.33) read as 0,
/// as node_exporter reports them.
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

/// The numbers of columns kernels have printed on CPU lines: 4 (2.4), 7 (2.6.0), 8 (2.6.11),
/// 9 (2.6.24), then 10 (2.6.33 on). More is a newer kernel's; the first 10 are read.
const CPU_COLUMNS: [usize; 5] = [4, 7, 8, 9, 10];

/// Parses the `cpuN` lines of `/proc/stat`, in file order (the `cpu` total line is left out).
///
/// The kernel prints every CPU line, the total included, with the same columns. A line with
/// fewer than the widest line, or with a number of columns no kernel printed, was cut short; it
/// is skipped, as is a line with a value that is not a number.
pub fn parse_cpus(text: &str) -> (Vec<CpuTicks>, Skipped) {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| line.starts_with("cpu"))
        .collect();
    let widest = lines
        .iter()
        .map(|(_, line)| line.split_ascii_whitespace().count() - 1)
        .max()
        .unwrap_or(0);
    let mut cpus = Vec::with_capacity(lines.len());
    let mut skipped = Skipped::default();
    for (index, line) in lines {
        match parse_cpu_line(line, widest) {
            Ok(Some(ticks)) => cpus.push(ticks),
            Ok(None) => {}
            Err(problem) => skipped.line(index + 1, format!("{problem} in line {}", quoted(line))),
        }
    }
    (cpus, skipped)
}

/// One CPU line; `None` for the `cpu` total line.
fn parse_cpu_line(line: &str, widest: usize) -> Result<Option<CpuTicks>, String> {
    let mut fields = line.split_ascii_whitespace();
    let key = fields.next().unwrap_or_default();
    if key == "cpu" {
        return Ok(None);
    }
    let values: Vec<&str> = fields.collect();
    let columns = values.len();
    if columns < widest {
        return Err(format!("{columns} columns, other CPU lines have {widest}"));
    }
    if columns < 10 && !CPU_COLUMNS.contains(&columns) {
        return Err(format!("{columns} columns, which no kernel prints"));
    }
    let cpu = key[3..]
        .parse()
        .map_err(|e| format!("CPU number {key:?}: {e}"))?;
    let mut t = [0u64; 10];
    for (slot, value) in t.iter_mut().zip(&values) {
        *slot = value.parse().map_err(|e| format!("{value:?}: {e}"))?;
    }
    Ok(Some(CpuTicks {
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
    }))
}

/// The activity counters of `/proc/stat`; `None` for a line the file does not have (or that was
/// malformed), never 0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stat {
    /// Total interrupts serviced (first field of `intr`).
    pub interrupts: Option<u64>,
    /// Context switches (`ctxt`).
    pub context_switches: Option<u64>,
    /// Boot time, seconds since the epoch (`btime`).
    pub boot_time: Option<u64>,
    /// Forks since boot (`processes`).
    pub forks: Option<u64>,
    /// Processes in runnable state (`procs_running`).
    pub procs_running: Option<u64>,
    /// Processes blocked on I/O (`procs_blocked`).
    pub procs_blocked: Option<u64>,
    /// The `softirq` line.
    pub softirqs: Softirqs,
}

/// The `softirq` line of `/proc/stat`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Softirqs {
    /// The file has no such line (kernels before 2.6.31).
    #[default]
    Absent,
    /// The total, then one count per softirq type.
    Counts(Vec<u64>),
    /// The line has a value that is not a number (it is counted as skipped).
    Malformed,
}

/// Parses the counters of `/proc/stat` (the CPU lines are left to [`parse_cpus`]). A counter
/// line without a number, or whose number does not parse, is skipped.
pub fn parse(text: &str) -> (Stat, Skipped) {
    let mut stat = Stat::default();
    let mut skipped = Skipped::default();
    for (index, line) in text.lines().enumerate() {
        let mut fields = line.split_ascii_whitespace();
        let Some(key) = fields.next() else { continue };
        let slot = match key {
            "intr" => &mut stat.interrupts,
            "ctxt" => &mut stat.context_switches,
            "btime" => &mut stat.boot_time,
            "processes" => &mut stat.forks,
            "procs_running" => &mut stat.procs_running,
            "procs_blocked" => &mut stat.procs_blocked,
            "softirq" => {
                let counts: Result<Vec<u64>, _> = fields.map(str::parse).collect();
                stat.softirqs = match counts {
                    Ok(counts) if !counts.is_empty() => Softirqs::Counts(counts),
                    Ok(_) => {
                        skipped.line(index + 1, format!("no value in line {}", quoted(line)));
                        Softirqs::Malformed
                    }
                    Err(e) => {
                        skipped.line(index + 1, format!("{e} in line {}", quoted(line)));
                        Softirqs::Malformed
                    }
                };
                continue;
            }
            _ => continue,
        };
        // Only the first number of `intr` is read; the per-IRQ counts after it are not used.
        match fields.next().map(str::parse) {
            Some(Ok(value)) => *slot = Some(value),
            Some(Err(e)) => skipped.line(index + 1, format!("{e} in line {}", quoted(line))),
            None => skipped.line(index + 1, format!("no value in line {}", quoted(line))),
        }
    }
    (stat, skipped)
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
        let (cpus, skipped) = parse_cpus(STAT);
        assert!(skipped.is_empty());
        assert_eq!(cpus.len(), 2);
        assert_eq!(
            cpus[1].cpu, 3,
            "an offline cpu leaves a gap, numbers are kept"
        );
        assert_eq!(cpus[0].idle, 1087069);
        assert_eq!(cpus[0].guest_nice, 1);
        let (s, skipped) = parse(STAT);
        assert!(skipped.is_empty());
        assert_eq!(
            (s.interrupts, s.context_switches, s.boot_time, s.forks),
            (Some(8885917), Some(38014093), Some(1418183276), Some(26442))
        );
        assert_eq!((s.procs_running, s.procs_blocked), (Some(2), Some(1)));
        assert_eq!(s.softirqs, Softirqs::Counts(vec![5057579, 250191, 1481983]));
    }

    #[test]
    fn old_kernel_lines_default_to_zero() {
        let (cpus, skipped) = parse_cpus("cpu0 1 2 3 4\n");
        assert!(skipped.is_empty());
        assert_eq!(cpus[0].idle, 4);
        assert_eq!(cpus[0].steal, 0);
        let (cpus, _) = parse_cpus("cpu 1 2 3 4 5 6 7 8\ncpu0 1 2 3 4 5 6 7 8\n");
        assert_eq!((cpus[0].steal, cpus[0].guest), (8, 0));
    }

    #[test]
    fn garbage_is_an_error() {
        let (cpus, skipped) = parse_cpus("cpu0 1 x\n");
        assert!(cpus.is_empty());
        assert!(
            skipped
                .result("/proc/stat", false)
                .unwrap_err()
                .to_string()
                .contains("cpu0")
        );
    }

    #[test]
    fn a_cpu_line_cut_short_is_skipped_not_zero() {
        let text = STAT.replace(
            "cpu0 44490 19 21045 1087069 220 1 3410 0 2 1",
            "cpu0 301854 612",
        );
        let (cpus, skipped) = parse_cpus(&text);
        assert_eq!(cpus.len(), 1);
        assert_eq!(cpus[0].cpu, 3);
        assert_eq!(
            skipped.result("/proc/stat", true).unwrap_err().to_string(),
            "/proc/stat: 1 malformed line skipped: line 2: 2 columns, other CPU lines have 10 \
             in line \"cpu0 301854 612\""
        );
        // Seven columns are a 2.6.0 kernel's line, but not beside lines of ten.
        let text = STAT.replace(
            "cpu3 47054 102 15683 1113230 533 0 60 0 5 4",
            "cpu3 1 2 3 4 5 6 7",
        );
        let (cpus, skipped) = parse_cpus(&text);
        assert_eq!((cpus.len(), skipped.count()), (1, 1));
        // Alone, a line no kernel printed is cut short too.
        let (cpus, skipped) = parse_cpus("cpu0 1 2 3 4 5\n");
        assert_eq!((cpus.len(), skipped.count()), (0, 1));
        // A newer kernel's extra columns are ignored.
        let (cpus, skipped) = parse_cpus("cpu0 1 2 3 4 5 6 7 8 9 10 11\n");
        assert_eq!((cpus[0].guest_nice, skipped.count()), (10, 0));
    }

    #[test]
    fn missing_counter_lines_are_none_malformed_ones_skipped() {
        let (s, skipped) = parse("intr 5 1 2\nctxt\nprocesses x\nsoftirq 1 2 x\n");
        assert_eq!(s.interrupts, Some(5));
        assert_eq!(
            (s.context_switches, s.forks, s.boot_time),
            (None, None, None)
        );
        assert_eq!(s.softirqs, Softirqs::Malformed);
        assert_eq!(skipped.count(), 3);
        assert_eq!(
            skipped.result("/proc/stat", true).unwrap_err().to_string(),
            "/proc/stat: 3 malformed lines skipped, first line 2: no value in line \"ctxt\""
        );
        let (s, skipped) = parse("ctxt 9\n");
        assert_eq!((s.softirqs, s.boot_time), (Softirqs::Absent, None));
        assert!(skipped.is_empty(), "a missing line is no error");
        // The CPU lines are not the counters' business, nor the reverse.
        assert!(parse("cpu0 1 x\n").1.is_empty());
        assert!(parse_cpus("ctxt x\n").1.is_empty());
    }
}
