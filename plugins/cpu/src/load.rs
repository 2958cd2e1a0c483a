//! Load averages (`/proc/loadavg`) and CPU and IRQ pressure (`/proc/pressure/{cpu,irq}`).

use sonde_procfs::{Skipped, loadavg, pressure};
use sonde_sdk::{Error, FsError, Host, MetricFamily, ResultExt, Root};

/// `node_load1`, `node_load5`, `node_load15`.
pub fn loadavg(host: &Host) -> Result<Vec<MetricFamily>, Error> {
    let text = host
        .read_to_string(Root::Proc, "loadavg")
        .context("reading /proc/loadavg")?;
    let load = loadavg::parse(&text)?;
    Ok(vec![
        MetricFamily::gauge("node_load1", "1m load average.").with_value(load.one),
        MetricFamily::gauge("node_load5", "5m load average.").with_value(load.five),
        MetricFamily::gauge("node_load15", "15m load average.").with_value(load.fifteen),
    ])
}

/// Appends `node_pressure_cpu_waiting_seconds_total` and
/// `node_pressure_irq_stalled_seconds_total`; nothing for a kernel without PSI (or without IRQ
/// pressure, before 6.1). A malformed line gives no sample and fails the part.
pub fn pressure(host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let mut result = Ok(());
    // CPU pressure is read from the `some` line, IRQ pressure (which has none) from `full`.
    for (path, some, name, help) in [
        (
            "pressure/cpu",
            true,
            "node_pressure_cpu_waiting_seconds_total",
            "Total time in seconds that processes have waited for CPU time",
        ),
        (
            "pressure/irq",
            false,
            "node_pressure_irq_stalled_seconds_total",
            "Total time in seconds no process could make progress due to IRQ congestion",
        ),
    ] {
        let Some((psi, skipped)) = read(host, path)? else {
            continue;
        };
        if let Some(line) = if some { psi.some } else { psi.full } {
            out.push(
                MetricFamily::counter(name, help).with_value(pressure::seconds(line.total_us)),
            );
        }
        let kept = psi.some.is_some() || psi.full.is_some();
        result = result.and(skipped.result(&format!("/proc/{path}"), kept));
    }
    result
}

fn read(host: &Host, path: &str) -> Result<Option<(pressure::Pressure, Skipped)>, Error> {
    match host.read_to_string(Root::Proc, path) {
        Ok(text) => Ok(Some(pressure::parse(&text))),
        // No PSI on this kernel (missing file, or EOPNOTSUPP when booted with psi=0).
        Err(FsError::NotFound) | Err(FsError::Other(_)) => Ok(None),
        Err(e) => Err(Error::from(e).context(format!("reading /proc/{path}"))),
    }
}
