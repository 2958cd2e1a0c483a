//! `/proc/<pid>/stat` and `/proc/<pid>/task/<tid>/stat`: the status line of one process or
//! thread, and the process directories of `/proc`.
//!
//! Process collectors read this file for every process on the machine each cycle, so the parser
//! borrows from the file's text and allocates nothing (`procfs-core`'s `Stat` copies the command
//! name and parses all 52 fields). It reads the fields process monitors use; like procfs (Go),
//! the command name is everything between the first `(` and the last `)`, so names that contain
//! `)` or spaces are kept whole.

use sonde_sdk::Error;

/// The fields of a `stat` line that process collectors use. Times are in `USER_HZ` ticks
/// ([`super::USER_HZ`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PidStat<'a> {
    /// The command name (`comm`, at most 15 bytes), without the parentheses.
    pub comm: &'a str,
    /// The state: `R` running, `S` sleeping, `D` disk sleep, `Z` zombie, `T` stopped, `t`
    /// traced, `X` dead, `I` idle kernel thread, …
    pub state: &'a str,
    /// The parent's pid (0 for `init` and `kthreadd`).
    pub ppid: u32,
    /// Minor page faults.
    pub minflt: u64,
    /// Major page faults.
    pub majflt: u64,
    /// Time in user mode (of all threads, for a process).
    pub utime: u64,
    /// Time in kernel mode (of all threads, for a process).
    pub stime: u64,
    /// Number of threads of the process.
    pub num_threads: u64,
    /// Start time, in ticks after boot.
    pub starttime: u64,
    /// Virtual memory size in bytes.
    pub vsize: u64,
    /// Resident set size, in pages.
    pub rss: u64,
}

/// Parses a `stat` line. Fields after `rss` are not read, so short lines of old kernels parse.
pub fn parse(text: &str) -> Result<PidStat<'_>, Error> {
    let (Some(open), Some(close)) = (text.find('('), text.rfind(')')) else {
        return Err(Error::msg("stat: no (comm) field"));
    };
    if close < open {
        return Err(Error::msg("stat: no (comm) field"));
    }
    let comm = &text[open + 1..close];
    let mut fields = text[close + 1..].split_ascii_whitespace();
    let state = fields
        .next()
        .ok_or_else(|| Error::msg("stat: missing state"))?;
    // `skip` fields are passed over before the one read.
    let mut next = |skip: usize, what: &str| -> Result<u64, Error> {
        let field = fields
            .nth(skip)
            .ok_or_else(|| Error::msg(format!("stat: missing {what}")))?;
        field
            .parse()
            .map_err(|e| Error::msg(format!("stat: {what} {field:?}: {e}")))
    };
    let ppid = next(0, "ppid")?;
    let minflt = next(5, "minflt")?; // after pgrp, session, tty_nr, tpgid, flags
    let majflt = next(1, "majflt")?; // after cminflt
    let utime = next(1, "utime")?; // after cmajflt
    let stime = next(0, "stime")?;
    let num_threads = next(4, "num_threads")?; // after cutime, cstime, priority, nice
    let starttime = next(1, "starttime")?; // after itrealvalue
    let vsize = next(0, "vsize")?;
    let rss = next(0, "rss")?;
    Ok(PidStat {
        comm,
        state,
        ppid: u32::try_from(ppid).map_err(|e| Error::msg(format!("stat: ppid {ppid}: {e}")))?,
        minflt,
        majflt,
        utime,
        stime,
        num_threads,
        starttime,
        vsize,
        rss,
    })
}

/// The pid of a `/proc` entry: `Some` for the numeric directory names (processes, and threads
/// under `task/`), `None` for everything else (`self`, `stat`, …).
pub fn parse_pid(name: &str) -> Option<u32> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSTEMD: &str = "1 (systemd) S 0 1 1 0 -1 4194560 9061 9416027 94 2620 36 98 54406 \
        13885 20 0 1 0 29 109604864 2507 18446744073709551615 1 1 0 0 0 0 671173123 4096 1260 0 \
        0 0 17 0 0 0 19 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn parses_the_fields_process_collectors_use() {
        let s = parse(SYSTEMD).unwrap();
        assert_eq!((s.comm, s.state, s.ppid), ("systemd", "S", 0));
        assert_eq!((s.minflt, s.majflt), (9061, 94));
        assert_eq!((s.utime, s.stime), (36, 98));
        assert_eq!((s.num_threads, s.starttime), (1, 29));
        assert_eq!((s.vsize, s.rss), (109604864, 2507));
    }

    #[test]
    fn comm_runs_to_the_last_parenthesis() {
        let s = parse("42 (a) b (c)) Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 3 0 99 4096 7");
        let s = s.unwrap();
        assert_eq!((s.comm, s.state, s.num_threads), ("a) b (c)", "Z", 3));
        assert_eq!((s.starttime, s.vsize, s.rss), (99, 4096, 7));
    }

    #[test]
    fn truncated_or_garbled_lines_are_errors() {
        assert!(parse("1 systemd S 0").is_err());
        let err = parse("1 (x) S 0 1 1 0 -1 4194560 9061").unwrap_err();
        assert!(err.to_string().contains("missing majflt"), "{err}");
        let err = parse("1 (x) S -3 1").unwrap_err();
        assert!(err.to_string().contains("ppid"), "{err}");
        assert!(parse(")(").is_err());
    }

    #[test]
    fn pids_are_numeric_names() {
        assert_eq!(parse_pid("1"), Some(1));
        assert_eq!(parse_pid("4194304"), Some(4194304));
        for other in ["self", "", "+1", "-1", "1a", "thread-self", "99999999999"] {
            assert_eq!(parse_pid(other), None, "{other}");
        }
    }
}
