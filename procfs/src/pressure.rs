//! `/proc/pressure/{cpu,io,memory,irq}`: pressure stall information (PSI).

use super::{Skipped, quoted};

/// One line of a PSI file (`some …` or `full …`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PressureLine {
    /// Share of time stalled over the last 10 s, in percent.
    pub avg10: f64,
    /// … over 60 s.
    pub avg60: f64,
    /// … over 300 s.
    pub avg300: f64,
    /// Total stall time in microseconds.
    pub total_us: u64,
}

/// A PSI file: the `some` line (some tasks stalled) and the `full` line (all stalled), each
/// absent when the kernel does not report it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pressure {
    /// Some tasks were stalled.
    pub some: Option<PressureLine>,
    /// All non-idle tasks were stalled.
    pub full: Option<PressureLine>,
}

/// Converts a PSI `total` (microseconds) to seconds exactly as node_exporter does (two
/// divisions by 1000, which rounds differently from one by 1e6: 14036781 → 14.036781000000001).
pub fn seconds(total_us: u64) -> f64 {
    total_us as f64 / 1000.0 / 1000.0
}

/// Parses a PSI file such as `some avg10=0.00 avg60=0.00 avg300=0.00 total=14036781`. A `some`
/// or `full` line that lacks one of the four fields, or whose value does not parse, is skipped
/// (node_exporter fails the whole file on it); lines of other kinds are ignored.
pub fn parse(text: &str) -> (Pressure, Skipped) {
    let mut pressure = Pressure::default();
    let mut skipped = Skipped::default();
    for (index, line) in text.lines().enumerate() {
        let mut fields = line.split_ascii_whitespace();
        let slot = match fields.next() {
            Some("some") => &mut pressure.some,
            Some("full") => &mut pressure.full,
            _ => continue,
        };
        match parse_line(fields) {
            Ok(parsed) => *slot = Some(parsed),
            Err(why) => skipped.line(index + 1, format!("{why} in line {}", quoted(line))),
        }
    }
    (pressure, skipped)
}

/// The `key=value` fields after `some` or `full`.
fn parse_line<'a>(fields: impl Iterator<Item = &'a str>) -> Result<PressureLine, String> {
    let (mut avg10, mut avg60, mut avg300, mut total_us) = (None, None, None, None);
    for field in fields {
        let (key, value) = field
            .split_once('=')
            .ok_or_else(|| format!("malformed field {field:?}"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{key}={value}: {e}");
        match key {
            "avg10" => avg10 = Some(value.parse().map_err(|e| bad(&e))?),
            "avg60" => avg60 = Some(value.parse().map_err(|e| bad(&e))?),
            "avg300" => avg300 = Some(value.parse().map_err(|e| bad(&e))?),
            "total" => total_us = Some(value.parse().map_err(|e| bad(&e))?),
            _ => {}
        }
    }
    match (avg10, avg60, avg300, total_us) {
        (Some(avg10), Some(avg60), Some(avg300), Some(total_us)) => Ok(PressureLine {
            avg10,
            avg60,
            avg300,
            total_us,
        }),
        _ => Err("missing avg10, avg60, avg300 or total".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_some_and_full() {
        let (p, skipped) = parse(
            "some avg10=0.12 avg60=0.05 avg300=0.01 total=14036781\n\
             full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
        );
        assert!(skipped.is_empty());
        assert_eq!(p.some.unwrap().total_us, 14036781);
        assert_eq!(p.some.unwrap().avg10, 0.12);
        assert_eq!(p.full.unwrap().total_us, 0);
        assert_eq!(parse("some avg10=0.1 total=5\n").0.full, None);
        assert!(!parse("some total=x\n").1.is_empty());
        assert_eq!(seconds(14036781), 14.036781000000001);
    }

    #[test]
    fn a_line_without_its_total_is_skipped_not_zero() {
        let (p, skipped) = parse(
            "some avg10=0.12 avg60=0.05 avg300=0.01\n\
             full avg10=0.00 avg60=0.00 avg300=0.00 total=7\n",
        );
        assert_eq!((p.some, p.full.map(|f| f.total_us)), (None, Some(7)));
        assert_eq!(
            skipped
                .result("/proc/pressure/io", true)
                .unwrap_err()
                .to_string(),
            "/proc/pressure/io: 1 malformed line skipped: line 1: missing avg10, avg60, avg300 \
             or total in line \"some avg10=0.12 avg60=0.05 avg300=0.01\""
        );
    }
}
