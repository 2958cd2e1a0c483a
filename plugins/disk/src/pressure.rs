//! The I/O part of node_exporter's `pressure` collector: how long tasks stalled on I/O, from
//! `/proc/pressure/io` (kernel ≥ 4.20 with PSI enabled).

use sonde_procfs::pressure;
use sonde_sdk::bundle::Part;
use sonde_sdk::{Error, FsError, Host, MetricFamily, ResultExt, Root};

/// The pressure part (its I/O half).
pub struct Pressure;

impl Part for Pressure {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        collect(host, out)
    }
}

/// `node_pressure_io_waiting_seconds_total` and `node_pressure_io_stalled_seconds_total`; nothing
/// when the kernel has no PSI or reports only one of the `some` and `full` lines (node_exporter
/// then reports no I/O pressure either). A malformed line fails the part.
pub fn collect(host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let text = match host.read_to_string(Root::Proc, "pressure/io") {
        Err(FsError::NotFound) => return Ok(()),
        read => read.context("reading /proc/pressure/io")?,
    };
    let (io, skipped) = pressure::parse(&text);
    let kept = io.some.is_some() || io.full.is_some();
    let (Some(some), Some(full)) = (io.some, io.full) else {
        return skipped.result("/proc/pressure/io", kept);
    };
    out.extend([
        MetricFamily::counter(
            "node_pressure_io_waiting_seconds_total",
            "Total time in seconds that processes have waited due to IO congestion",
        )
        .with_value(pressure::seconds(some.total_us)),
        MetricFamily::counter(
            "node_pressure_io_stalled_seconds_total",
            "Total time in seconds no process could make progress due to IO congestion",
        )
        .with_value(pressure::seconds(full.total_us)),
    ]);
    skipped.result("/proc/pressure/io", kept)
}
