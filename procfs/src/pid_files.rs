//! The other per-process files a process monitor reads, beside `stat` ([`super::pid_stat`]):
//! `/proc/<pid>/status`, `io`, `limits`, `smaps_rollup` and `cmdline`.
//!
//! Each parser reads only the few fields process monitors (process-exporter) report and
//! allocates nothing, since they run for every monitored process each cycle; `procfs-core`
//! parses every line of these files into maps of owned strings.

use sonde_sdk::Error;

/// Counters of `/proc/<pid>/status`. Lines the kernel leaves out (kernel threads have no `Vm*`
/// lines) read as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusCounters {
    /// `VmSwap`: swapped-out memory, in KiB.
    pub vm_swap_kib: u64,
    /// `voluntary_ctxt_switches` (of this thread; of the main thread for a process).
    pub voluntary_ctxt_switches: u64,
    /// `nonvoluntary_ctxt_switches` (idem).
    pub nonvoluntary_ctxt_switches: u64,
}

/// Parses `/proc/<pid>/status` (or `task/<tid>/status`).
pub fn parse_status(text: &str) -> Result<StatusCounters, Error> {
    let mut status = StatusCounters::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let slot = match key {
            "VmSwap" => &mut status.vm_swap_kib,
            "voluntary_ctxt_switches" => &mut status.voluntary_ctxt_switches,
            "nonvoluntary_ctxt_switches" => &mut status.nonvoluntary_ctxt_switches,
            _ => continue,
        };
        *slot = first_number(value).map_err(|e| e.context(format!("status: {key}")))?;
    }
    Ok(status)
}

/// The storage I/O counters of `/proc/<pid>/io`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IoBytes {
    /// `read_bytes`: bytes fetched from the storage layer.
    pub read_bytes: u64,
    /// `write_bytes`: bytes sent to the storage layer.
    pub write_bytes: u64,
}

/// Parses `/proc/<pid>/io`; both fields must be present.
pub fn parse_io(text: &str) -> Result<IoBytes, Error> {
    let (mut read, mut write) = (None, None);
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let slot = match key {
            "read_bytes" => &mut read,
            "write_bytes" => &mut write,
            _ => continue,
        };
        *slot = Some(first_number(value).map_err(|e| e.context(format!("io: {key}")))?);
    }
    match (read, write) {
        (Some(read_bytes), Some(write_bytes)) => Ok(IoBytes {
            read_bytes,
            write_bytes,
        }),
        _ => Err(Error::msg("io: missing read_bytes or write_bytes")),
    }
}

/// The soft limit on open files from `/proc/<pid>/limits` (`Max open files`), with
/// `unlimited` as `u64::MAX` (as procfs in Go reads it).
pub fn parse_open_files_limit(text: &str) -> Result<u64, Error> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .ok_or_else(|| Error::msg("limits: no \"Max open files\" line"))?;
    match line.split_ascii_whitespace().next() {
        Some("unlimited") => Ok(u64::MAX),
        Some(soft) => soft
            .parse()
            .map_err(|e| Error::msg(format!("limits: Max open files {soft:?}: {e}"))),
        None => Err(Error::msg("limits: empty \"Max open files\" line")),
    }
}

/// The proportional set sizes of `/proc/<pid>/smaps_rollup`, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Proportional {
    /// `Pss`: resident memory, shared pages divided among the processes that map them.
    pub pss_bytes: u64,
    /// `SwapPss`: swapped memory, divided likewise.
    pub swap_pss_bytes: u64,
}

/// Parses `/proc/<pid>/smaps_rollup` (values in kB); missing lines read as 0.
pub fn parse_smaps_rollup(text: &str) -> Result<Proportional, Error> {
    let mut sizes = Proportional::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let slot = match key {
            "Pss" => &mut sizes.pss_bytes,
            "SwapPss" => &mut sizes.swap_pss_bytes,
            _ => continue,
        };
        *slot = first_number(value).map_err(|e| e.context(format!("smaps_rollup: {key}")))? * 1024;
    }
    Ok(sizes)
}

