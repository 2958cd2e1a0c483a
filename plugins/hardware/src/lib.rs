//! sonde's built-in `hardware` collector: node_exporter's hardware and platform collectors
//! `hwmon`, `thermal_zone`, `powersupplyclass`, `rapl`, `dmi`, `watchdog`, `edac` (on by
//! default, as in node_exporter) and `pcidevice` (off by default), with the same metric names,
//! labels, HELP and TYPE. Each is a section of the config that can be turned on or off.
//!
//! Everything is read below the sysfs root. The parts list their class directory once and stop
//! there when the kernel does not have it (no `/sys/class/powercap` on a VM, no EDAC driver).

pub mod dmi;
pub mod edac;
mod families;
pub mod hwmon;
pub mod pcidevice;
pub mod powersupply;
pub mod rapl;
pub mod thermal;
pub mod watchdog;

use serde::{Deserialize, Serialize};
use sonde_sdk::bundle::{Parts, Toggle};
use sonde_sdk::{Capability, Collector, Description, Error, Host, MetricFamily};

/// The `hardware` collector: its enabled parts, built from the config.
pub struct Hardware {
    parts: Parts,
}

/// `[plugins.hardware] config = { … }`: one table per node_exporter collector, with its flags'
/// defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// node_exporter's `hwmon` collector.
    pub hwmon: hwmon::Config,
    /// node_exporter's `thermal_zone` collector.
    pub thermal_zone: Toggle,
    /// node_exporter's `powersupplyclass` collector.
    pub powersupplyclass: powersupply::Config,
    /// node_exporter's `rapl` collector.
    pub rapl: rapl::Config,
    /// node_exporter's `dmi` collector.
    pub dmi: Toggle,
    /// node_exporter's `watchdog` collector.
    pub watchdog: Toggle,
    /// node_exporter's `edac` collector.
    pub edac: Toggle,
    /// node_exporter's `pcidevice` collector (off by default).
    pub pcidevice: pcidevice::Config,
}

impl Collector for Hardware {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "hardware",
            env!("CARGO_PKG_VERSION"),
            "hardware sensors and platform: temperatures, fans, voltages, power supplies, RAPL \
             energy, DMI, watchdogs, EDAC memory errors",
        )
        .needs(&[Capability::Sys])
    }

    /// Builds the enabled parts; an invalid pattern in the config is an error here.
    fn new(config: Config) -> Result<Self, Error> {
        Ok(Hardware {
            parts: parts(&config)?,
        })
    }

    /// Runs every enabled part. A part that fails is logged and the others' output kept; the
    /// collection fails only when parts failed and nothing was collected.
    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        self.parts.collect(host)
    }
}

/// The enabled parts, in node_exporter's collector names.
fn parts(config: &Config) -> Result<Parts, Error> {
    let mut parts = Parts::default();
    parts.add_if(config.hwmon.enabled, "hwmon", || {
        hwmon::Hwmon::new(&config.hwmon)
    })?;
    parts.add_if(config.thermal_zone.enabled, "thermal_zone", || {
        Ok(thermal::ThermalZone)
    })?;
    parts.add_if(config.powersupplyclass.enabled, "powersupplyclass", || {
        powersupply::PowerSupplyClass::new(&config.powersupplyclass)
    })?;
    parts.add_if(config.rapl.enabled, "rapl", || {
        rapl::Rapl::new(&config.rapl)
    })?;
    parts.add_if(config.dmi.enabled, "dmi", || Ok(dmi::Dmi::default()))?;
    parts.add_if(config.watchdog.enabled, "watchdog", || {
        Ok(watchdog::Watchdog)
    })?;
    parts.add_if(config.edac.enabled, "edac", edac::Edac::new)?;
    parts.add_if(config.pcidevice.enabled, "pcidevice", || {
        pcidevice::PciDevice::new(&config.pcidevice)
    })?;
    Ok(parts)
}

sonde_sdk::export!(Hardware);
