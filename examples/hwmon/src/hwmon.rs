//! node_exporter's `hwmon` collector: every chip under `/sys/class/hwmon` that passes the chip
//! filter, every sensor of it that passes the sensor filter.

use crate::chips::{self, Chip};
use crate::families::Families;
use crate::sensors;
use crate::text::clean_metric_name;
use crate::units;
use sonde_sdk::filter::NameFilter;
use sonde_sdk::{Error, Host, MetricFamily};

/// The include/exclude filters of the config.
pub struct Filters {
    /// On the `chip` label (`platform_coretemp_0`).
    pub chips: NameFilter,
    /// On `chip;sensor` (`platform_coretemp_0;temp1`).
    pub sensors: NameFilter,
}

/// Appends the `node_hwmon_*` families to `out`. A chip that cannot be read does not stop the
/// others; the last such error is returned after the others' metrics were appended, as
/// node_exporter does.
pub fn collect(host: &Host, filters: &Filters, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let (chips, mut errors) = chips::discover(host)?;
    let mut families = Families::default();
    for chip in chips.iter().filter(|c| filters.chips.kept(&c.name)) {
        if let Err(e) = chip_metrics(host, chip, &filters.sensors, &mut families) {
            errors.push(e);
        }
    }
    out.extend(families.into_vec());
    errors.pop().map_or(Ok(()), Err)
}

/// The metrics of one chip: its human-readable name and its sensors.
fn chip_metrics(
    host: &Host,
    chip: &Chip,
    sensor_filter: &NameFilter,
    families: &mut Families,
) -> Result<(), Error> {
    let sensors = sensors::read(host, chip)?;
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
        if sensor_filter.kept(&format!("{};{name}", chip.name)) {
            units::emit(families, &chip.name, name, sensor);
        }
    }
    Ok(())
}
