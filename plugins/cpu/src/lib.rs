//! sonde's built-in `cpu` collector: node_exporter's `cpu` (seconds per mode, guest seconds,
//! thermal throttles, isolated and online CPUs, optional `/proc/cpuinfo` info), `cpufreq`,
//! `loadavg`, the cpu and irq parts of `pressure`, `schedstat`, and the optional
//! `cpu_vulnerabilities`, `interrupts` and `softirqs`, with the same metric names, labels, HELP
//! and TYPE. Each node_exporter collector is a part with its own table in the config.

mod cpufreq;
mod info;
pub mod interrupts;
mod load;
pub mod schedstat;
mod seconds;
pub mod softirqs;
mod topology;
pub mod vulnerabilities;

use serde::{Deserialize, Serialize};
use sonde_sdk::bundle::{Part, Parts, Toggle};
use sonde_sdk::{Capability, Collector, Description, Error, Host, MetricFamily, ResultExt, Root};

/// The `cpu` collector: its enabled parts, built from the config.
pub struct Cpu {
    parts: Parts,
}

/// `[plugins.cpu] config = { … }`, with node_exporter's defaults. The flags of node_exporter's
/// `cpu` collector are top-level keys (as they always were); every other collector has its
/// table. `cpufreq`, `loadavg` and `pressure` also take a plain bool.
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
    pub cpufreq: Toggle,
    /// node_exporter's `loadavg` collector (on).
    pub loadavg: Toggle,
    /// The cpu and irq parts of node_exporter's `pressure` collector (on).
    pub pressure: Toggle,
    /// node_exporter's `schedstat` collector (on).
    pub schedstat: Toggle,
    /// node_exporter's `cpu_vulnerabilities` collector (off).
    pub cpu_vulnerabilities: Toggle,
    /// node_exporter's `interrupts` collector (off).
    pub interrupts: interrupts::Config,
    /// node_exporter's `softirqs` collector (off): `node_softirqs_functions_total` per CPU and
    /// type, from `/proc/softirqs` (the `system` plugin's `softirq` flag gives the totals).
    pub softirqs: Toggle,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            guest: true,
            info: false,
            flags_include: String::new(),
            bugs_include: String::new(),
            cpufreq: Toggle::ON,
            loadavg: Toggle::ON,
            pressure: Toggle::ON,
            schedstat: Toggle::ON,
            cpu_vulnerabilities: Toggle::OFF,
            interrupts: interrupts::Config::default(),
            softirqs: Toggle::OFF,
        }
    }
}

impl Collector for Cpu {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "cpu",
            env!("CARGO_PKG_VERSION"),
            "CPU time per mode, frequencies, throttling, load averages, CPU pressure, scheduler and interrupt counts",
        )
        .needs(&[Capability::Proc, Capability::Sys])
    }

    fn new(config: Config) -> Result<Self, Error> {
        Ok(Cpu {
            parts: parts(&config)?,
        })
    }

    /// Runs every enabled part. A part that fails is logged and the others' output kept; the
    /// collection fails only when parts failed and nothing was collected.
    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        self.parts.collect(host)
    }
}

/// The enabled parts. An invalid pattern in the config is an error here, when the collector is
/// built.
fn parts(config: &Config) -> Result<Parts, Error> {
    let info = config.info || !config.flags_include.is_empty() || !config.bugs_include.is_empty();
    let mut parts = Parts::default();
    parts.add_if(true, "cpu", || {
        Ok(CpuPart {
            guest: config.guest,
            info,
            filters: info::Filters::new(config),
        })
    })?;
    // With cpuinfo on, node_cpu_frequency_hertz comes from /proc/cpuinfo instead.
    parts.add_if(config.cpufreq.enabled, "cpufreq", || {
        Ok(Cpufreq {
            current_frequency: !info,
        })
    })?;
    parts.add_if(config.loadavg.enabled, "loadavg", || Ok(Loadavg))?;
    parts.add_if(config.pressure.enabled, "pressure", || Ok(Pressure))?;
    parts.add_if(config.schedstat.enabled, "schedstat", || {
        Ok(schedstat::Schedstat)
    })?;
    parts.add_if(
        config.cpu_vulnerabilities.enabled,
        "cpu_vulnerabilities",
        || Ok(vulnerabilities::Vulnerabilities),
    )?;
    parts.add_if(config.interrupts.enabled, "interrupts", || {
        interrupts::Interrupts::new(&config.interrupts)
    })?;
    parts.add_if(config.softirqs.enabled, "softirqs", || {
        Ok(softirqs::Softirqs)
    })?;
    Ok(parts)
}

/// node_exporter's `cpu` collector: `/proc/stat` seconds, optional cpuinfo, throttles, isolated
/// and online CPUs. Its pieces run on their own; the part fails with their errors after all ran.
struct CpuPart {
    guest: bool,
    info: bool,
    filters: info::Filters,
}

impl Part for CpuPart {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let mut errors = Vec::new();
        let mut keep = |result: Result<(), Error>| {
            if let Err(e) = result {
                errors.push(e.to_string());
            }
        };
        keep(
            host.read_to_string(Root::Proc, "stat")
                .context("reading /proc/stat")
                .and_then(|stat| seconds::collect(&stat, self.guest, out)),
        );
        if self.info {
            keep(info::collect(host, &self.filters).map(|f| out.extend(f)));
        }
        keep(topology::collect(host).map(|f| out.extend(f)));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::msg(errors.join("; ")))
        }
    }
}

/// node_exporter's `cpufreq` collector.
struct Cpufreq {
    /// Report `node_cpu_frequency_hertz` from cpufreq (off when cpuinfo reports it).
    current_frequency: bool,
}

impl Part for Cpufreq {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        out.extend(cpufreq::collect(host, self.current_frequency)?);
        Ok(())
    }
}

/// node_exporter's `loadavg` collector.
struct Loadavg;

impl Part for Loadavg {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        out.extend(load::loadavg(host)?);
        Ok(())
    }
}

/// The cpu and irq parts of node_exporter's `pressure` collector.
struct Pressure;

impl Part for Pressure {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        load::pressure(host, out)
    }
}

sonde_sdk::export!(Cpu);
