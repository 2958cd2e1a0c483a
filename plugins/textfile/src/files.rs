//! Reading the `*.prom` files of a directory and deciding, as node_exporter does, which of their
//! families are reported: a file that cannot be read or parsed, or has timestamps, is skipped
//! whole; a family whose HELP contradicts an earlier file's is dropped; each of these sets
//! `node_textfile_scrape_error`.

use crate::convert::convert;
use crate::merge::Merged;
use crate::paths::{below_rootfs, join};
use sonde_sdk::metrics::is_valid_label_name;
use sonde_sdk::{Host, Level, MetricFamily, Root};
use sonde_textformat::{self as textformat, Family};
use std::collections::HashMap;

/// What the files read so far contribute.
#[derive(Default)]
pub struct Files {
    /// Accepted families, in file order.
    families: Vec<Family>,
    /// The first HELP of each name, and whether a later file contradicted it.
    help: HashMap<String, (String, bool)>,
    /// The files each name was accepted from, for the default HELP.
    files_of: HashMap<String, Vec<String>>,
    /// The modification time of each file read and accepted, by path as configured.
    mtimes: Vec<(String, f64)>,
    /// A directory or file could not be used.
    errored: bool,
}

impl Files {
    /// Reads the `*.prom` files of `directory` (as configured, below the rootfs), sorted by name.
    pub fn read_directory(&mut self, host: &Host, directory: &str) {
        if directory.is_empty() {
            return;
        }
        let entries = match host.read_dir(Root::Rootfs, &below_rootfs(directory)) {
            Ok(entries) => entries,
            Err(e) => {
                self.error(host, format!("failed to read directory {directory:?}: {e}"));
                return;
            }
        };
        for entry in entries.iter().filter(|e| e.name.ends_with(".prom")) {
            let path = join(directory, &entry.name);
            match read_file(host, &path) {
                Ok(families) => families
                    .into_iter()
                    .for_each(|f| self.accept(host, f, &path)),
                Err(e) => {
                    self.error(host, e);
                    continue;
                }
            }
            // Like node_exporter: asked once the file is read and valid, so that a file that
            // failed does not look fresh.
            match host.modified(Root::Rootfs, &below_rootfs(&path)) {
                Ok(seconds) => self.mtimes.push((path, seconds)),
                Err(e) => self.error(host, format!("failed to stat {path:?}: {e}")),
            }
        }
    }

    /// Keeps `family` from `path` unless its HELP contradicts the first HELP of its name.
    fn accept(&mut self, host: &Host, family: Family, path: &str) {
        if let Some((first, contradicted)) = self.help.get_mut(&family.name)
            && (*contradicted || family.help.as_ref().is_some_and(|h| h != first))
        {
            *contradicted = true;
            let message = format!(
                "inconsistent HELP for {} in {path:?}: {:?}, first {first:?}",
                family.name,
                family.help.as_deref().unwrap_or_default()
            );
            self.error(host, message);
            return;
        }
        if let Some(help) = &family.help {
            self.help.insert(family.name.clone(), (help.clone(), false));
        }
        self.files_of
            .entry(family.name.clone())
            .or_default()
            .push(path.to_owned());
        self.families.push(family);
    }

    fn error(&mut self, host: &Host, message: String) {
        host.log(Level::Warn, &format!("textfile: {message}"));
        self.errored = true;
    }

    /// The metrics of the accepted families (with `Metric read from <files>` as HELP when they
    /// have none), then `node_textfile_mtime_seconds` (whole seconds, as node_exporter gives
    /// them; none when no file was read) and `node_textfile_scrape_error`.
    pub fn into_families(self, host: &Host) -> Vec<MetricFamily> {
        let mut merged = Merged::default();
        for family in &self.families {
            let default_help;
            let help = match &family.help {
                Some(help) => help,
                None => {
                    default_help = format!(
                        "Metric read from {}",
                        self.files_of[&family.name].join(", ")
                    );
                    &default_help
                }
            };
            for converted in convert(family, help) {
                merged.add(host, converted);
            }
        }
        if !self.mtimes.is_empty() {
            let mut mtime = MetricFamily::gauge(
                "node_textfile_mtime_seconds",
                "Unixtime mtime of textfiles successfully read.",
            );
            let mut mtimes = self.mtimes;
            mtimes.sort_by(|a, b| a.0.cmp(&b.0));
            for (path, seconds) in &mtimes {
                mtime.sample(&[("file", path)], seconds.floor());
            }
            merged.add(host, mtime);
        }
        merged.add(
            host,
            MetricFamily::gauge(
                "node_textfile_scrape_error",
                "1 if there was an error opening or reading a file, 0 otherwise",
            )
            .with_value(if self.errored { 1.0 } else { 0.0 }),
        );
        merged.into_families()
    }
}

/// The families of one file, or why it is skipped.
fn read_file(host: &Host, path: &str) -> Result<Vec<Family>, String> {
    let bytes = host
        .read(Root::Rootfs, &below_rootfs(path))
        .map_err(|e| format!("failed to open textfile data file {path:?}: {e}"))?;
    let families = textformat::parse(&bytes)
        .map_err(|e| format!("failed to parse textfile data from {path:?}: {e}"))?;
    let metrics = || families.iter().flat_map(|f| &f.metrics);
    if metrics().any(|m| m.timestamp_ms.is_some()) {
        return Err(format!(
            "textfile {path:?} contains unsupported client-side timestamps, skipping entire file"
        ));
    }
    // The text format allows label names starting with `__`; Prometheus reserves them (and
    // node_exporter would panic on them).
    if let Some((name, _)) = metrics()
        .flat_map(|m| &m.labels)
        .find(|(name, _)| !is_valid_label_name(name))
    {
        return Err(format!(
            "textfile {path:?} uses the reserved label name {name:?}"
        ));
    }
    Ok(families)
}
