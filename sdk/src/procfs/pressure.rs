//! `/proc/pressure/{cpu,io,memory,irq}`: pressure stall information (PSI).

use crate::Error;

/// One line of a PSI file (`some …` or `full …`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
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

/// Parses a PSI file such as `some avg10=0.00 avg60=0.00 avg300=0.00 total=14036781`.
pub fn parse(text: &str) -> Result<Pressure, Error> {
    let mut pressure = Pressure::default();
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let slot = match fields.next() {
            Some("some") => &mut pressure.some,
            Some("full") => &mut pressure.full,
            _ => continue,
        };
        let mut parsed = PressureLine::default();
        for field in fields {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| Error::msg(format!("pressure: malformed field {field:?}")))?;
            let bad =
                |e: &dyn std::fmt::Display| Error::msg(format!("pressure: {key}={value}: {e}"));
            match key {
                "avg10" => parsed.avg10 = value.parse().map_err(|e| bad(&e))?,
                "avg60" => parsed.avg60 = value.parse().map_err(|e| bad(&e))?,
                "avg300" => parsed.avg300 = value.parse().map_err(|e| bad(&e))?,
                "total" => parsed.total_us = value.parse().map_err(|e| bad(&e))?,
                _ => {}
            }
        }
        *slot = Some(parsed);
    }
    Ok(pressure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_some_and_full() {
        let p = parse(
            "some avg10=0.12 avg60=0.05 avg300=0.01 total=14036781\n\
             full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
        )
        .unwrap();
        assert_eq!(p.some.unwrap().total_us, 14036781);
        assert_eq!(p.some.unwrap().avg10, 0.12);
        assert_eq!(p.full.unwrap().total_us, 0);
        assert_eq!(parse("some avg10=0.1 total=5\n").unwrap().full, None);
        assert!(parse("some total=x\n").is_err());
        assert_eq!(seconds(14036781), 14.036781000000001);
    }
}
