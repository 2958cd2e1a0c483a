//! sonde's built-in `storage` collector: node_exporter's collectors of storage layers and
//! controllers, `mdadm` (software RAID), `dmmultipath`, `nvme`, `fibrechannel`, `tapestats` and
//! the optional `drbd`, with the same metric names, labels, HELP and TYPE. Each is a section of
//! the config that can be turned off; `drbd` is off by default, as in node_exporter.
//!
//! A source the kernel does not have (no `/proc/mdstat`, no `/sys/class/nvme`) yields nothing
//! and logs nothing, after one host call.

pub mod dmmultipath;
pub mod drbd;
pub mod fibrechannel;
pub mod mdadm;
pub mod nvme;
pub mod tapestats;

use serde::{Deserialize, Serialize};
use sonde_sdk::bundle::{Parts, Toggle};
use sonde_sdk::{Capability, Collector, Description, Error, Host, MetricFamily};

/// The `storage` collector: its enabled parts, built from the config.
pub struct Storage {
    parts: Parts,
}

/// `[plugins.storage] config = { … }`: one table per node_exporter collector, with its flags'
/// defaults.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// node_exporter's `mdadm` collector (on).
    pub mdadm: Toggle,
    /// node_exporter's `dmmultipath` collector (on).
    pub dmmultipath: Toggle,
    /// node_exporter's `nvme` collector (on).
    pub nvme: Toggle,
    /// node_exporter's `fibrechannel` collector (on).
    pub fibrechannel: Toggle,
    /// node_exporter's `tapestats` collector (on).
    pub tapestats: tapestats::Config,
    /// node_exporter's `drbd` collector (off).
    pub drbd: Toggle,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mdadm: Toggle::ON,
            dmmultipath: Toggle::ON,
            nvme: Toggle::ON,
            fibrechannel: Toggle::ON,
            tapestats: tapestats::Config::default(),
            drbd: Toggle::OFF,
        }
    }
}

impl Collector for Storage {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "storage",
            env!("CARGO_PKG_VERSION"),
            "storage layers and controllers: software RAID, multipath, NVMe, Fibre Channel, tape, DRBD",
        )
        .needs(&[Capability::Proc, Capability::Sys])
    }

    fn new(config: Config) -> Result<Self, Error> {
        let mut parts = Parts::default();
        parts.add_if(config.mdadm.enabled, "mdadm", || Ok(mdadm::Mdadm))?;
        parts.add_if(config.dmmultipath.enabled, "dmmultipath", || {
            Ok(dmmultipath::DmMultipath)
        })?;
        parts.add_if(config.nvme.enabled, "nvme", || Ok(nvme::Nvme))?;
        parts.add_if(config.fibrechannel.enabled, "fibrechannel", || {
            Ok(fibrechannel::FibreChannel)
        })?;
        parts.add_if(config.tapestats.enabled, "tapestats", || {
            tapestats::Tapestats::new(&config.tapestats)
        })?;
        parts.add_if(config.drbd.enabled, "drbd", || Ok(drbd::Drbd))?;
        Ok(Storage { parts })
    }

    /// Runs every enabled part. A part that fails is logged and the others' output kept; the
    /// collection fails only when parts failed and nothing was collected.
    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        self.parts.collect(host)
    }
}

/// A sysfs attribute as procfs' `SysReadFile` gives it: one `read(2)` of at most 128 bytes,
/// whitespace trimmed (invalid UTF-8 replaced).
pub(crate) fn sys_text(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(128)];
    String::from_utf8_lossy(head).trim().to_owned()
}

/// Collects the problems of the devices a part left out, for its error: the first named, the
/// rest counted.
#[derive(Default)]
pub(crate) struct Problems {
    first: Option<String>,
    more: usize,
}

impl Problems {
    /// Records a device left out because of `problem`.
    pub(crate) fn add(&mut self, problem: impl Into<String>) {
        if self.first.is_none() {
            self.first = Some(problem.into());
        } else {
            self.more += 1;
        }
    }

    /// `Ok` when nothing was left out, else one error line.
    pub(crate) fn result(self) -> Result<(), Error> {
        match (self.first, self.more) {
            (None, _) => Ok(()),
            (Some(first), 0) => Err(Error::msg(first)),
            (Some(first), more) => Err(Error::msg(format!("{first} (and {more} more)"))),
        }
    }
}

sonde_sdk::export!(Storage);
