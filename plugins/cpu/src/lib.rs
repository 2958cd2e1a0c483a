//! sonde's built-in `cpu` collector: node_exporter's `cpu` (seconds per mode, guest seconds,
//! thermal throttles, isolated and online CPUs, optional `/proc/cpuinfo` info), `cpufreq`,
//! `loadavg` and the cpu and irq parts of `pressure`, with the same metric names, labels, HELP
//! and TYPE.

mod cpufreq;
mod info;
mod load;
mod seconds;
mod topology;

use serde::{Deserialize, Serialize};
use sonde_sdk::bundle::Bundle;
use sonde_sdk::{Capability, Collector, Description, Error, Host, MetricFamily, ResultExt, Root};

/// The `cpu` collector: its config and the cpuinfo filters compiled from it.
pub struct Cpu {
    config: Config,
    /// The `flags_include` and `bugs_include` filters, compiled once.
    info: info::Filters,
}

/// `[plugins.cpu] config = { … }`, with node_exporter's defaults.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Emit `node_cpu_guest_seconds_total` (node_exporter `--collector.cpu.guest`, on).
    pub guest: bool,
    /// Emit `node_cpu_info` and the cpuinfo frequency (`--collector.cpu.info`, off).
    pub info: bool,
    /// Emit `node_cpu_flag_info` for the flags matching this regex (`--collector.cpu.info.flags-include`,
    /// unset); setting it turns `info` on, as in node_exporter.
    pub flags_include: String,
    /// Emit `node_cpu_bug_info` for the bugs matching this regex (`--collector.cpu.info.bugs-include`).
    pub bugs_include: String,
    /// node_exporter's `cpufreq` collector (on).
    pub cpufreq: bool,
    /// node_exporter's `loadavg` collector (on).
    pub loadavg: bool,
    /// The cpu and irq parts of node_exporter's `pressure` collector (on).
    pub pressure: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            guest: true,
            info: false,
            flags_include: String::new(),
            bugs_include: String::new(),
            cpufreq: true,
            loadavg: true,
            pressure: true,
        }
    }
}

impl Collector for Cpu {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "cpu",
            env!("CARGO_PKG_VERSION"),
            "CPU time per mode, frequencies, throttling, load averages, CPU pressure",
        )
        .needs(&[sonde_sdk::Capability::Proc, Capability::Sys])
    }

    fn new(config: Config) -> Result<Self, Error> {
        Ok(Cpu {
            info: info::Filters::new(&config),
            config,
        })
    }

    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        let config = &self.config;
        // /proc/stat is the collector's core: without it the cycle fails (a malformed line in
        // it fails the part only).
        let stat = host
            .read_to_string(Root::Proc, "stat")
            .context("reading /proc/stat")?;
        let info =
            config.info || !config.flags_include.is_empty() || !config.bugs_include.is_empty();
        let mut bundle = Bundle::new(host);
        bundle.run("stat", |out| seconds::collect(&stat, config.guest, out));
        if info {
            bundle.run("cpuinfo", |out| {
                out.extend(info::collect(host, &self.info)?);
                Ok(())
            });
        }
        bundle.run("thermal throttle, isolated, online", |out| {
            out.extend(topology::collect(host)?);
            Ok(())
        });
        if config.cpufreq {
            // With cpuinfo on, node_cpu_frequency_hertz comes from /proc/cpuinfo instead.
            bundle.run("cpufreq", |out| {
                out.extend(cpufreq::collect(host, !info)?);
                Ok(())
            });
        }
        if config.loadavg {
            bundle.run("loadavg", |out| {
                out.extend(load::loadavg(host)?);
                Ok(())
            });
        }
        if config.pressure {
            bundle.run("pressure", |out| load::pressure(host, out));
        }
        bundle.finish()
    }
}

sonde_sdk::export!(Cpu);
