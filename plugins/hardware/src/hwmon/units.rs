//! One sensor's properties as node_exporter's metrics: names, HELP texts and the conversions from
//! the kernel's units (millidegrees, millivolts, microwatts, …) to Prometheus' base units.
//! This follows `updateHwmon` in node_exporter's `collector/hwmon_linux.go` branch by branch.

use super::sensors::Sensor;
use super::text::clean_metric_name;
use crate::families::Families;
use sonde_procfs::text::to_valid_utf8;

/// The labels every hwmon sample has.
const SENSOR_LABELS: [&str; 2] = ["chip", "sensor"];

/// Adds the metrics of the sensor `sensor_name` (`temp1`) of `chip`.
pub fn emit(families: &mut Families, chip: &str, sensor_name: &str, sensor: &Sensor) {
    let data = &sensor.properties;
    let kind = sensor.kind.as_str();
    let labels = [(SENSOR_LABELS[0], chip), (SENSOR_LABELS[1], sensor_name)];
    if let Some(label) = data.get("label") {
        families.gauge(
            "node_hwmon_sensor_label",
            "Label for given chip and sensor",
            &[
                ("chip", chip),
                ("sensor", sensor_name),
                ("label", &to_valid_utf8(label)),
            ],
            1.0,
        );
    }
    let own_value = || data.get("").and_then(|v| parse_float(v));
    match kind {
        "beep_enable" => {
            let on = data.get("").is_some_and(|v| v == b"1");
            families.gauge(
                "node_hwmon_beep_enabled",
                "Hardware beep enabled",
                &labels,
                if on { 1.0 } else { 0.0 },
            );
            return;
        }
        "vrm" => {
            if let Some(v) = own_value() {
                families.gauge(
                    "node_hwmon_voltage_regulator_version",
                    "Hardware voltage regulator",
                    &labels,
                    v,
                );
            }
            return;
        }
        "update_interval" => {
            if let Some(v) = own_value() {
                families.gauge(
                    "node_hwmon_update_interval_seconds",
                    "Hardware monitor update interval",
                    &labels,
                    v * 0.001,
                );
            }
            return;
        }
        _ => {}
    }
    let prefix = format!("node_hwmon_{kind}");
    for (element, value) in data.iter().filter(|(e, _)| *e != "label") {
        let name = match element.as_str() {
            "input" if data.contains_key("") => format!("{prefix}_input"),
            "input" | "" => prefix.clone(),
            other => format!("{prefix}_{}", clean_metric_name(other.as_bytes())),
        };
        let Some(value) = parse_float(value) else {
            continue;
        };
        element_metric(
            families,
            kind,
            element,
            &name,
            value,
            &labels,
            data.get("label"),
        );
    }
}

/// A property's value as Go's `strconv.ParseFloat` reads it (decimal; `None` when it is not a
/// number, e.g. an empty file).
fn parse_float(bytes: &[u8]) -> Option<f64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// The metric of one property (`element`) of a sensor of type `kind`, named `name` so far.
fn element_metric(
    families: &mut Families,
    kind: &str,
    element: &str,
    name: &str,
    value: f64,
    labels: &[(&str, &str)],
    sensor_label: Option<&Vec<u8>>,
) {
    let mut gauge = |suffix: &str, help: String, value: f64| {
        families.gauge(&format!("{name}{suffix}"), &help, labels, value)
    };
    match (kind, element) {
        // Status flags carry no unit.
        (_, "fault" | "alarm") => gauge(
            "",
            format!("Hardware sensor {element} status ({kind})"),
            value,
        ),
        (_, "beep") => gauge(
            "_enabled",
            "Hardware monitor sensor has beeping enabled".into(),
            value,
        ),
        ("in" | "cpu", _) => gauge(
            "_volts",
            format!("Hardware monitor for voltage ({element})"),
            value * 0.001,
        ),
        ("temp", e) if e != "type" => {
            let element = if e.is_empty() { "input" } else { e };
            gauge(
                "_celsius",
                format!("Hardware monitor for temperature ({element})"),
                value * 0.001,
            )
        }
        ("curr", _) => gauge(
            "_amps",
            format!("Hardware monitor for current ({element})"),
            value * 0.001,
        ),
        ("energy", _) => families.counter(
            &format!("{name}_joule_total"),
            &format!("Hardware monitor for joules used so far ({element})"),
            labels,
            value / 1000000.0,
        ),
        ("power", "accuracy") => gauge(
            "",
            "Hardware monitor power meter accuracy, as a ratio".into(),
            value / 1000000.0,
        ),
        ("power", "average_interval" | "average_interval_min" | "average_interval_max") => gauge(
            "_seconds",
            format!("Hardware monitor power usage update interval ({element})"),
            value * 0.001,
        ),
        ("power", _) => gauge(
            "_watt",
            format!("Hardware monitor for power usage in watts ({element})"),
            value / 1000000.0,
        ),
        ("humidity", _) => gauge(
            "",
            format!(
                "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the \
                 humidity as a percentage) ({element})"
            ),
            value / 1000000.0,
        ),
        ("fan", "input" | "min" | "max" | "target") => gauge(
            "_rpm",
            format!("Hardware monitor for fan revolutions per minute ({element})"),
            value,
        ),
        // A GPU clock, labelled by its own label (`sclk`) instead of its sensor name.
        ("freq", "input") => {
            if let Some(label) = sensor_label {
                let sensor = clean_metric_name(label);
                families.gauge(
                    &format!("{name}_freq_mhz"),
                    "Hardware monitor for GPU frequency in MHz",
                    &[(labels[0].0, labels[0].1), (SENSOR_LABELS[1], &sensor)],
                    value / 1000000.0,
                );
            }
        }
        _ => gauge(
            "",
            format!("Hardware monitor {kind} element {element}"),
            value,
        ),
    }
}
