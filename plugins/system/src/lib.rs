//! sonde's built-in `system` collector: node_exporter's `stat`, `uname`, `os`, `time`, `timex`,
//! `filefd` and `entropy` collectors, with the same metric names, labels, HELP and TYPE.

mod entropy;
mod filefd;
mod os;
mod os_release;
mod stat;
mod time;
mod timex;
mod uname;

use serde::{Deserialize, Serialize};
use sonde_sdk::bundle::Bundle;
use sonde_sdk::{Capability, Collector, Description, Error, Host, MetricFamily};

/// The `system` collector.
pub struct System {
    config: Config,
}

/// `[plugins.system] config = { … }`: one switch per node_exporter collector (all on, as in
/// node_exporter) and the `stat` collector's flag.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// node_exporter's `stat` collector: interrupts, context switches, forks, boot time, procs.
    pub stat: bool,
    /// Also report `node_softirqs_total` per vector (`--collector.stat.softirq`, off).
    pub softirq: bool,
    /// node_exporter's `uname` collector.
    pub uname: bool,
    /// node_exporter's `os` collector (`etc/os-release` of the rootfs).
    pub os: bool,
    /// node_exporter's `time` collector: wall clock, time zone, clock sources.
    pub time: bool,
    /// node_exporter's `timex` collector (needs the `timex` capability).
    pub timex: bool,
    /// node_exporter's `filefd` collector.
    pub filefd: bool,
    /// node_exporter's `entropy` collector.
    pub entropy: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            stat: true,
            softirq: false,
            uname: true,
            os: true,
            time: true,
            timex: true,
            filefd: true,
            entropy: true,
        }
    }
}

impl Collector for System {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "system",
            env!("CARGO_PKG_VERSION"),
            "kernel activity, uname, OS release, time and clock state, file handles, entropy",
        )
        .needs(&[
            Capability::Proc,
            Capability::Sys,
            Capability::Rootfs,
            Capability::Timex,
        ])
    }

    fn new(config: Config) -> Result<Self, Error> {
        Ok(System { config })
    }

    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        let config = &self.config;
        let mut bundle = Bundle::new(host);
        if config.stat {
            bundle.run("stat", |out| stat::collect(host, config.softirq, out));
        }
        if config.uname {
            bundle.run("uname", |out| uname::collect(host, out));
        }
        if config.os {
            bundle.run("os", |out| os::collect(host, out));
        }
        if config.time {
            bundle.run("time", |out| time::collect(host, out));
        }
        if config.timex {
            bundle.run("timex", |out| timex::collect(host, out));
        }
        if config.filefd {
            bundle.run("filefd", |out| filefd::collect(host, out));
        }
        if config.entropy {
            bundle.run("entropy", |out| entropy::collect(host, out));
        }
        bundle.finish()
    }
}

sonde_sdk::export!(System);
