//! `/proc/diskstats`: I/O counters of every block device.
//!
//! Lines are parsed by `procfs-core`, which keeps every counter as `u64` and the kernel's
//! optional columns (discards since 4.18, flushes since 5.5) as `Option`s. As node_exporter's
//! procfs does, lines with fewer than 14 columns are skipped rather than failing the file.

use crate::{Error, ResultExt};

pub use procfs_core::DiskStat;

/// The fewest columns a usable line has: major, minor, name and 11 counters.
const MIN_COLUMNS: usize = 14;

/// Parses `/proc/diskstats`, one entry per device line in file order.
pub fn parse(text: &str) -> Result<Vec<DiskStat>, Error> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.split_ascii_whitespace().count() >= MIN_COLUMNS)
        .map(|(i, line)| {
            DiskStat::from_line(line).context(format_args!("/proc/diskstats line {}", i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_14_18_and_20_column_lines() {
        let stats = parse(
            "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n\
             \x20  8      16 sdb 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n\
             \x20  8      32 sdc 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n\
             \x20  1       0 short 1 2 3\n",
        )
        .unwrap();
        assert_eq!(stats.len(), 3);
        let (sda, sdb, sdc) = (&stats[0], &stats[1], &stats[2]);
        assert_eq!((sda.major, sda.minor, sda.name.as_str()), (8, 0, "sda"));
        assert_eq!(sda.weighted_time_in_progress, 11);
        assert_eq!(sda.discards, None);
        assert_eq!(sdb.time_discarding, Some(15));
        assert_eq!(sdb.flushes, None);
        assert_eq!((sdc.flushes, sdc.time_flushing), (Some(16), Some(17)));
        assert_eq!(sdc.sectors_read, 3);
    }

    #[test]
    fn non_numeric_counters_are_errors() {
        let err = parse("8 0 sda 1 2 x 4 5 6 7 8 9 10 11\n").unwrap_err();
        assert!(
            err.to_string().starts_with("/proc/diskstats line 1: "),
            "{err}"
        );
    }
}
