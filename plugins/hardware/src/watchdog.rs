//! node_exporter's `watchdog` collector: `/sys/class/watchdog/<watchdog>/*` as
//! `node_watchdog_<attribute>{name}` and `node_watchdog_info`, read as procfs v0.21 reads them.

use sonde_procfs::numbers::parse_i64;
use sonde_procfs::sys_read::{EINVAL, os_error, sys_read_bytes};
use sonde_procfs::text::to_valid_utf8;
use sonde_sdk::bundle::Part;
use sonde_sdk::{Error, FsError, Host, MetricFamily, ResultExt, Root};

/// Where the watchdogs are listed, relative to the sysfs root.
const CLASS_DIR: &str = "class/watchdog";

/// The part (no flags besides `enabled`).
pub struct Watchdog;

/// The numeric attributes: file, metric name.
const NUMBERS: [(&str, &str); 7] = [
    ("bootstatus", "node_watchdog_bootstatus"),
    ("fw_version", "node_watchdog_fw_version"),
    ("nowayout", "node_watchdog_nowayout"),
    ("timeleft", "node_watchdog_timeleft_seconds"),
    ("timeout", "node_watchdog_timeout_seconds"),
    ("pretimeout", "node_watchdog_pretimeout_seconds"),
    ("access_cs0", "node_watchdog_access_cs0"),
];

/// The text attributes, labels of `node_watchdog_info` (empty when missing).
const TEXTS: [&str; 5] = [
    "options",
    "identity",
    "state",
    "status",
    "pretimeout_governor",
];

impl Part for Watchdog {
    /// One listing of `class/watchdog`, then one batch read per watchdog. A value that is not a
    /// number is left out and fails the part after the rest was reported, naming the file.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let watchdogs = match host.read_dir(Root::Sys, CLASS_DIR) {
            Err(FsError::NotFound | FsError::PermissionDenied) => return Ok(()),
            listing => listing.context(format!("listing /sys/{CLASS_DIR}"))?,
        };
        let mut numbers: Vec<MetricFamily> = NUMBERS
            .iter()
            .map(|(file, metric)| {
                MetricFamily::gauge(
                    *metric,
                    format!("Value of /sys/class/watchdog/<watchdog>/{file}"),
                )
            })
            .collect();
        let mut info = MetricFamily::gauge(
            "node_watchdog_info",
            "Info of /sys/class/watchdog/<watchdog>",
        );
        let mut errors = Vec::new();
        for watchdog in watchdogs {
            let name = watchdog.name.as_str();
            let dir = format!("{CLASS_DIR}/{name}");
            let files = NUMBERS.iter().map(|(f, _)| *f).chain(TEXTS);
            let paths: Vec<String> = files.clone().map(|f| format!("{dir}/{f}")).collect();
            let mut texts = Vec::new();
            for (i, (file, read)) in files.zip(host.read_many(Root::Sys, &paths)).enumerate() {
                let bytes = match read {
                    Ok(bytes) => bytes,
                    Err(FsError::NotFound) => continue,
                    // procfs fails the whole class on these, and node_exporter then reports
                    // nothing, quietly: here the attribute is left out, quietly too.
                    Err(FsError::PermissionDenied) => continue,
                    Err(e) if os_error(&e) == Some(EINVAL) => continue,
                    Err(e) => {
                        errors.push(Error::from(e).context(format!("reading /sys/{dir}/{file}")));
                        continue;
                    }
                };
                let value = sys_read_bytes(&bytes);
                if i >= NUMBERS.len() {
                    texts.push((file, to_valid_utf8(value)));
                    continue;
                }
                match std::str::from_utf8(value)
                    .map_err(Error::msg)
                    .and_then(parse_i64)
                {
                    Ok(n) => {
                        numbers[i].sample(&[("name", name)], n as f64);
                    }
                    Err(e) => errors
                        .push(e.context(format!("/sys/{dir}/{file}: {:?}", to_valid_utf8(value)))),
                }
            }
            let text = |file: &str| {
                texts
                    .iter()
                    .find(|(f, _)| *f == file)
                    .map_or("", |(_, v)| v.as_str())
            };
            info.sample(
                &[
                    ("name", name),
                    ("options", text("options")),
                    ("identity", text("identity")),
                    ("state", text("state")),
                    ("status", text("status")),
                    ("pretimeout_governor", text("pretimeout_governor")),
                ],
                1.0,
            );
        }
        out.extend(numbers);
        out.push(info);
        errors.pop().map_or(Ok(()), Err)
    }
}
