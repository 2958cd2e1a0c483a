//! sonde's built-in `disk` collector: node_exporter's `diskstats`, `filesystem`, `bcache`,
//! `btrfs`, `xfs` and `bcachefs` collectors and the I/O part of its `pressure` collector, with
//! the same metric names, labels, HELP and TYPE.
//!
//! Each part is one module; this one holds the config and runs the enabled parts. A part whose
//! source does not exist on this kernel reports nothing; a part that fails is logged and the
//! others still report, unless nothing at all could be collected.

pub mod bcache;
pub mod bcachefs;
pub mod btrfs;
mod diskstats;
mod filesystem;
mod patterns;
mod pressure;
mod sysfs;
pub mod xfs;

use serde::{Deserialize, Serialize};
use sonde_sdk::bundle::{Part, Parts, Toggle};
use sonde_sdk::{Capability, Collector, Description, Error, Host, MetricFamily};

/// The `disk` collector: its enabled parts, built from the config.
pub struct Disk {
    parts: Parts,
}

/// `[plugins.disk] config = { … }`, with node_exporter's flag defaults. The keys of the
/// diskstats, filesystem and pressure parts are top-level (as they were before the other parts
/// came); the others have one table per node_exporter collector.
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
    /// node_exporter's `bcache` collector (`/sys/fs/bcache`).
    pub bcache: bcache::Config,
    /// node_exporter's `btrfs` collector (`/sys/fs/btrfs`).
    pub btrfs: Toggle,
    /// node_exporter's `xfs` collector (`/sys/fs/xfs`).
    pub xfs: Toggle,
    /// node_exporter's `bcachefs` collector (`/sys/fs/bcachefs`).
    pub bcachefs: Toggle,
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
            bcache: bcache::Config::default(),
            btrfs: Toggle::ON,
            xfs: Toggle::ON,
            bcachefs: Toggle::ON,
        }
    }
}

impl Collector for Disk {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "disk",
            env!("CARGO_PKG_VERSION"),
            "disk I/O, filesystem space, I/O pressure, bcache, btrfs, XFS and bcachefs statistics",
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
    parts.add_if(config.diskstats, "diskstats", || {
        diskstats::Diskstats::new(config)
    })?;
    parts.add_if(config.filesystem, "filesystem", || {
        filesystem::Filesystem::new(config)
    })?;
    parts.add_if(config.pressure, "pressure", || Ok(pressure::Pressure))?;
    parts.add_if(config.bcache.enabled, "bcache", || {
        Ok(bcache::Bcache::new(&config.bcache))
    })?;
    parts.add_if(config.btrfs.enabled, "btrfs", || Ok(btrfs::Btrfs))?;
    parts.add_if(config.xfs.enabled, "xfs", || Ok(xfs::Xfs))?;
    parts.add_if(config.bcachefs.enabled, "bcachefs", || {
        Ok(bcachefs::Bcachefs)
    })?;
    Ok(parts)
}

impl Part for diskstats::Diskstats {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        diskstats::Diskstats::collect(self, host, out)
    }
}

impl Part for filesystem::Filesystem {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        filesystem::Filesystem::collect(self, host, out)
    }
}

sonde_sdk::export!(Disk);
