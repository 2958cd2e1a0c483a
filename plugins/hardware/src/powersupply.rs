//! node_exporter's `powersupplyclass` collector: `/sys/class/power_supply/<supply>/*` as
//! `node_power_supply_<property>{power_supply}` and `node_power_supply_info`, read as procfs
//! v0.21 reads them (`SysReadFile`, integers in Go's base-0 syntax) and converted as
//! node_exporter 1.12 converts them (µA, µV, µWh, µW to base units; tenths of °C to °C).

use serde::{Deserialize, Serialize};
use sonde_procfs::numbers::parse_i64;
use sonde_procfs::sys_read::{EINVAL, ENODEV, EOPNOTSUPP, os_error, sys_read_bytes};
use sonde_procfs::text::to_valid_utf8;
use sonde_sdk::bundle::Part;
use sonde_sdk::filter::NameFilter;
use sonde_sdk::{EntryKind, Error, FsError, Host, Label, MetricFamily, ResultExt, Root};
use std::collections::BTreeMap;

/// Where the supplies are listed, relative to the sysfs root.
const CLASS_DIR: &str = "class/power_supply";

/// `powersupplyclass = { … }`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Run it (`--collector.powersupplyclass`, on).
    pub enabled: bool,
    /// Supplies whose name matches this regex are left out
    /// (`--collector.powersupply.ignored-supplies`, `^$`).
    pub ignored_supplies: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            ignored_supplies: "^$".to_owned(),
        }
    }
}

/// The part.
pub struct PowerSupplyClass {
    ignored: NameFilter,
}

impl PowerSupplyClass {
    /// Checks the config's pattern.
    pub fn new(config: &Config) -> Result<Self, Error> {
        Ok(PowerSupplyClass {
            ignored: NameFilter::new("", &config.ignored_supplies)?,
        })
    }
}

/// The numeric attributes node_exporter exports: file, metric suffix, divisor.
const NUMBERS: [(&str, &str, f64); 49] = [
    ("authentic", "authentic", 1.0),
    ("calibrate", "calibrate", 1.0),
    ("capacity", "capacity", 1.0),
    ("capacity_alert_max", "capacity_alert_max", 1.0),
    ("capacity_alert_min", "capacity_alert_min", 1.0),
    ("cycle_count", "cyclecount", 1.0),
    ("online", "online", 1.0),
    ("present", "present", 1.0),
    ("time_to_empty_now", "time_to_empty_seconds", 1.0),
    ("time_to_full_now", "time_to_full_seconds", 1.0),
    ("current_boot", "current_boot", 1e6),
    ("current_max", "current_max", 1e6),
    ("current_now", "current_ampere", 1e6),
    ("energy_empty", "energy_empty", 1e6),
    ("energy_empty_design", "energy_empty_design", 1e6),
    ("energy_full", "energy_full", 1e6),
    ("energy_full_design", "energy_full_design", 1e6),
    ("energy_now", "energy_watthour", 1e6),
    ("voltage_boot", "voltage_boot", 1e6),
    ("voltage_max", "voltage_max", 1e6),
    ("voltage_max_design", "voltage_max_design", 1e6),
    ("voltage_min", "voltage_min", 1e6),
    ("voltage_min_design", "voltage_min_design", 1e6),
    ("voltage_now", "voltage_volt", 1e6),
    ("voltage_ocv", "voltage_ocv", 1e6),
    ("charge_control_limit", "charge_control_limit", 1e6),
    ("charge_control_limit_max", "charge_control_limit_max", 1e6),
    ("charge_counter", "charge_counter", 1e6),
    ("charge_empty", "charge_empty", 1e6),
    ("charge_empty_design", "charge_empty_design", 1e6),
    ("charge_full", "charge_full", 1e6),
    ("charge_full_design", "charge_full_design", 1e6),
    ("charge_now", "charge_ampere", 1e6),
    ("charge_term_current", "charge_term_current", 1e6),
    ("constant_charge_current", "constant_charge_current", 1e6),
    (
        "constant_charge_current_max",
        "constant_charge_current_max",
        1e6,
    ),
    ("constant_charge_voltage", "constant_charge_voltage", 1e6),
    (
        "constant_charge_voltage_max",
        "constant_charge_voltage_max",
        1e6,
    ),
    ("precharge_current", "precharge_current", 1e6),
    ("input_current_limit", "input_current_limit", 1e6),
    ("power_now", "power_watt", 1e6),
    ("temp", "temp_celsius", 10.0),
    ("temp_alert_max", "temp_alert_max_celsius", 10.0),
    ("temp_alert_min", "temp_alert_min_celsius", 10.0),
    ("temp_ambient", "temp_ambient_celsius", 10.0),
    ("temp_ambient_max", "temp_ambient_max_celsius", 10.0),
    ("temp_ambient_min", "temp_ambient_min_celsius", 10.0),
    ("temp_max", "temp_max_celsius", 10.0),
    ("temp_min", "temp_min_celsius", 10.0),
];

