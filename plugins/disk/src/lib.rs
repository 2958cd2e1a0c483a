//! sonde's built-in `disk` collector: node_exporter's `diskstats` and `filesystem` collectors and
//! the I/O part of its `pressure` collector, with the same metric names, labels, HELP and TYPE.
//!
//! Each part is one module; this one holds the config and runs the enabled parts. A part whose
//! source does not exist on this kernel reports nothing; a part that fails is logged and the
//! others still report, unless nothing at all could be collected.

mod diskstats;
mod filesystem;
mod patterns;
mod pressure;

use serde::{Deserialize, Serialize};
use sonde_sdk::bundle::Bundle;
use sonde_sdk::{Capability, Collector, Description, Error, Host, MetricFamily};

/// The `disk` collector.
pub struct Disk {
    config: Config,
    disks: diskstats::Diskstats,
    mounts: filesystem::Filesystem,
}

/// `[plugins.disk] config = { … }`, with node_exporter's flag defaults.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Report `/proc/diskstats` and udev device properties (`--collector.diskstats`, on).
    pub diskstats: bool,
    /// Devices to leave out (`--collector.diskstats.device-exclude`). Dropped when
    /// `device_include` is set and this keeps its default.
    pub device_exclude: String,
    /// Devices to report, all when empty (`--collector.diskstats.device-include`).
    pub device_include: String,
    /// The udev database directory, below the rootfs root (`--path.udev.data`); empty turns
    /// udev lookups off.
    pub udev_data_path: String,
    /// Report mounted filesystems (`--collector.filesystem`, on).
    pub filesystem: bool,
    /// Mount points to leave out (`--collector.filesystem.mount-points-exclude`). Dropped when
    /// `mount_points_include` is set and this keeps its default.
    pub mount_points_exclude: String,
    /// Mount points to report, all when empty (`--collector.filesystem.mount-points-include`).
    pub mount_points_include: String,
    /// Filesystem types to leave out (`--collector.filesystem.fs-types-exclude`). Dropped when
    /// `fs_types_include` is set and this keeps its default.
    pub fs_types_exclude: String,
    /// Filesystem types to report, all when empty (`--collector.filesystem.fs-types-include`).
    pub fs_types_include: String,
    /// Report I/O pressure stall times (the `io` part of `--collector.pressure`, on).
    pub pressure: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            diskstats: true,
            device_exclude: diskstats::DEFAULT_DEVICE_EXCLUDE.to_owned(),
            device_include: String::new(),
            udev_data_path: diskstats::DEFAULT_UDEV_DATA_PATH.to_owned(),
            filesystem: true,
            mount_points_exclude: filesystem::DEFAULT_MOUNT_POINTS_EXCLUDE.to_owned(),
            mount_points_include: String::new(),
            fs_types_exclude: filesystem::DEFAULT_FS_TYPES_EXCLUDE.to_owned(),
            fs_types_include: String::new(),
            pressure: true,
        }
    }
}

impl Collector for Disk {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "disk",
            env!("CARGO_PKG_VERSION"),
            "disk I/O, filesystem space and I/O pressure",
        )
        .needs(&[
            Capability::Proc,
            Capability::Sys,
            Capability::Rootfs,
            Capability::Statfs,
        ])
    }

    /// Config mistakes (bad patterns) are errors here, whatever the machine offers.
    fn new(config: Config) -> Result<Self, Error> {
        Ok(Disk {
            disks: diskstats::Diskstats::new(&config)?,
            mounts: filesystem::Filesystem::new(&config)?,
            config,
        })
    }

    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        let config = &self.config;
        let mut bundle = Bundle::new(host);
        if config.diskstats {
            bundle.run("diskstats", |out| self.disks.collect(host, out));
        }
        if config.filesystem {
            bundle.run("filesystem", |out| self.mounts.collect(host, out));
        }
        if config.pressure {
            bundle.run("pressure", |out| pressure::collect(host, out));
        }
        bundle.finish()
    }
}

sonde_sdk::export!(Disk);
