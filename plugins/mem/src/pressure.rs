//! The memory part of node_exporter's `pressure` collector (`/proc/pressure/memory`).

use sonde_procfs::pressure;
use sonde_sdk::bundle::{Part, read_optional};
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// The memory pressure part.
pub struct Pressure;

impl Part for Pressure {
    /// Appends `node_pressure_memory_{waiting,stalled}_seconds_total`. Like node_exporter,
    /// reports nothing when the kernel has no PSI or the file lacks its `some` or `full` line; a
    /// malformed line fails the part.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        collect(host, out)
    }
}

fn collect(host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let Some(text) = read_optional(host, Root::Proc, "pressure/memory")? else {
        return Ok(());
    };
    let (psi, skipped) = pressure::parse(&text);
    let kept = psi.some.is_some() || psi.full.is_some();
    let (Some(some), Some(full)) = (psi.some, psi.full) else {
        return skipped.result("/proc/pressure/memory", kept);
    };
    out.push(
        MetricFamily::counter(
            "node_pressure_memory_waiting_seconds_total",
            "Total time in seconds that processes have waited for memory",
        )
        .with_value(pressure::seconds(some.total_us)),
    );
    out.push(
        MetricFamily::counter(
            "node_pressure_memory_stalled_seconds_total",
            "Total time in seconds no process could make progress due to memory congestion",
        )
        .with_value(pressure::seconds(full.total_us)),
    );
    skipped.result("/proc/pressure/memory", kept)
}