/// The text attributes that become labels of `node_power_supply_info` (file = label name).
const TEXTS: [&str; 11] = [
    "capacity_level",
    "charge_type",
    "health",
    "manufacturer",
    "model_name",
    "serial_number",
    "status",
    "technology",
    "type",
    "usb_type",
    "scope",
];

impl Part for PowerSupplyClass {
    /// One listing of `class/power_supply`, then per supply one listing and one batch read of
    /// the attributes it has. A value that is not a number is left out and fails the part (after
    /// the rest was reported), naming the file.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let supplies = match host.read_dir(Root::Sys, CLASS_DIR) {
            Err(FsError::NotFound) => return Ok(()),
            listing => listing.context(format!("listing /sys/{CLASS_DIR}"))?,
        };
        let mut numbers: BTreeMap<&str, MetricFamily> = BTreeMap::new();
        let mut info = MetricFamily::gauge(
            "node_power_supply_info",
            "info of /sys/class/power_supply/<power_supply>.",
        );
        let mut errors = Vec::new();
        for supply in supplies {
            let name = &supply.name;
            if self.ignored.ignored(name) {
                continue;
            }
            let dir = format!("{CLASS_DIR}/{name}");
            let files = match host.read_dir(Root::Sys, &dir) {
                // Gone since the listing, or a dangling link: no supply.
                Err(FsError::NotFound) => continue,
                Err(e) => {
                    errors.push(Error::from(e).context(format!("listing /sys/{dir}")));
                    continue;
                }
                Ok(files) => files,
            };
            let wanted: Vec<&str> = files
                .iter()
                .filter(|f| f.kind == EntryKind::File)
                .map(|f| f.name.as_str())
                .filter(|f| TEXTS.contains(f) || NUMBERS.iter().any(|(file, _, _)| file == f))
                .collect();
            let paths: Vec<String> = wanted.iter().map(|f| format!("{dir}/{f}")).collect();
            let mut labels = vec![Label {
                name: "power_supply".into(),
                value: name.clone(),
            }];
            for (file, read) in wanted.iter().zip(host.read_many(Root::Sys, &paths)) {
                let path = format!("/sys/{dir}/{file}");
                let bytes = match read {
                    Ok(bytes) => bytes,
                    Err(e) if ignorable(&e) => continue,
                    Err(e) => {
                        errors.push(Error::from(e).context(format!("reading {path}")));
                        continue;
                    }
                };
                let value = sys_read_bytes(&bytes);
                if TEXTS.contains(file) {
                    if !value.is_empty() {
                        labels.push(Label {
                            name: (*file).to_owned(),
                            value: to_valid_utf8(value),
                        });
                    }
                    continue;
                }
                let Some(&(_, metric, divisor)) = NUMBERS.iter().find(|(f, _, _)| f == file) else {
                    continue;
                };
                let number = match std::str::from_utf8(value)
                    .map_err(Error::msg)
                    .and_then(parse_i64)
                {
                    Ok(number) => number,
                    Err(e) => {
                        errors.push(e.context(format!("{path}: {:?}", to_valid_utf8(value))));
                        continue;
                    }
                };
                numbers
                    .entry(metric)
                    .or_insert_with(|| {
                        MetricFamily::gauge(
                            format!("node_power_supply_{metric}"),
                            format!("{metric} value of /sys/class/power_supply/<power_supply>."),
                        )
                    })
                    .sample(&[("power_supply", name)], number as f64 / divisor);
            }
            labels.sort();
            info.sample_owned(labels, 1.0);
        }
        out.extend(numbers.into_values());
        out.push(info);
        errors.pop().map_or(Ok(()), Err)
    }
}

/// procfs skips an attribute that is missing or that the driver does not support
/// (`EOPNOTSUPP`, `ENODEV`, `EINVAL`).
fn ignorable(error: &FsError) -> bool {
    matches!(error, FsError::NotFound)
        || os_error(error).is_some_and(|e| [EINVAL, ENODEV, EOPNOTSUPP].contains(&e))
}
