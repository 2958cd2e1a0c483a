//! # sonde-procfs: the /proc and /sys parsers of sonde's collectors
//!
//! Owns the parsers of the kernel files that node_exporter-compatible collectors read: the
//! `/proc` files (one module each, below), the sysfs attribute helpers ([`sysfs`]), the network
//! interfaces of `/sys/class/net` ([`net_class`]), the udev database ([`udev`]), and the number
//! and text helpers with Go's semantics they share ([`numbers`], [`text`]). The built-in plugins,
//! the example `hwmon` plugin and the host (for its own `process_*` metrics and the mounts it
//! watches) use it; a third-party plugin may too. A parser fix is a release of this crate, not of
//! `sonde-sdk`.
//!
//! The parsers return plain Rust values, never metric families: what a collector makes of a
//! field (its metric name, HELP text, labels) is the collector's business. The crate depends on
//! `sonde-sdk` for two things only: [`sonde_sdk::Host`], through which the `/sys` readers and
//! [`auxv`] read (a plugin's only way to the files), and [`sonde_sdk::Error`], which every
//! parser returns so that a collector's `?` works as it did when the parsers were in the SDK.
//!
//! ## `/proc`
//!
//! Parsers for `/proc` files that node_exporter-compatible collectors share.
//!
//! Where `procfs-core` parses a file the way node_exporter reads it, these modules use it; where
//! it loses information node_exporter exposes (the CPU number of each `/proc/stat` line, the full
//! `f64` precision of `/proc/loadavg`), they parse the file themselves.
//!
//! A malformed line does not fail a whole file: the parsers of files of many records leave it
//! out, keep the others and count it in a [`Skipped`], which a part turns into its error after
//! reporting what it could. A field missing from a line is never read as 0, except where the
//! kernel's own format lacks it (older kernels print fewer columns) and node_exporter reports 0.

#![deny(missing_docs)]

pub mod arp;
pub mod auxv;
pub mod buddyinfo;
pub mod conntrack;
pub mod diskstats;
pub mod file_nr;
pub mod kstat;
pub mod loadavg;
pub mod mdstat;
pub mod meminfo;
pub mod mountinfo;
pub mod net_class;
pub mod net_dev;
pub mod netstat;
pub mod numbers;
pub mod pid_files;
pub mod pid_stat;
pub mod pressure;
pub mod slabinfo;
pub mod sockstat;
pub mod softnet;
pub mod stat;
pub mod swaps;
pub mod sys_read;
pub mod sysfs;
pub mod text;
pub mod udev;
pub mod udp;
pub mod vmstat;
pub mod zoneinfo;

use sonde_sdk::Error;
use std::fmt;

/// Clock ticks per second of the `/proc` CPU counters. The kernel exports them in `USER_HZ`,
/// which is 100 on every architecture Linux supports (node_exporter hard-codes it too).
pub const USER_HZ: f64 = 100.0;

/// The malformed lines a parser left out: how many, and the first with what was wrong, for the
/// error of the part that reads the file (one line, however many were skipped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skipped {
    count: usize,
    /// The number (from 1) and problem of the first skipped line.
    first: Option<(usize, String)>,
}

impl Skipped {
    /// Records that line `number` (counted from 1) was left out because of `problem`.
    pub fn line(&mut self, number: usize, problem: impl fmt::Display) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some((number, problem.to_string()));
        }
    }

    /// How many lines were left out.
    pub fn count(&self) -> usize {
        self.count
    }

    /// True when no line was left out.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The outcome of a part that parsed `file`: `Ok` when no line was left out, else an error
    /// that counts them and shows the first, e.g. `/proc/meminfo: 1 malformed line skipped: line
    /// 7: invalid digit found in string in line "Foo: x kB"`. When that line was all there was
    /// to parse (`kept` false, nothing else skipped), the error is its problem alone:
    /// `/proc/net/softnet_stat: 2 columns, expected at least 9`.
    pub fn result(self, file: &str, kept: bool) -> Result<(), Error> {
        let Some((number, problem)) = self.first else {
            return Ok(());
        };
        Err(Error::msg(match (self.count, kept) {
            (1, false) => format!("{file}: {problem}"),
            (1, true) => format!("{file}: 1 malformed line skipped: line {number}: {problem}"),
            (n, _) => {
                format!("{file}: {n} malformed lines skipped, first line {number}: {problem}")
            }
        }))
    }
}

/// `line` quoted for an error message, cut after 80 bytes: some lines (`intr` of `/proc/stat`)
/// are thousands of numbers long.
fn quoted(line: &str) -> String {
    const MAX: usize = 80;
    if line.len() <= MAX {
        return format!("{line:?}");
    }
    let mut end = MAX;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}…", &line[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_lines_make_one_line_errors() {
        assert_eq!(Skipped::default().result("/proc/x", true), Ok(()));
        let mut one = Skipped::default();
        one.line(7, "invalid digit found in string in line \"Foo: x kB\"");
        assert_eq!((one.count(), one.is_empty()), (1, false));
        assert_eq!(
            one.clone()
                .result("/proc/meminfo", true)
                .unwrap_err()
                .to_string(),
            "/proc/meminfo: 1 malformed line skipped: line 7: \
             invalid digit found in string in line \"Foo: x kB\""
        );
        assert_eq!(
            one.result("/proc/meminfo", false).unwrap_err().to_string(),
            "/proc/meminfo: invalid digit found in string in line \"Foo: x kB\""
        );
        let mut three = Skipped::default();
        for number in [2, 5, 9] {
            three.line(number, format!("problem {number}"));
        }
        assert_eq!(
            three
                .result("/proc/net/dev", false)
                .unwrap_err()
                .to_string(),
            "/proc/net/dev: 3 malformed lines skipped, first line 2: problem 2"
        );
    }

    #[test]
    fn long_lines_are_cut_in_messages() {
        assert_eq!(quoted("cpu0 1 2"), "\"cpu0 1 2\"");
        let intr = format!("intr {}", "0 ".repeat(100));
        let q = quoted(&intr);
        assert!(q.starts_with("\"intr 0 0") && q.ends_with("\"…"), "{q}");
        assert_eq!(q.len(), 80 + 2 + "…".len());
        assert!(quoted(&"é".repeat(50)).ends_with("\"…"));
    }
}
