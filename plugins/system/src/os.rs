//! node_exporter's `os` collector: the rootfs' `os-release` as `node_os_info`, its version as a
//! number, and its end of support.

use crate::os_release;
use sonde_sdk::bundle::display_path;
use sonde_sdk::{Error, FsError, Host, MetricFamily, ResultExt, Root};
use std::collections::HashMap;

/// Where node_exporter looks for os-release below the rootfs, in order.
const FILES: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];

/// The labels of `node_os_info` and the os-release keys they come from.
const INFO_LABELS: [(&str, &str); 12] = [
    ("build_id", "BUILD_ID"),
    ("id", "ID"),
    ("id_like", "ID_LIKE"),
    ("image_id", "IMAGE_ID"),
    ("image_version", "IMAGE_VERSION"),
    ("name", "NAME"),
    ("pretty_name", "PRETTY_NAME"),
    ("variant", "VARIANT"),
    ("variant_id", "VARIANT_ID"),
    ("version", "VERSION"),
    ("version_codename", "VERSION_CODENAME"),
    ("version_id", "VERSION_ID"),
];

/// Appends `node_os_info`, `node_os_version` (when `VERSION_ID` starts with a number above 0)
/// and `node_os_support_end_timestamp_seconds` (when `SUPPORT_END` is set), from the first
/// os-release file that exists. `etc/os-release` is usually a symlink; one with an absolute
/// target cannot be followed inside the rootfs, so the next file is tried instead.
pub fn collect(host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    for path in FILES {
        let context = || format!("reading {}", display_path(Root::Rootfs, path));
        match host.read_to_string(Root::Rootfs, path) {
            Ok(text) => {
                let vars = os_release::parse(&text).context(context())?;
                return report(&vars, out).context(context());
            }
            Err(FsError::NotFound | FsError::EscapesRoot) => continue,
            Err(e) => return Err(Error::from(e).context(context())),
        }
    }
    Ok(())
}

fn report(vars: &HashMap<String, String>, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let var = |key: &str| vars.get(key).map_or("", String::as_str);
    let support_end =
        match var("SUPPORT_END") {
            "" => None,
            date => Some(parse_date(date).ok_or_else(|| {
                Error::msg(format!("SUPPORT_END {date:?} is not a YYYY-MM-DD date"))
            })?),
        };
    let labels: Vec<(&str, &str)> = INFO_LABELS
        .iter()
        .map(|&(label, key)| (label, var(key)))
        .collect();
    out.push(
        MetricFamily::info(
            "node_os_info",
            "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, \
             image_version, name, pretty_name, variant, variant_id, version, version_codename, \
             version_id.",
        )
        .with_sample(&labels, 1.0),
    );
    let version = major_minor(var("VERSION_ID"));
    if version > 0.0 {
        out.push(
            MetricFamily::gauge(
                "node_os_version",
                "Metric containing the major.minor part of the OS version.",
            )
            .with_sample(
                &[
                    ("id", var("ID")),
                    ("id_like", var("ID_LIKE")),
                    ("name", var("NAME")),
                ],
                version,
            ),
        );
    }
    if let Some(seconds) = support_end {
        out.push(
            MetricFamily::gauge(
                "node_os_support_end_timestamp_seconds",
                "Metric containing the end-of-life date timestamp of the OS.",
            )
            .with_value(seconds as f64),
        );
    }
    Ok(())
}

/// The number at the start of `VERSION_ID` as node_exporter reads it (`^[0-9]+\.?[0-9]*`):
/// `22.04` → 22.04, `9.3.1` → 9.3, `8.10` → 8.1; 0 when it does not start with a digit.
fn major_minor(version_id: &str) -> f64 {
    let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let major = digits(version_id);
    if major == 0 {
        return 0.0;
    }
    let end = match version_id[major..].strip_prefix('.') {
        Some(rest) => major + 1 + digits(rest),
        None => major,
    };
    version_id[..end].parse().unwrap_or(0.0)
}

/// Seconds since the epoch of midnight UTC of a `YYYY-MM-DD` date (Go's `time.DateOnly`).
fn parse_date(date: &str) -> Option<i64> {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = &date[range];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) {
        return None;
    }
    // Days from 1970-01-01 to the date (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some((era * 146097 + day_of_era - 719468) * 86400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_as_node_exporter_reads_them() {
        for (id, version) in [
            ("12", 12.0),
            ("22.04", 22.04),
            ("9.3.1", 9.3),
            ("8.10", 8.1),
            ("12.", 12.0),
            ("rolling", 0.0),
            ("", 0.0),
            ("0", 0.0),
        ] {
            assert_eq!(major_minor(id), version, "{id}");
        }
    }

    #[test]
    fn support_end_dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2028-06-30"), Some(1_845_936_000));
        assert_eq!(parse_date("2024-02-29"), Some(1_709_164_800));
        for bad in [
            "2023-02-29",
            "2028-6-30",
            "2028-13-01",
            "2028-06-31",
            "28-06-30x",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
