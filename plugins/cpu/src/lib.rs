//! sonde's built-in `cpu` collector: node_exporter's `cpu` (seconds per mode, guest seconds) and
//! `loadavg` collectors, with the same metric names, labels, HELP and TYPE.

use serde::{Deserialize, Serialize};
use sonde_sdk::procfs::{USER_HZ, loadavg, stat};
use sonde_sdk::{Capability, Collector, Description, Error, Host, MetricFamily, ResultExt, Root};

/// The `cpu` collector.
#[derive(Default)]
pub struct Cpu;

/// `[plugins.cpu] config = { … }`, with node_exporter's defaults.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Emit `node_cpu_guest_seconds_total` (node_exporter's `--collector.cpu.guest`, on).
    pub guest: bool,
    /// Emit the load averages (node_exporter's `loadavg` collector, on).
    pub loadavg: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            guest: true,
            loadavg: true,
        }
    }
}

impl Collector for Cpu {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "cpu",
            env!("CARGO_PKG_VERSION"),
            "CPU time per mode and load averages",
        )
        .needs(&[Capability::Proc])
    }

    fn collect(&self, host: &Host, config: &Config) -> Result<Vec<MetricFamily>, Error> {
        let mut out = cpu_seconds(host, config)?;
        if config.loadavg {
            out.extend(load_averages(host)?);
        }
        Ok(out)
    }
}

/// `node_cpu_seconds_total` and `node_cpu_guest_seconds_total` from `/proc/stat`.
fn cpu_seconds(host: &Host, config: &Config) -> Result<Vec<MetricFamily>, Error> {
    let text = host
        .read_to_string(Root::Proc, "stat")
        .context("reading /proc/stat")?;
    let stat = stat::parse(&text)?;
    let mut seconds = MetricFamily::counter(
        "node_cpu_seconds_total",
        "Seconds the CPUs spent in each mode.",
    );
    let mut guest = MetricFamily::counter(
        "node_cpu_guest_seconds_total",
        "Seconds the CPUs spent in guests (VMs) for each mode.",
    );
    for t in &stat.cpus {
        let cpu = t.cpu.to_string();
        for (mode, ticks) in [
            ("user", t.user),
            ("nice", t.nice),
            ("system", t.system),
            ("idle", t.idle),
            ("iowait", t.iowait),
            ("irq", t.irq),
            ("softirq", t.softirq),
            ("steal", t.steal),
        ] {
            seconds.sample(&[("cpu", &cpu), ("mode", mode)], ticks as f64 / USER_HZ);
        }
        if config.guest {
            guest.sample(&[("cpu", &cpu), ("mode", "user")], t.guest as f64 / USER_HZ);
            guest.sample(
                &[("cpu", &cpu), ("mode", "nice")],
                t.guest_nice as f64 / USER_HZ,
            );
        }
    }
    Ok(vec![seconds, guest])
}

/// `node_load1`, `node_load5`, `node_load15` from `/proc/loadavg`.
fn load_averages(host: &Host) -> Result<Vec<MetricFamily>, Error> {
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

sonde_sdk::export!(Cpu);
