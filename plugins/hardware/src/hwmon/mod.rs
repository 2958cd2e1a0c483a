//! node_exporter's `hwmon` collector: every chip under `/sys/class/hwmon` that passes the chip
//! filter, every sensor of it that passes the sensor filter (`node_hwmon_*`: temperatures, fans,
//! voltages, currents, power, energy, humidity, PWM settings and alarms).

mod chips;
mod sensors;
mod text;
mod units;

use crate::families::Families;
use chips::Chip;
use serde::{Deserialize, Serialize};
use sonde_sdk::bundle::Part;
use sonde_sdk::filter::{NameFilter, Pattern};
use sonde_sdk::{Error, Host, MetricFamily};
use std::rc::Rc;
use text::clean_metric_name;

/// `hwmon = { … }`: node_exporter's `--collector.hwmon*` flags, with their defaults.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Run it (`--collector.hwmon`, on).
    pub enabled: bool,
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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            chip_include: String::new(),
            chip_exclude: String::new(),
            sensor_include: String::new(),
            sensor_exclude: String::new(),
        }
    }
}

/// The part, with its filters compiled.
pub struct Hwmon {
    /// On the `chip` label (`platform_coretemp_0`).
    chips: NameFilter,
    /// On `chip;sensor` (`platform_coretemp_0;temp1`).
    sensors: NameFilter,
    /// node_exporter's pattern of sensor file names.
    file_name: Rc<Pattern>,
}

impl Hwmon {
    /// Compiles the filters of `config`; an invalid regex is an error.
    pub fn new(config: &Config) -> Result<Self, Error> {
        Ok(Hwmon {
            chips: NameFilter::new(&config.chip_include, &config.chip_exclude)?,
            sensors: NameFilter::new(&config.sensor_include, &config.sensor_exclude)?,
            file_name: sensors::file_name_pattern()?,
        })
    }

    /// The metrics of one chip: its human-readable name and its sensors.
    fn chip_metrics(&self, host: &Host, chip: &Chip, families: &mut Families) -> Result<(), Error> {
        let sensors = sensors::read(host, &self.file_name, chip)?;
        if let Some(chip_name) = chip
            .name_file
            .as_deref()
            .map(clean_metric_name)
            .filter(|n| !n.is_empty())
        {
            families.gauge(
                "node_hwmon_chip_names",
                "Annotation metric for human-readable chip names",
                &[("chip", &chip.name), ("chip_name", &chip_name)],
                1.0,
            );
        }
        for (name, sensor) in &sensors {
            if self.sensors.kept(&format!("{};{name}", chip.name)) {
                units::emit(families, &chip.name, name, sensor);
            }
        }
        Ok(())
    }
}

impl Part for Hwmon {
    /// Appends the `node_hwmon_*` families. A chip that cannot be read does not stop the others;
    /// the last such error is returned after the others' metrics were appended, as node_exporter
    /// does.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let (chips, mut errors) = chips::discover(host)?;
        let mut families = Families::default();
        for chip in chips.iter().filter(|c| self.chips.kept(&c.name)) {
            if let Err(e) = self.chip_metrics(host, chip, &mut families) {
                errors.push(e);
            }
        }
        out.extend(families.into_vec());
        errors.pop().map_or(Ok(()), Err)
    }
}
