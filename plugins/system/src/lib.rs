//! sonde's built-in `system` collector: node_exporter's `stat`, `uname`, `os`, `time`, `timex`,
//! `filefd`, `entropy`, `kernel_hung` and `selinux` collectors, and the optional `sysctl` and
//! `cgroups`, with the same metric names, labels, HELP and TYPE. Each node_exporter collector is
//! a part with its own table in the config.

pub mod cgroups;
mod entropy;
mod filefd;
pub mod kernel_hung;
mod os;
mod os_release;
pub mod selinux;
mod stat;
pub mod sysctl;
mod time;
mod timex;
mod uname;

use serde::{Deserialize, Serialize};
use sonde_sdk::bundle::{Part, Parts, Toggle};
use sonde_sdk::{Capability, Collector, Description, Error, Host, MetricFamily};

/// The `system` collector: its enabled parts, built from the config.
pub struct System {
    parts: Parts,
}

/// `[plugins.system] config = { … }`: one switch or table per node_exporter collector (on or off
/// as in node_exporter) and the `stat` collector's flag. The switches this plugin always had
/// (`stat`, `uname`, `os`, `time`, `timex`, `filefd`, `entropy`) take a plain bool too.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// node_exporter's `stat` collector: interrupts, context switches, forks, boot time, procs.
    pub stat: Toggle,
    /// Also report `node_softirqs_total` per vector (`--collector.stat.softirq`, off).
    pub softirq: bool,
    /// node_exporter's `uname` collector.
    pub uname: Toggle,
    /// node_exporter's `os` collector (`etc/os-release` of the rootfs).
    pub os: Toggle,
    /// node_exporter's `time` collector: wall clock, time zone, clock sources.
    pub time: Toggle,
    /// node_exporter's `timex` collector (needs the `timex` capability).
    pub timex: Toggle,
    /// node_exporter's `filefd` collector.
    pub filefd: Toggle,
    /// node_exporter's `entropy` collector.
    pub entropy: Toggle,
    /// node_exporter's `kernel_hung` collector (on).
    pub kernel_hung: Toggle,
    /// node_exporter's `selinux` collector (on).
    pub selinux: Toggle,
    /// node_exporter's `sysctl` collector (off).
    pub sysctl: sysctl::Config,
    /// node_exporter's `cgroups` collector (off).
    pub cgroups: Toggle,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            stat: Toggle::ON,
            softirq: false,
            uname: Toggle::ON,
            os: Toggle::ON,
            time: Toggle::ON,
            timex: Toggle::ON,
            filefd: Toggle::ON,
            entropy: Toggle::ON,
            kernel_hung: Toggle::ON,
            selinux: Toggle::ON,
            sysctl: sysctl::Config::default(),
            cgroups: Toggle::OFF,
        }
    }
}

impl Collector for System {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "system",
            env!("CARGO_PKG_VERSION"),
            "kernel activity, uname, OS release, time and clock state, file handles, entropy, hung tasks, SELinux, sysctls, cgroups",
        )
        .needs(&[
            Capability::Proc,
            Capability::Sys,
            Capability::Rootfs,
            Capability::Timex,
        ])
    }

    fn new(config: Config) -> Result<Self, Error> {
        Ok(System {
            parts: parts(&config)?,
        })
    }

    /// Runs every enabled part. A part that fails is logged and the others' output kept; the
    /// collection fails only when parts failed and nothing was collected.
    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        self.parts.collect(host)
    }
}

/// A part that is one function of its module.
struct Func(fn(&Host, &mut Vec<MetricFamily>) -> Result<(), Error>);

impl Part for Func {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        (self.0)(host, out)
    }
}

/// node_exporter's `stat` collector, with its `softirq` flag.
struct Stat {
    softirq: bool,
}

impl Part for Stat {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        stat::collect(host, self.softirq, out)
    }
}

/// The enabled parts. A refused sysctl name is an error here, when the collector is built.
fn parts(config: &Config) -> Result<Parts, Error> {
    let mut parts = Parts::default();
    parts.add_if(config.stat.enabled, "stat", || {
        Ok(Stat {
            softirq: config.softirq,
        })
    })?;
    parts.add_if(config.uname.enabled, "uname", || Ok(Func(uname::collect)))?;
    parts.add_if(config.os.enabled, "os", || Ok(Func(os::collect)))?;
    parts.add_if(config.time.enabled, "time", || Ok(Func(time::collect)))?;
    parts.add_if(config.timex.enabled, "timex", || Ok(Func(timex::collect)))?;
    parts.add_if(config.filefd.enabled, "filefd", || {
        Ok(Func(filefd::collect))
    })?;
    parts.add_if(config.entropy.enabled, "entropy", || {
        Ok(Func(entropy::collect))
    })?;
    parts.add_if(config.kernel_hung.enabled, "kernel_hung", || {
        Ok(Func(kernel_hung::collect))
    })?;
    parts.add_if(config.selinux.enabled, "selinux", || {
        Ok(Func(selinux::collect))
    })?;
    parts.add_if(config.sysctl.enabled, "sysctl", || {
        sysctl::Sysctl::new(&config.sysctl)
    })?;
    parts.add_if(config.cgroups.enabled, "cgroups", || {
        Ok(Func(cgroups::collect))
    })?;
    Ok(parts)
}

sonde_sdk::export!(System);
