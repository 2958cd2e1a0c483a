//! `/proc/loadavg`.

use sonde_sdk::Error;

/// The load averages of `/proc/loadavg`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadAverage {
    /// Over 1 minute.
    pub one: f64,
    /// Over 5 minutes.
    pub five: f64,
    /// Over 15 minutes.
    pub fifteen: f64,
}

/// Parses `/proc/loadavg` (`0.21 0.37 0.39 1/719 19737`), keeping `f64` precision.
pub fn parse(text: &str) -> Result<LoadAverage, Error> {
    let mut fields = text.split_whitespace();
    let mut next = |what: &str| -> Result<f64, Error> {
        let field = fields
            .next()
            .ok_or_else(|| Error::msg(format!("/proc/loadavg: missing {what}")))?;
        field
            .parse()
            .map_err(|e| Error::msg(format!("/proc/loadavg: {what} {field:?}: {e}")))
    };
    Ok(LoadAverage {
        one: next("1m load")?,
        five: next("5m load")?,
        fifteen: next("15m load")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_loadavg() {
        let l = parse("0.21 0.37 0.39 1/719 19737\n").unwrap();
        assert_eq!((l.one, l.five, l.fifteen), (0.21, 0.37, 0.39));
        assert!(parse("0.21 x").unwrap_err().to_string().contains("5m load"));
        assert!(parse("").is_err());
    }
}