/// Turns the raw `/proc/<pid>/cmdline` (arguments each followed by a NUL) in place into the
/// arguments joined by spaces, as process-exporter matches them (`strings.Join(argv, " ")`), and
/// returns the length of `argv[0]`; `None` when there are no arguments (kernel threads, zombies).
/// Trailing NULs are dropped first, as procfs (Go) does, so a cmdline of only NULs is one empty
/// argument.
pub fn join_cmdline(raw: &mut String) -> Option<usize> {
    if raw.is_empty() {
        return None;
    }
    raw.truncate(raw.trim_end_matches('\0').len());
    let argv0 = raw.find('\0').unwrap_or(raw.len());
    if argv0 < raw.len() {
        // NUL and space are both one ASCII byte: replace in place, the text stays UTF-8.
        let mut bytes = std::mem::take(raw).into_bytes();
        bytes
            .iter_mut()
            .filter(|b| **b == 0)
            .for_each(|b| *b = b' ');
        *raw = String::from_utf8(bytes).unwrap_or_default();
    }
    Some(argv0)
}

/// The first whitespace-separated token of `value` as an integer (`  1234 kB` → 1234).
fn first_number(value: &str) -> Result<u64, Error> {
    let field = value.split_ascii_whitespace().next().unwrap_or("");
    field
        .parse()
        .map_err(|e| Error::msg(format!("{field:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tpython3\nState:\tS (sleeping)\nVmRSS:\t   13568 kB\n\
        VmSwap:\t      12 kB\nThreads:\t3\nvoluntary_ctxt_switches:\t27\n\
        nonvoluntary_ctxt_switches:\t7\n";

    #[test]
    fn status_counters() {
        let s = parse_status(STATUS).unwrap();
        assert_eq!(s.vm_swap_kib, 12);
        assert_eq!(
            (s.voluntary_ctxt_switches, s.nonvoluntary_ctxt_switches),
            (27, 7)
        );
        // A kernel thread has no Vm* lines.
        let k = parse_status("Name:\tkthreadd\nvoluntary_ctxt_switches:\t5\n").unwrap();
        assert_eq!((k.vm_swap_kib, k.voluntary_ctxt_switches), (0, 5));
        assert!(parse_status("VmSwap:\tlots kB\n").is_err());
    }

    #[test]
    fn io_bytes() {
        let io = parse_io(
            "rchar: 1686302\nwchar: 1689\nsyscr: 674\nsyscw: 29\nread_bytes: 192512\n\
             write_bytes: 4096\ncancelled_write_bytes: 0\n",
        )
        .unwrap();
        assert_eq!((io.read_bytes, io.write_bytes), (192512, 4096));
        assert!(parse_io("rchar: 1\n").is_err());
    }

    #[test]
    fn open_files_soft_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
            Max cpu time              unlimited            unlimited            seconds   \n\
            Max open files            1024                 4096                 files     \n";
        assert_eq!(parse_open_files_limit(limits).unwrap(), 1024);
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_open_files_limit(unlimited).unwrap(), u64::MAX);
        assert!(parse_open_files_limit("Max processes 1 1 processes\n").is_err());
    }

    #[test]
    fn proportional_sizes() {
        let p = parse_smaps_rollup(
            "5598d4ee1000-7ffeb56dd000 ---p 00000000 00:00 0   [rollup]\nRss:   13568 kB\n\
             Pss:               11764 kB\nPss_Dirty:  6924 kB\nSwapPss:  3 kB\n",
        )
        .unwrap();
        assert_eq!((p.pss_bytes, p.swap_pss_bytes), (11764 * 1024, 3 * 1024));
    }

    #[test]
    fn cmdlines() {
        let mut raw = String::from("/usr/bin/python3\0/tmp/mt.py\0--queue=a b\0");
        assert_eq!(join_cmdline(&mut raw), Some(16));
        assert_eq!(raw, "/usr/bin/python3 /tmp/mt.py --queue=a b");
        let mut rewritten = String::from("nginx: worker process\0\0\0");
        assert_eq!(join_cmdline(&mut rewritten), Some(21));
        assert_eq!(rewritten, "nginx: worker process");
        let mut kernel = String::new();
        assert_eq!(join_cmdline(&mut kernel), None);
        let mut nuls = String::from("\0\0");
        assert_eq!(join_cmdline(&mut nuls), Some(0));
        assert_eq!(nuls, "");
    }
}
