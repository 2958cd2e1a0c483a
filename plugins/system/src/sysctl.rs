//! node_exporter's `sysctl` collector: the sysctls the config names, from `/proc/sys`.
//!
//! `include` entries are numeric: `name` gives `node_sysctl_<name>` (untyped; with an `index`
//! label when the file holds several numbers), `name:key1,key2,…` one family
//! `node_sysctl_<name>_<key>` per number. `include_info` entries give
//! `node_sysctl_info{name,value,index} 1` per whitespace-separated word. The name's dots are
//! path separators below `/proc/sys` (`fs.file-nr` is `/proc/sys/fs/file-nr`), and its other
//! characters that a metric name cannot have become `_`, as node_exporter's
//! `SanitizeMetricName` does.
//!
//! Checked when the collector is built, where node_exporter would fail later or panic: a name
//! that is not a dotted path below `/proc/sys` (`..`, a `/`, an empty part), a key that makes no
//! valid metric name, keys on an `include_info` entry (node_exporter cannot map words), and two
//! entries that would give the same family (or the same info series).

use serde::{Deserialize, Serialize};
use sonde_sdk::bundle::{Part, read_optional};
use sonde_sdk::names::sanitize_metric_name;
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// node_exporter reads a sysctl with one `read(2)` of at most this many bytes.
const READ_LIMIT: usize = 4096;
/// The longest sysctl name accepted (the name is a label value of `node_sysctl_info`).
const MAX_NAME: usize = 1024;

/// `sysctl = { … }`, node_exporter's flags (both repeatable) as lists.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Run it (`--collector.sysctl`, off).
    pub enabled: bool,
    /// Numeric sysctls, `name` or `name:key,key…` (`--collector.sysctl.include`).
    pub include: Vec<String>,
    /// Sysctls reported as info series (`--collector.sysctl.include-info`).
    pub include_info: Vec<String>,
}

/// One configured sysctl.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// As configured: `fs.file-nr`.
    name: String,
    /// Below the proc root: `sys/fs/file-nr`.
    path: String,
    /// The family name, `node_sysctl_fs_file_nr` (numeric entries).
    family: String,
    /// Keys for the numbers, when given.
    keys: Vec<String>,
    numeric: bool,
}

/// The sysctl part: the checked entries.
pub struct Sysctl {
    entries: Vec<Entry>,
}

/// Checks a sysctl name: a dotted path below `/proc/sys`.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty name".into());
    }
    if name.len() > MAX_NAME {
        return Err(format!("longer than {MAX_NAME} bytes"));
    }
    if name.contains('/') {
        return Err(
            "'/' in a sysctl name (it would leave /proc/sys); write fs.file-nr, not fs/file-nr"
                .into(),
        );
    }
    if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("control or white space characters".into());
    }
    if name.split('.').any(str::is_empty) {
        return Err("an empty part between dots (a leading, trailing or double '.')".into());
    }
    Ok(())
}

fn parse_entry(entry: &str, numeric: bool) -> Result<Entry, Error> {
    let flag = if numeric { "include" } else { "include_info" };
    let refuse = |why: String| Error::msg(format!("sysctl.{flag} {entry:?}: {why}"));
    let (name, keys) = match entry.split_once(':') {
        Some((name, keys)) => (name, keys.split(',').map(str::to_owned).collect()),
        None => (entry, Vec::new()),
    };
    check_name(name).map_err(refuse)?;
    if !keys.is_empty() && !numeric {
        return Err(refuse(
            "keys are for numeric sysctls (node_exporter cannot map words to keys)".into(),
        ));
    }
    for key in &keys {
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(refuse(format!(
                "key {key:?} makes no metric name (letters, digits and '_' only)"
            )));
        }
    }
    Ok(Entry {
        name: name.to_owned(),
        path: format!("sys/{}", name.replace('.', "/")),
        family: format!("node_sysctl_{}", sanitize_metric_name(name)),
        keys,
        numeric,
    })
}

