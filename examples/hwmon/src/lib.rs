//! `sonde-plugin-hwmon`: an example third-party sonde plugin. It implements node_exporter's
//! `hwmon` collector (`node_hwmon_*`: temperatures, fans, voltages, currents, power, energy,
//! humidity, PWM settings and alarms of every chip under `/sys/class/hwmon`) and its
//! `thermal_zone` collector (`node_thermal_zone_temp`, `node_cooling_device_*` from
//! `/sys/class/thermal`), with node_exporter 1.12's metric names, labels, HELP, TYPE and flags.
//!
//! It depends on `sonde-sdk` only and reads nothing outside `class/hwmon` and `class/thermal`
//! of the sysfs root: the chips' `device` directories are reached through those paths, so the
//! operator can grant `["sys:class/hwmon", "sys:class/thermal"]` rather than all of `/sys`.

mod chips;
mod families;
mod hwmon;
mod sensors;
mod text;
mod thermal;
mod units;

use serde::{Deserialize, Serialize};
use sonde_sdk::bundle::Bundle;
use sonde_sdk::filter::NameFilter;
use sonde_sdk::{Capability, Collector, Description, Error, Host, MetricFamily};

/// The collector; see the crate documentation. It keeps its config and the chip and sensor
/// filters compiled from it.
pub struct Hwmon {
    config: Config,
    filters: hwmon::Filters,
}

/// `[plugins.hwmon] config = { … }`, with node_exporter's defaults.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// node_exporter's `hwmon` collector (`--collector.hwmon`, on).
    pub hwmon: bool,
    /// Only chips whose label matches this regex (`--collector.hwmon.chip-include`, unset).
    pub chip_include: String,
    /// Not the chips whose label matches this regex (`--collector.hwmon.chip-exclude`, unset).
    pub chip_exclude: String,
    /// Only sensors whose `chip;sensor` (e.g. `platform_coretemp_0;temp1`) matches this regex
    /// (`--collector.hwmon.sensor-include`, unset).
    pub sensor_include: String,
    /// Not the sensors whose `chip;sensor` matches this regex
    /// (`--collector.hwmon.sensor-exclude`, unset).
    pub sensor_exclude: String,
    /// node_exporter's `thermal_zone` collector (`--collector.thermal_zone`, on).
    pub thermal_zone: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hwmon: true,
            chip_include: String::new(),
            chip_exclude: String::new(),
            sensor_include: String::new(),
            sensor_exclude: String::new(),
            thermal_zone: true,
        }
    }
}

impl Collector for Hwmon {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "hwmon",
            env!("CARGO_PKG_VERSION"),
            "hardware sensors (hwmon) and thermal zones, as node_exporter's hwmon and thermal_zone",
        )
        .needs(&[Capability::Sys])
    }

    fn new(config: Config) -> Result<Self, Error> {
        Ok(Hwmon {
            filters: hwmon::Filters {
                chips: NameFilter::new(&config.chip_include, &config.chip_exclude)?,
                sensors: NameFilter::new(&config.sensor_include, &config.sensor_exclude)?,
            },
            config,
        })
    }

    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        let config = &self.config;
        let mut bundle = Bundle::new(host);
        if config.hwmon {
            bundle.run("hwmon", |out| hwmon::collect(host, &self.filters, out));
        }
        if config.thermal_zone {
            bundle.run("thermal_zone", |out| thermal::collect(host, out));
        }
        bundle.finish()
    }
}

sonde_sdk::export!(Hwmon);
