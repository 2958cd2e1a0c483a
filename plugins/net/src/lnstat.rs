//! node_exporter's `lnstat` collector (off by default): the per-CPU network cache statistics of
//! the files in `/proc/net/stat/` (`arp_cache`, `ndisc_cache`, `nf_conntrack`, `rt_cache`, …),
//! as `node_lnstat_<column>_total{subsystem=<file>,cpu}`.
//!
//! Read as procfs' `NetStat` reads them: the first line names the columns, each following line
//! is one CPU's hex values. The `cpu` label counts the value lines (a column named twice in the
//! header counts as procfs counts it: each of its values in turn). A line that is not as wide
//! as the header, or has a value that is not hex, is left out (procfs fails everything, or
//! panics on a line wider than its header) and fails the part after the rest is reported; the
//! CPUs after it keep their numbers. A kernel without `/proc/net/stat` gives no families.

use crate::netns::NetDir;
use sonde_procfs::Skipped;
use sonde_sdk::bundle::Part;
use sonde_sdk::names::{DerivedNames, FamilyName};
use sonde_sdk::{EntryKind, Error, FsError, Host, MetricFamily, Root};
use std::collections::BTreeMap;

/// The lnstat part.
pub struct Lnstat {
    /// Where the `net/…` files are read.
    net: NetDir,
    names: DerivedNames,
}

impl Lnstat {
    /// The part, reading `stat/` of the namespace `net`.
    pub fn new(net: NetDir) -> Self {
        Lnstat {
            net,
            names: DerivedNames::default(),
        }
    }
}

impl Part for Lnstat {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let files = match host.read_dir(Root::Proc, &self.net.file("stat")) {
            Ok(files) => files,
            Err(FsError::NotFound) => return Ok(()),
            Err(e) => {
                let dir = self.net.file("stat");
                return Err(Error::msg(format!("reading /proc/{dir}: {e}")));
            }
        };
        let files: Vec<&str> = files
            .iter()
            .filter(|f| f.kind == EntryKind::File)
            .map(|f| f.name.as_str())
            .collect();
        let paths: Vec<String> = files
            .iter()
            .map(|f| self.net.file(&format!("stat/{f}")))
            .collect();
        let mut families: BTreeMap<String, MetricFamily> = BTreeMap::new();
        let mut problems = Vec::new();
        for ((file, path), read) in files
            .iter()
            .zip(&paths)
            .zip(host.read_many(Root::Proc, &paths))
        {
            let text = match read {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                // Gone since it was listed.
                Err(FsError::NotFound) => continue,
                Err(e) => {
                    problems.push(format!("reading /proc/{path}: {e}"));
                    continue;
                }
            };
            let (columns, skipped) = parse(&text);
            for (column, values) in columns {
                let Some(name) = self.names.get(&column, |c| {
                    FamilyName::checked(
                        format!("node_lnstat_{c}_total"),
                        "linux network cache stats".to_owned(),
                    )
                }) else {
                    problems.push(format!(
                        "/proc/{path}: column {column:?} makes no valid metric name"
                    ));
                    continue;
                };
                let family = families
                    .entry(name.name.clone())
                    .or_insert_with(|| MetricFamily::counter(&name.name, &name.help));
                for (cpu, value) in values {
                    family.sample(
                        &[("subsystem", file), ("cpu", &cpu.to_string())],
                        value as f64,
                    );
                }
            }
            if let Err(e) = skipped.result(&format!("/proc/{path}"), true) {
                problems.push(e.to_string());
            }
        }
        out.extend(families.into_values());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::msg(problems.join("; ")))
        }
    }
}

/// The values of each column, with their `cpu` numbers, and the lines left out.
pub fn parse(text: &str) -> (BTreeMap<String, Vec<(usize, u64)>>, Skipped) {
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    // How many times each column is named, and which time each position is.
    let mut times: BTreeMap<&str, usize> = BTreeMap::new();
    let occurrence: Vec<usize> = header
        .iter()
        .map(|c| {
            let n = times.entry(c).or_default();
            *n += 1;
            *n - 1
        })
        .collect();
    let mut columns: BTreeMap<String, Vec<(usize, u64)>> = BTreeMap::new();
    let mut skipped = Skipped::default();
    let mut row = 0;
    for (index, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let this_row = row;
        row += 1;
        if fields.len() != header.len() {
            skipped.line(
                index + 2,
                format!(
                    "{} values for {} columns in line {line:?}",
                    fields.len(),
                    header.len()
                ),
            );
            continue;
        }
        let values: Option<Vec<u64>> = fields.iter().map(|f| parse_hex(f)).collect();
        let Some(values) = values else {
            skipped.line(index + 2, format!("invalid hex value in line {line:?}"));
            continue;
        };
        for ((column, occurrence), value) in header.iter().zip(&occurrence).zip(values) {
            let cpu = this_row * times[column] + occurrence;
            columns
                .entry((*column).to_owned())
                .or_default()
                .push((cpu, value));
        }
    }
    (columns, skipped)
}

/// A hex number as Go's `ParseUint(s, 16, 64)` reads it.
fn parse_hex(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_per_cpu() {
        let (columns, skipped) = parse("a b\n0001 000a\n\nzz 1\n0002 000b\n1 2 3\n");
        assert_eq!(columns["a"], [(0, 1), (2, 2)]);
        assert_eq!(columns["b"], [(0, 10), (2, 11)]);
        assert_eq!(skipped.count(), 2);
        // A column named twice: its values in turn, as procfs appends them.
        let (columns, _) = parse("a a\n1 2\n3 4\n");
        assert_eq!(columns["a"], [(0, 1), (1, 2), (2, 3), (3, 4)]);
        let (columns, skipped) = parse("");
        assert!(columns.is_empty() && skipped.is_empty());
    }
}
