//! node_exporter's `tapestats` collector: I/O statistics of SCSI tape drives, from
//! `/sys/class/scsi_tape/st<N>/stats/` (the `nst*` and mode variants `st<N>[alm]` are the same
//! drive and skipped), as procfs' `SCSITapeClass` reads them. Times are nanoseconds in the
//! kernel, seconds here.
//!
//! Ignored devices are skipped before their files are read (node_exporter reads them, then
//! drops them). A drive without `stats/` is left out without an error (node_exporter then
//! reports no data for all drives); one whose statistics cannot be read or parsed is left out
//! and fails the part.

use crate::{Problems, sys_text};
use serde::{Deserialize, Serialize};
use sonde_procfs::numbers::parse_u64;
use sonde_sdk::bundle::Part;
use sonde_sdk::filter::NameFilter;
use sonde_sdk::{Error, FsError, Host, MetricFamily, MetricKind, Root};

/// `tapestats = { … }`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Run it (`--collector.tapestats`, on).
    pub enabled: bool,
    /// Devices matching this regex are left out (`--collector.tapestats.ignored-devices`, `^$`).
    pub ignored_devices: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            ignored_devices: "^$".to_owned(),
        }
    }
}

/// The tapestats part.
pub struct Tapestats {
    ignored: NameFilter,
}

impl Tapestats {
    /// Checks the config's pattern.
    pub fn new(config: &Config) -> Result<Self, Error> {
        Ok(Tapestats {
            ignored: NameFilter::new("", &config.ignored_devices)?,
        })
    }
}

/// The statistics: file in `stats/`, metric suffix, type, scale, HELP.
const STATS: [(&str, &str, MetricKind, f64, &str); 10] = [
    (
        "in_flight",
        "io_now",
        MetricKind::Gauge,
        1.0,
        "The number of I/Os currently outstanding to this device.",
    ),
    (
        "io_ns",
        "io_time_seconds_total",
        MetricKind::Counter,
        0.000000001,
        "The amount of time spent waiting for all I/O to complete (including read and write). This includes tape movement commands such as seeking between file or set marks and implicit tape movement such as when rewind on close tape devices are used.",
    ),
    (
        "other_cnt",
        "io_others_total",
        MetricKind::Counter,
        1.0,
        "The number of I/Os issued to the tape drive other than read or write commands. The time taken to complete these commands uses the following calculation io_time_seconds_total-read_time_seconds_total-write_time_seconds_total",
    ),
    (
        "read_byte_cnt",
        "read_bytes_total",
        MetricKind::Counter,
        1.0,
        "The number of bytes read from the tape drive.",
    ),
    (
        "read_cnt",
        "reads_completed_total",
        MetricKind::Counter,
        1.0,
        "The number of read requests issued to the tape drive.",
    ),
    (
        "read_ns",
        "read_time_seconds_total",
        MetricKind::Counter,
        0.000000001,
        "The amount of time spent waiting for read requests to complete.",
    ),
    (
        "resid_cnt",
        "residual_total",
        MetricKind::Counter,
        1.0,
        "The number of times during a read or write we found the residual amount to be non-zero. This should mean that a program is issuing a read larger thean the block size on tape. For write not all data made it to tape.",
    ),
    (
        "write_byte_cnt",
        "written_bytes_total",
        MetricKind::Counter,
        1.0,
        "The number of bytes written to the tape drive.",
    ),
    (
        "write_cnt",
        "writes_completed_total",
        MetricKind::Counter,
        1.0,
        "The number of write requests issued to the tape drive.",
    ),
    (
        "write_ns",
        "write_time_seconds_total",
        MetricKind::Counter,
        0.000000001,
        "The amount of time spent waiting for write requests to complete.",
    ),
];

impl Part for Tapestats {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let tapes = match host.read_dir(Root::Sys, "class/scsi_tape") {
            Ok(tapes) => tapes,
            Err(FsError::NotFound) => return Ok(()),
            Err(e) => return Err(Error::msg(format!("listing /sys/class/scsi_tape: {e}"))),
        };
        let mut families: Vec<MetricFamily> = STATS
            .iter()
            .map(|(_, suffix, kind, _, help)| {
                MetricFamily::new(format!("node_tape_{suffix}"), *help, *kind)
            })
            .collect();
        let mut problems = Problems::default();
        for tape in tapes
            .iter()
            .filter(|t| is_drive(&t.name) && self.ignored.kept(&t.name))
        {
            let values = match read_stats(host, &tape.name) {
                Ok(Some(values)) => values,
                Ok(None) => continue,
                Err(e) => {
                    problems.add(e);
                    continue;
                }
            };
            for ((family, value), (_, _, _, scale, _)) in families.iter_mut().zip(values).zip(STATS)
            {
                family.sample(&[("device", &tape.name)], value as f64 * scale);
            }
        }
        out.extend(families);
        problems.result()
    }
}

/// `^st\d+$`: the drive itself, not its `nst` or mode variants.
fn is_drive(name: &str) -> bool {
    name.strip_prefix("st")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The statistics of drive `name` in [`STATS`] order (0 for a file that is not there, as procfs);
/// `Ok(None)` without a `stats` directory.
fn read_stats(host: &Host, name: &str) -> Result<Option<[u64; 10]>, String> {
    let dir = format!("class/scsi_tape/{name}/stats");
    let files = match host.read_dir(Root::Sys, &dir) {
        Ok(files) => files,
        Err(FsError::NotFound) => return Ok(None),
        Err(e) => return Err(format!("listing /sys/{dir}: {e}")),
    };
    let wanted: Vec<(usize, String)> = files
        .iter()
        .filter_map(|f| {
            let at = STATS.iter().position(|(file, ..)| *file == f.name)?;
            Some((at, format!("{dir}/{}", f.name)))
        })
        .collect();
    let paths: Vec<&str> = wanted.iter().map(|(_, p)| p.as_str()).collect();
    let mut values = [0; 10];
    for ((at, path), read) in wanted.iter().zip(host.read_many(Root::Sys, &paths)) {
        let bytes = read.map_err(|e| format!("reading /sys/{path}: {e}"))?;
        values[*at] = parse_u64(&sys_text(&bytes)).map_err(|e| format!("/sys/{path}: {e}"))?;
    }
    Ok(Some(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drives_only() {
        assert!(is_drive("st0") && is_drive("st12"));
        for other in ["nst0", "st0a", "st0l", "st", "st0m", "xst0"] {
            assert!(!is_drive(other), "{other}");
        }
    }
}
