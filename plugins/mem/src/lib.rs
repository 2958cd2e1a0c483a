//! sonde's built-in `mem` collector: node_exporter's `meminfo` and `vmstat` collectors and the
//! memory part of `pressure`, with the same metric names, labels, HELP and TYPE.

mod meminfo;
mod pressure;
mod vmstat;

use serde::{Deserialize, Serialize};
use sonde_sdk::bundle::Bundle;
use sonde_sdk::filter::NameFilter;
use sonde_sdk::names::{DerivedNames, FamilyName};
use sonde_sdk::{Capability, Collector, Description, Error, Host, MetricFamily};

/// The `mem` collector: its config, the vmstat field filter compiled from it, and the family
/// names derived from kernel fields so far.
pub struct Mem {
    config: Config,
    vmstat_fields: NameFilter,
    meminfo_names: DerivedNames,
    vmstat_names: DerivedNames,
}

/// `[plugins.mem] config = { … }`, with node_exporter's defaults.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// node_exporter's `meminfo` collector (on).
    pub meminfo: bool,
    /// node_exporter's `vmstat` collector (on).
    pub vmstat: bool,
    /// The `/proc/vmstat` fields to report, a regex searched in each name
    /// (`--collector.vmstat.fields`).
    pub vmstat_fields: String,
    /// The memory part of node_exporter's `pressure` collector (on).
    pub pressure: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            meminfo: true,
            vmstat: true,
            vmstat_fields: "^(oom_kill|pgpg|pswp|pg.*fault).*".to_owned(),
            pressure: true,
        }
    }
}

impl Collector for Mem {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "mem",
            env!("CARGO_PKG_VERSION"),
            "memory usage, virtual memory counters and memory pressure",
        )
        .needs(&[Capability::Proc])
    }

    fn new(config: Config) -> Result<Self, Error> {
        Ok(Mem {
            // node_exporter searches the pattern unanchored (Go's MatchString), as NameFilter
            // does.
            vmstat_fields: NameFilter::new(&config.vmstat_fields, "")?,
            config,
            meminfo_names: DerivedNames::default(),
            vmstat_names: DerivedNames::default(),
        })
    }

    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        let config = &self.config;
        let mut bundle = Bundle::new(host);
        if config.meminfo {
            bundle.run("meminfo", |out| {
                meminfo::collect(host, &self.meminfo_names, out)
            });
        }
        if config.vmstat {
            bundle.run("vmstat", |out| {
                vmstat::collect(host, &self.vmstat_fields, &self.vmstat_names, out)
            });
        }
        if config.pressure {
            bundle.run("pressure", |out| pressure::collect(host, out));
        }
        bundle.finish()
    }
}

sonde_sdk::export!(Mem);

/// The family name and HELP derived from a kernel field of `part`, or `None` when they make no
/// valid metric name — logged, once per field, as names are derived once.
fn field_family(host: &Host, part: &str, name: String, help: String) -> Option<FamilyName> {
    sonde_sdk::names::valid_or_logged(host, part, &name).then_some(FamilyName { name, help })
}
