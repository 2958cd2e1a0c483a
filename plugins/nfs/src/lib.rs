//! sonde's built-in `nfs` collector: node_exporter's collectors `nfs` (NFS client RPC
//! statistics, `/proc/net/rpc/nfs`), `nfsd` (NFS server RPC statistics, `/proc/net/rpc/nfsd`) and
//! `mountstats` (per-mount NFS client statistics, `/proc/self/mountstats` with
//! `/proc/self/mountinfo`), with the same metric names, labels, HELP and TYPE. Each is a section
//! of the config that can be turned off (`mountstats` is off by default, as in node_exporter).
//!
//! A plugin of its own because NFS sources can be slow (a dead server, thousands of mounts): the
//! agent gives a slow plugin a thread of its own, so it does not hold the others.

pub mod mountstats;
pub mod nfs;
pub mod nfsd;
pub mod rpc;

use serde::{Deserialize, Serialize};
use sonde_sdk::bundle::{Parts, Toggle};
use sonde_sdk::{Capability, Collector, Description, Error, Host, MetricFamily};

/// The `nfs` collector: its enabled parts, built from the config.
pub struct Nfs {
    parts: Parts,
}

/// `[plugins.nfs] config = { … }`: one table per node_exporter collector, with its defaults.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// node_exporter's `nfs` collector (on by default).
    pub nfs: Toggle,
    /// node_exporter's `nfsd` collector (on by default).
    pub nfsd: Toggle,
    /// node_exporter's `mountstats` collector (off by default).
    pub mountstats: Toggle,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            nfs: Toggle::ON,
            nfsd: Toggle::ON,
            mountstats: Toggle::OFF,
        }
    }
}

impl Collector for Nfs {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "nfs",
            env!("CARGO_PKG_VERSION"),
            "NFS client and server RPC statistics, per-mount NFS statistics",
        )
        .needs(&[Capability::Proc])
    }

    fn new(config: Config) -> Result<Self, Error> {
        let mut parts = Parts::default();
        parts.add_if(config.nfs.enabled, "nfs", || Ok(nfs::NfsClient))?;
        parts.add_if(config.nfsd.enabled, "nfsd", || Ok(nfsd::NfsServer))?;
        parts.add_if(config.mountstats.enabled, "mountstats", || {
            Ok(mountstats::MountStats)
        })?;
        Ok(Nfs { parts })
    }

    /// Runs every enabled part. A part that fails is logged and the others' output kept; the
    /// collection fails only when parts failed and nothing was collected.
    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        self.parts.collect(host)
    }
}

sonde_sdk::export!(Nfs);

#[cfg(test)]
mod tests {
    use super::*;
    use sonde_sdk::testing::Instance;

    #[test]
    fn defaults_are_node_exporters() {
        let config = Config::default();
        assert!(config.nfs.enabled && config.nfsd.enabled && !config.mountstats.enabled);
        let names = |json: &str| -> Vec<&'static str> {
            sonde_sdk::build::<Nfs>(json)
                .unwrap()
                .parts
                .names()
                .collect()
        };
        assert_eq!(names(""), ["nfs", "nfsd"]);
        assert_eq!(
            names(r#"{"nfs": {"enabled": false}, "mountstats": {"enabled": true}}"#),
            ["nfsd", "mountstats"]
        );
        assert!(Instance::<Nfs>::new(r#"{"mountstats": {"enable": true}}"#).is_err());
        assert!(Instance::<Nfs>::new(r#"{"nfs_client": {}}"#).is_err());
    }
}
