//! sonde's built-in `mem` collector: node_exporter's memory collectors, with the same metric
//! names, labels, HELP and TYPE. Each is a section of the config that can be turned off; the
//! optional ones (off in node_exporter too) are off by default:
//!
//! | part | node_exporter collector | default |
//! |---|---|---|
//! | [`meminfo`] | `meminfo` (`/proc/meminfo`) | on |
//! | [`vmstat`] | `vmstat` (`/proc/vmstat`) | on |
//! | [`pressure`] | the memory part of `pressure` (`/proc/pressure/memory`) | on |
//! | [`meminfo_numa`] | `meminfo_numa` (`/sys/devices/system/node/node*/{meminfo,numastat}`) | off |
//! | [`buddyinfo`] | `buddyinfo` (`/proc/buddyinfo`) | off |
//! | [`zoneinfo`] | `zoneinfo` (`/proc/zoneinfo`) | off |
//! | [`swap`] | `swap` (`/proc/swaps`) | off |
//! | [`ksmd`] | `ksmd` (`/sys/kernel/mm/ksm/*`) | off |
//! | [`slabinfo`] | `slabinfo` (`/proc/slabinfo`) | off |

pub mod buddyinfo;
pub mod ksmd;
pub mod meminfo;
pub mod meminfo_numa;
pub mod pressure;
pub mod slabinfo;
pub mod swap;
pub mod vmstat;
pub mod zoneinfo;

use serde::{Deserialize, Serialize};
use sonde_sdk::bundle::{Parts, Toggle};
use sonde_sdk::names::FamilyName;
use sonde_sdk::{Capability, Collector, Description, Error, Host, MetricFamily};

/// The `mem` collector: its enabled parts, built from the config.
pub struct Mem {
    parts: Parts,
}

/// `[plugins.mem] config = { … }`: one table per node_exporter collector, with its flags'
/// defaults. `meminfo`, `vmstat` and `pressure` also take a plain bool (`meminfo = false`), as
/// configs written before the tables do; `vmstat_fields` keeps its name.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// node_exporter's `meminfo` collector (on).
    pub meminfo: Toggle,
    /// node_exporter's `vmstat` collector (on).
    pub vmstat: Toggle,
    /// The `/proc/vmstat` fields to report, a regex searched in each name
    /// (`--collector.vmstat.fields`).
    pub vmstat_fields: String,
    /// The memory part of node_exporter's `pressure` collector (on).
    pub pressure: Toggle,
    /// node_exporter's `meminfo_numa` collector (off).
    pub meminfo_numa: Toggle,
    /// node_exporter's `buddyinfo` collector (off).
    pub buddyinfo: Toggle,
    /// node_exporter's `zoneinfo` collector (off).
    pub zoneinfo: Toggle,
    /// node_exporter's `swap` collector (off).
    pub swap: Toggle,
    /// node_exporter's `ksmd` collector (off).
    pub ksmd: Toggle,
    /// node_exporter's `slabinfo` collector (off) and its flags.
    pub slabinfo: slabinfo::Config,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            meminfo: Toggle::ON,
            vmstat: Toggle::ON,
            vmstat_fields: "^(oom_kill|pgpg|pswp|pg.*fault).*".to_owned(),
            pressure: Toggle::ON,
            meminfo_numa: Toggle::OFF,
            buddyinfo: Toggle::OFF,
            zoneinfo: Toggle::OFF,
            swap: Toggle::OFF,
            ksmd: Toggle::OFF,
            slabinfo: slabinfo::Config::default(),
        }
    }
}

impl Collector for Mem {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "mem",
            env!("CARGO_PKG_VERSION"),
            "memory usage, virtual memory counters and memory pressure; NUMA, zone, swap, KSM and slab statistics",
        )
        .needs(&[Capability::Proc, Capability::Sys])
    }

    fn new(config: Config) -> Result<Self, Error> {
        Ok(Mem {
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
    let mut parts = Parts::default();
    parts.add_if(config.meminfo.enabled, "meminfo", || {
        Ok(meminfo::Meminfo::default())
    })?;
    parts.add_if(config.vmstat.enabled, "vmstat", || {
        vmstat::Vmstat::new(&config.vmstat_fields)
    })?;
    parts.add_if(config.pressure.enabled, "pressure", || {
        Ok(pressure::Pressure)
    })?;
    parts.add_if(config.meminfo_numa.enabled, "meminfo_numa", || {
        Ok(meminfo_numa::MeminfoNuma::default())
    })?;
    parts.add_if(config.buddyinfo.enabled, "buddyinfo", || {
        Ok(buddyinfo::Buddyinfo)
    })?;
    parts.add_if(config.zoneinfo.enabled, "zoneinfo", || {
        Ok(zoneinfo::Zoneinfo)
    })?;
    parts.add_if(config.swap.enabled, "swap", || Ok(swap::Swap))?;
    parts.add_if(config.ksmd.enabled, "ksmd", || Ok(ksmd::Ksmd))?;
    parts.add_if(config.slabinfo.enabled, "slabinfo", || {
        slabinfo::Slabinfo::new(&config.slabinfo)
    })?;
    Ok(parts)
}

sonde_sdk::export!(Mem);

/// The family name and HELP derived from a kernel field of `part`, or `None` when they make no
/// valid metric name — logged, once per field, as names are derived once.
fn field_family(host: &Host, part: &str, name: String, help: String) -> Option<FamilyName> {
    sonde_sdk::names::valid_or_logged(host, part, &name).then_some(FamilyName { name, help })
}