impl Sysctl {
    /// Checks every entry, and that no two give the same family or info series.
    pub fn new(config: &Config) -> Result<Self, Error> {
        let mut entries = Vec::new();
        for include in &config.include {
            entries.push(parse_entry(include, true)?);
        }
        for include in &config.include_info {
            entries.push(parse_entry(include, false)?);
        }
        let mut families: Vec<(String, &str)> = Vec::new();
        for e in &entries {
            let names: Vec<String> = match (e.numeric, e.keys.is_empty()) {
                (true, true) => vec![e.family.clone()],
                (true, false) => e.keys.iter().map(|k| format!("{}_{k}", e.family)).collect(),
                // Info entries share node_sysctl_info; each name once.
                (false, _) => vec![format!("node_sysctl_info {}", e.name)],
            };
            for name in names {
                let info_clash = e.numeric && name == "node_sysctl_info";
                if let Some((_, other)) = families.iter().find(|(n, _)| *n == name) {
                    return Err(Error::msg(format!(
                        "{:?} and {other:?} give the same series ({})",
                        e.name,
                        name.split(' ').next().unwrap_or_default()
                    )));
                }
                if info_clash && !config.include_info.is_empty() {
                    return Err(Error::msg(format!(
                        "{:?} gives node_sysctl_info, the family of include_info",
                        e.name
                    )));
                }
                families.push((name, &e.name));
            }
        }
        Ok(Sysctl { entries })
    }

    /// Appends one entry's series (`info` collects the info series of all entries).
    fn collect_entry(
        &self,
        host: &Host,
        e: &Entry,
        info: &mut MetricFamily,
        out: &mut Vec<MetricFamily>,
    ) -> Result<(), Error> {
        let text = read_optional(host, Root::Proc, &e.path)?
            .ok_or_else(|| Error::msg(format!("sysctl {}: /proc/{} not found", e.name, e.path)))?;
        let mut end = text.len().min(READ_LIMIT);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let words: Vec<&str> = text[..end].split_whitespace().collect();
        if words.is_empty() {
            return Err(Error::msg(format!("sysctl {} has no values", e.name)));
        }
        if !e.numeric {
            for (index, word) in words.iter().enumerate() {
                info.sample(
                    &[
                        ("name", &e.name),
                        ("value", word),
                        ("index", &index.to_string()),
                    ],
                    1.0,
                );
            }
            return Ok(());
        }
        let numbers = words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                w.parse::<i64>().map_err(|err| {
                    Error::msg(format!(
                        "sysctl {}: field {i} {w:?} is not a valid int: {err}",
                        e.name
                    ))
                })
            })
            .collect::<Result<Vec<i64>, Error>>()?;
        let help = format!("sysctl {}", e.name);
        match (numbers.len(), e.keys.len()) {
            (1, 0) => {
                out.push(MetricFamily::untyped(&e.family, help).with_value(numbers[0] as f64))
            }
            (1, _) => {
                return Err(Error::msg(format!(
                    "sysctl {} has only one value, but expected {:?}",
                    e.name, e.keys
                )));
            }
            (_, 0) => {
                let mut family = MetricFamily::untyped(&e.family, help);
                for (index, n) in numbers.iter().enumerate() {
                    family.sample(&[("index", &index.to_string())], *n as f64);
                }
                out.push(family);
            }
            (n, k) if n != k => {
                return Err(Error::msg(format!(
                    "sysctl {} has {n} values but {k} keys",
                    e.name
                )));
            }
            _ => {
                for (i, (key, n)) in e.keys.iter().zip(&numbers).enumerate() {
                    out.push(
                        MetricFamily::untyped(
                            format!("{}_{key}", e.family),
                            format!("sysctl {}, field {i}", e.name),
                        )
                        .with_value(*n as f64),
                    );
                }
            }
        }
        Ok(())
    }
}

impl Part for Sysctl {
    /// Every entry is read; one that fails (missing, not numbers, keys that do not fit) gives no
    /// series and fails the part after the others are reported.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let mut info = MetricFamily::gauge("node_sysctl_info", "sysctl info");
        let mut errors = Vec::new();
        for e in &self.entries {
            if let Err(err) = self.collect_entry(host, e, &mut info, out) {
                errors.push(err.to_string());
            }
        }
        out.push(info);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::msg(errors.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_leave_proc_sys_are_refused() {
        for name in [
            "../etc/passwd",
            "/etc/passwd",
            "fs/file-nr",
            "fs..x",
            ".fs",
            "fs.",
            "",
            "a b",
            "a\nb",
        ] {
            assert!(parse_entry(name, true).is_err(), "{name:?}");
        }
        let e = parse_entry("fs.file-nr:total,current,max", true).unwrap();
        assert_eq!(e.path, "sys/fs/file-nr");
        assert_eq!(e.keys, ["total", "current", "max"]);
        assert!(parse_entry("fs.file-nr:total,", true).is_err());
        assert!(parse_entry("fs.file-nr:a-b", true).is_err());
        assert!(parse_entry("kernel.x:a", false).is_err());
    }
}
