//! What the sysfs parts (bcache, btrfs, xfs, bcachefs) share: listing a directory that may not
//! exist, reading attribute files in batches, collecting families by name, and the problems that
//! fail a part after what could be read was reported.

use sonde_sdk::{DirEntry, Error, FsError, Host, MetricFamily, MetricKind, Root};
use std::collections::{BTreeMap, HashSet};

/// Lists `/sys/<path>`, sorted by name; `Ok(None)` when it does not exist (a kernel without that
/// filesystem), an error naming the directory otherwise.
pub fn list(host: &Host, path: &str) -> Result<Option<Vec<DirEntry>>, Error> {
    match host.read_dir(Root::Sys, path) {
        Ok(entries) => Ok(Some(entries)),
        Err(FsError::NotFound) => Ok(None),
        Err(e) => Err(Error::from(e).context(format!("reading /sys/{path}"))),
    }
}

/// True when `name` came from the kernel as valid UTF-8. The host gives names lossily converted
/// (invalid bytes become U+FFFD), and such a name cannot be opened again by that string.
pub fn readable_name(name: &str) -> bool {
    !name.contains('\u{FFFD}')
}

/// Reads the files `names` of `/sys/<dir>` in one host call: their text (not trimmed), `None`
/// for a file that does not exist, an error for one that could not be read.
pub fn read_files(host: &Host, dir: &str, names: &[&str]) -> Vec<Result<Option<String>, FsError>> {
    let paths: Vec<String> = names.iter().map(|name| format!("{dir}/{name}")).collect();
    read_paths(host, &paths)
}

/// Reads the files `paths` (below `/sys`) in one host call, as [`read_files`] does.
pub fn read_paths(host: &Host, paths: &[String]) -> Vec<Result<Option<String>, FsError>> {
    host.read_many(Root::Sys, paths)
        .into_iter()
        .map(|read| match read {
            Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Err(FsError::NotFound) => Ok(None),
            Err(e) => Err(e),
        })
        .collect()
}

/// What went wrong in one collection of a part: each problem names its file. The part reports
/// what it could read and then fails with these.
#[derive(Default)]
pub struct Problems(Vec<String>);

impl Problems {
    /// Records a problem.
    pub fn add(&mut self, problem: impl Into<String>) {
        self.0.push(problem.into());
    }

    /// Records the failed read of `/sys/<path>`.
    pub fn read(&mut self, path: &str, e: &FsError) {
        self.add(format!("reading /sys/{path}: {e}"));
    }

    /// `Ok` without problems, else an error showing the first three and counting the rest.
    pub fn result(self) -> Result<(), Error> {
        let Some(first) = self.0.first() else {
            return Ok(());
        };
        let mut message = first.clone();
        for more in self.0.iter().skip(1).take(2) {
            message.push_str("; ");
            message.push_str(more);
        }
        if self.0.len() > 3 {
            message.push_str(&format!("; and {} more", self.0.len() - 3));
        }
        Err(Error::msg(message))
    }
}

/// Families filled in any order, each created at its first sample; a series already present
/// (same family, same labels) is not added twice.
#[derive(Default)]
pub struct Families(BTreeMap<String, (MetricFamily, HashSet<SeriesKey>)>);

/// A series' labels, sorted: what makes it unique in its family.
type SeriesKey = Vec<(String, String)>;

impl Families {
    /// Adds one sample to the family `name`, created with `help` and `kind` if new.
    pub fn add(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricKind,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        let (family, seen) = self
            .0
            .entry(name.to_owned())
            .or_insert_with(|| (MetricFamily::new(name, help, kind), HashSet::new()));
        let mut key: SeriesKey = labels
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        key.sort();
        if seen.insert(key) {
            family.sample(labels, value);
        }
    }

    /// A gauge sample.
    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add(name, help, MetricKind::Gauge, labels, value);
    }

    /// A counter sample.
    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add(name, help, MetricKind::Counter, labels, value);
    }

    /// Appends the families to `out`.
    pub fn into_out(self, out: &mut Vec<MetricFamily>) {
        out.extend(self.0.into_values().map(|(family, _)| family));
    }
}
