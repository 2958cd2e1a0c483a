//! A chip's sensor files (`temp1_input`, `fan2_min`, `in0_alarm`, …) read into sensors and their
//! properties, as node_exporter's `collectSensorData` does.

use super::chips::Chip;
use sonde_procfs::sys_read::{first_read, trim_newlines};
use sonde_sdk::filter::{Pattern, compile};
use sonde_sdk::{EntryKind, Error, Host, Root};
use std::collections::BTreeMap;
use std::rc::Rc;

/// The sensor types node_exporter reads (`hwmonSensorTypes`); other files are ignored.
const SENSOR_TYPES: [&str; 14] = [
    "vrm",
    "beep_enable",
    "update_interval",
    "in",
    "cpu",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
    "freq",
];

/// node_exporter's `hwmonFilenameFormat`: `<type><number>_<property>`, each part optional but
/// the type.
const FILE_NAME: &str = r"^(?P<type>[^0-9]+)(?P<id>[0-9]*)?(_(?P<property>.+))?$";

/// One sensor of a chip, e.g. `temp1`.
#[derive(Debug, Default, PartialEq)]
pub struct Sensor {
    /// Its type: `temp`, `fan`, `in`, …
    pub kind: String,
    /// Its properties by name (`input`, `max`, `label`; `""` for a file named only `<type><n>`),
    /// each with the file's contents (the first read of it), newlines trimmed.
    pub properties: BTreeMap<String, Vec<u8>>,
}

/// A sensor file name taken apart.
#[derive(Debug, PartialEq)]
pub struct FileName<'a> {
    /// `temp` in `temp1_input`.
    pub kind: &'a str,
    /// `1` in `temp1_input` (0 when absent).
    pub number: i64,
    /// `input` in `temp1_input` (empty when absent).
    pub property: &'a str,
}

/// node_exporter's `explodeSensorFilename`; `None` for names that do not fit.
pub fn parse_file_name<'a>(pattern: &Pattern, name: &'a str) -> Option<FileName<'a>> {
    let captures = pattern.regex().captures(name)?;
    let part = |group: &str| captures.name(group).map_or("", |m| m.as_str());
    let id = part("id");
    Some(FileName {
        kind: part("type"),
        number: if id.is_empty() { 0 } else { id.parse().ok()? },
        property: part("property"),
    })
}

/// node_exporter's pattern of sensor file names, compiled.
pub fn file_name_pattern() -> Result<Rc<Pattern>, Error> {
    compile(FILE_NAME).map_err(Error::msg)
}

/// Reads the sensor files of `chip` (its own directory, then its device's, whose values win),
/// by sensor name (`temp1`). Unreadable files are skipped, as node_exporter skips them.
pub fn read(
    host: &Host,
    pattern: &Pattern,
    chip: &Chip,
) -> Result<BTreeMap<String, Sensor>, Error> {
    let mut sensors: BTreeMap<String, Sensor> = BTreeMap::new();
    for (dir, entries) in &chip.sources {
        let mut wanted = Vec::new();
        let mut paths = Vec::new();
        for entry in entries.iter().filter(|e| e.kind != EntryKind::Dir) {
            let Some(file) = parse_file_name(pattern, &entry.name) else {
                continue;
            };
            if SENSOR_TYPES.contains(&file.kind) {
                paths.push(format!("{dir}/{}", entry.name));
                wanted.push(file);
            }
        }
        for (file, contents) in wanted.into_iter().zip(host.read_many(Root::Sys, &paths)) {
            let Ok(bytes) = contents else {
                continue;
            };
            let value = trim_newlines(first_read(&bytes)).to_vec();
            let sensor = sensors
                .entry(format!("{}{}", file.kind, file.number))
                .or_default();
            sensor.kind = file.kind.to_owned();
            sensor.properties.insert(file.property.to_owned(), value);
        }
    }
    Ok(sensors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_split_as_node_exporter_splits_them() {
        let p = compile(FILE_NAME).unwrap();
        let parse = |n| parse_file_name(&p, n);
        let name = |kind, number, property| {
            Some(FileName {
                kind,
                number,
                property,
            })
        };
        assert_eq!(parse("temp1_input"), name("temp", 1, "input"));
        assert_eq!(parse("temp1_crit_alarm"), name("temp", 1, "crit_alarm"));
        assert_eq!(parse("in0_input"), name("in", 0, "input"));
        assert_eq!(
            parse("pwm1_auto_point1_pwm"),
            name("pwm", 1, "auto_point1_pwm")
        );
        assert_eq!(parse("beep_enable"), name("beep_enable", 0, ""));
        assert_eq!(parse("fan1"), name("fan", 1, ""));
        assert_eq!(parse("fan_x1y"), name("fan", 0, "x1y"));
        assert_eq!(parse("temp99999999999999999999_input"), None);
        assert_eq!(parse("1abc"), None);
    }
}
