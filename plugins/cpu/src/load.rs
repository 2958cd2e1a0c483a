//! Load averages (`/proc/loadavg`) and CPU and IRQ pressure (`/proc/pressure/{cpu,irq}`).

use sonde_sdk::procfs::{loadavg, pressure};
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

/// `node_pressure_cpu_waiting_seconds_total` and `node_pressure_irq_stalled_seconds_total`;
/// nothing for a kernel without PSI (or without IRQ pressure, before 6.1).
pub fn pressure(host: &Host) -> Result<Vec<MetricFamily>, Error> {
    let mut out = Vec::new();
    if let Some(cpu) = read(host, "pressure/cpu")?.and_then(|p| p.some) {
        out.push(
            MetricFamily::counter(
                "node_pressure_cpu_waiting_seconds_total",
                "Total time in seconds that processes have waited for CPU time",
            )
            .with_value(pressure::seconds(cpu.total_us)),
        );
    }
    if let Some(irq) = read(host, "pressure/irq")?.and_then(|p| p.full) {
        out.push(
            MetricFamily::counter(
                "node_pressure_irq_stalled_seconds_total",
                "Total time in seconds no process could make progress due to IRQ congestion",
            )
            .with_value(pressure::seconds(irq.total_us)),
        );
    }
    Ok(out)
}

fn read(host: &Host, path: &str) -> Result<Option<pressure::Pressure>, Error> {
    match host.read_to_string(Root::Proc, path) {
        Ok(text) => Ok(Some(pressure::parse(&text)?)),
        // No PSI on this kernel (missing file, or EOPNOTSUPP when booted with psi=0).
        Err(FsError::NotFound) | Err(FsError::Other(_)) => Ok(None),
        Err(e) => Err(Error::from(e).context(format!("reading /proc/{path}"))),
    }
}
