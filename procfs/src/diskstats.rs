//! `/proc/diskstats`: I/O counters of every block device.
//!
//! Entries are `procfs-core`'s `DiskStat`, which keeps every counter as `u64` and the kernel's
//! optional columns (discards since 4.18, flushes since 5.5) as `Option`s. The lines are parsed
//! here: `procfs-core` fails on a bad line with an error blaming itself, and reads an optional
//! column that is not a number as absent.

use super::{Skipped, quoted};

pub use procfs_core::DiskStat;

/// The widths of the lines kernels print: major, minor, name and 11 counters, then 4 for
/// discards (4.18), then 2 for flushes (5.5). A newer kernel's further columns are ignored.
const WIDTHS: [usize; 3] = [14, 18, 20];

/// The width of a partition's line before Linux 2.6.25 (4 counters), which node_exporter's
/// procfs leaves out.
const OLD_PARTITION_WIDTH: usize = 7;

/// Parses `/proc/diskstats`, one entry per device line in file order. A line of a width no kernel
/// printed was cut short and is skipped, as is a line with a counter that is not a number;
/// blank lines and old partition lines are left out silently.
pub fn parse(text: &str) -> (Vec<DiskStat>, Skipped) {
    let mut stats = Vec::new();
    let mut skipped = Skipped::default();
    for (index, line) in text.lines().enumerate() {
        let columns: Vec<&str> = line.split_ascii_whitespace().collect();
        let width = columns.len();
        if width == 0 || width == OLD_PARTITION_WIDTH {
            continue;
        }
        let parsed = if width < WIDTHS[2] && !WIDTHS.contains(&width) {
            Err(format!("{width} columns, which no kernel prints"))
        } else {
            parse_columns(&columns)
        };
        match parsed {
            Ok(stat) => stats.push(stat),
            Err(why) => skipped.line(index + 1, format!("{why} in line {}", quoted(line))),
        }
    }
    (stats, skipped)
}

/// The columns of a line of one of [`WIDTHS`] (or wider).
fn parse_columns(columns: &[&str]) -> Result<DiskStat, String> {
    let number = |i: usize| -> Result<u64, String> {
        columns[i]
            .parse()
            .map_err(|e| format!("column {} {:?}: {e}", i + 1, columns[i]))
    };
    let optional = |i: usize| columns.get(i).map(|_| number(i)).transpose();
    let device = |i: usize| {
        columns[i]
            .parse()
            .map_err(|e| format!("device number {:?}: {e}", columns[i]))
    };
    Ok(DiskStat {
        major: device(0)?,
        minor: device(1)?,
        name: columns[2].to_owned(),
        reads: number(3)?,
        merged: number(4)?,
        sectors_read: number(5)?,
        time_reading: number(6)?,
        writes: number(7)?,
        writes_merged: number(8)?,
        sectors_written: number(9)?,
        time_writing: number(10)?,
        in_progress: number(11)?,
        time_in_progress: number(12)?,
        weighted_time_in_progress: number(13)?,
        discards: optional(14)?,
        discards_merged: optional(15)?,
        sectors_discarded: optional(16)?,
        time_discarding: optional(17)?,
        flushes: optional(18)?,
        time_flushing: optional(19)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_14_18_and_20_column_lines() {
        let (stats, skipped) = parse(
            "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n\
             \x20  8      16 sdb 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n\
             \x20  8      32 sdc 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n\
             \x20  1       0 short 1 2 3\n",
        );
        assert_eq!(stats.len(), 3);
        assert_eq!(skipped.count(), 1, "the short line is skipped, and counted");
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
        let (stats, skipped) = parse("8 0 sda 1 2 x 4 5 6 7 8 9 10 11\n");
        assert!(stats.is_empty());
        let err = skipped.result("/proc/diskstats", false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/proc/diskstats: column 6 \"x\": invalid digit found in string in line \
             \"8 0 sda 1 2 x 4 5 6 7 8 9 10 11\""
        );
    }

    #[test]
    fn a_malformed_line_is_skipped_the_other_devices_kept() {
        let (stats, skipped) = parse(
            "8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n\
             8 16 sdb 1 2 3 4 5 6 7 8 9 10 11 x 13 14 15\n\
             8 32 sdc 1 2 3 4 5 6 7 8 9 10 11 12 13\n\
             8 48 sdd 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n\
             3 1 hda1 1 2 3 4\n\
             8 64 sde 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19\n",
        );
        let names: Vec<&str> = stats.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["sda", "sdd", "sde"],
            "an old partition line is left out"
        );
        assert_eq!(
            stats[2].time_flushing,
            Some(17),
            "extra columns are ignored"
        );
        assert_eq!(
            skipped
                .result("/proc/diskstats", true)
                .unwrap_err()
                .to_string(),
            "/proc/diskstats: 2 malformed lines skipped, first line 2: column 15 \"x\": invalid \
             digit found in string in line \"8 16 sdb 1 2 3 4 5 6 7 8 9 10 11 x 13 14 15\""
        );
    }
}
