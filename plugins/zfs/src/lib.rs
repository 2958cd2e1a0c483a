//! sonde's built-in `zfs` collector: node_exporter's `zfs` collector (Linux), with the same metric
//! names, labels, HELP and TYPE. It reads the kstat files of `/proc/spl/kstat/zfs`: the module's
//! statistics (`arcstats`, `zil`, `dmu_tx`, …) and, per pool, `<pool>/io`, `<pool>/state` and one
//! `<pool>/objset-*` per dataset.
//!
//! It is a plugin of its own because a host with thousands of datasets makes it the slowest
//! source of all: the agent gives each plugin its own schedule, so a slow `zfs` does not hold
//! the others. A host without ZFS costs one host call and yields nothing.

pub mod zfs;

use serde::{Deserialize, Serialize};
use sonde_sdk::bundle::{Parts, Toggle};
use sonde_sdk::{Capability, Collector, Description, Error, Host, MetricFamily};

/// The `zfs` collector: its enabled parts, built from the config.
pub struct Zfs {
    parts: Parts,
}

/// `[plugins.zfs] config = { … }`: one table per node_exporter collector.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// node_exporter's `zfs` collector (`--collector.zfs`, on by default).
    pub zfs: Toggle,
}

impl Collector for Zfs {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "zfs",
            env!("CARGO_PKG_VERSION"),
            "ZFS: ARC, kstats, pools and datasets",
        )
        .needs(&[Capability::Proc])
    }

    fn new(config: Config) -> Result<Self, Error> {
        let mut parts = Parts::default();
        parts.add_if(config.zfs.enabled, "zfs", || Ok(zfs::ZfsPart))?;
        Ok(Zfs { parts })
    }

    /// Runs the enabled part; a failure of it is logged, and what it collected kept.
    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        self.parts.collect(host)
    }
}

sonde_sdk::export!(Zfs);
