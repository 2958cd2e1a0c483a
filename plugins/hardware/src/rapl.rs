//! node_exporter's `rapl` collector: the energy counters of the RAPL zones under
//! `/sys/class/powercap` (`intel-rapl:0` = package 0, `intel-rapl:0:0` = its cores, …), as
//! `node_rapl_<zone>_joules_total{index,path}` or, with `enable_zone_label`,
//! `node_rapl_joules_total{index,path,rapl_zone}`.
//!
//! The `path` label is the zone's directory as this plugin sees it, `/sys/class/powercap/<zone>`.
//! node_exporter prints the path it was given with `--path.sysfs` prefixed, the same on a host
//! whose sysfs is at `/sys`.

use serde::{Deserialize, Serialize};
use sonde_sdk::bundle::Part;
use sonde_sdk::names::sanitize_metric_name;
use sonde_sdk::{Error, FsError, Host, MetricFamily, ResultExt, Root};
use std::collections::{BTreeMap, HashMap};

/// Where the zones are listed, relative to the sysfs root.
const CLASS_DIR: &str = "class/powercap";

/// `rapl = { … }`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Run it (`--collector.rapl`, on).
    pub enabled: bool,
    /// One family `node_rapl_joules_total` with the zone's name as label `rapl_zone`, instead of
    /// one family per zone name (`--collector.rapl.enable-zone-label`, off).
    pub enable_zone_label: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            enable_zone_label: false,
        }
    }
}

/// The part.
pub struct Rapl {
    zone_label: bool,
}

impl Rapl {
    /// Builds the part from its config.
    pub fn new(config: &Config) -> Result<Self, Error> {
        Ok(Rapl {
            zone_label: config.enable_zone_label,
        })
    }
}

/// One zone with a `name` file.
#[derive(Debug, PartialEq)]
pub struct Zone {
    /// Its directory name, `intel-rapl:0`.
    pub dir: String,
    /// Its name without an index suffix: `package` for `package-0`.
    pub name: String,
    /// The index suffix of its name, else how many zones of that name came before.
    pub index: i64,
}

/// procfs' `getIndexAndName`: `package-0` is (0, `package`); a name without a numeric suffix gets
/// the number of earlier zones of that name.
fn index_and_name(counts: &HashMap<String, i64>, name: &str) -> (i64, String) {
    let parts: Vec<&str> = name.split('-').collect();
    if let [base, index] = parts[..]
        && let Ok(index) = go_atoi(index)
    {
        return (index, base.to_owned());
    }
    (counts.get(name).copied().unwrap_or(0), name.to_owned())
}

/// Go's `strconv.Atoi`: decimal, optional sign.
fn go_atoi(text: &str) -> Result<i64, std::num::ParseIntError> {
    match text.strip_prefix('+') {
        // Rust accepts a `+` Go's Atoi also accepts; `+-1` must fail in both.
        Some(rest) if rest.starts_with(['+', '-']) => "x".parse(),
        _ => text.parse(),
    }
}

impl Part for Rapl {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let entries = match host.read_dir(Root::Sys, CLASS_DIR) {
            // No powercap driver, or (Linux 5.10+) not root: nothing, as node_exporter.
            Err(FsError::NotFound | FsError::PermissionDenied) => return Ok(()),
            listing => listing.context(format!("listing /sys/{CLASS_DIR}"))?,
        };
        let mut counts: HashMap<String, i64> = HashMap::new();
        let mut families: BTreeMap<String, MetricFamily> = BTreeMap::new();
        let mut errors = Vec::new();
        for entry in entries {
            let dir = format!("{CLASS_DIR}/{}", entry.name);
            let files = ["name", "max_energy_range_uj", "energy_uj"].map(|f| format!("{dir}/{f}"));
            let mut reads = host.read_many(Root::Sys, &files).into_iter();
            // Entries without a `name` (the `intel-rapl` control type itself) are no zones.
            let Some(Ok(name)) = reads.next() else {
                continue;
            };
            let name = String::from_utf8_lossy(&name).trim().to_owned();
            let (index, name) = index_and_name(&counts, &name);
            counts.insert(name.clone(), index + 1);
            let mut number = |file: &str, read: Option<Result<Vec<u8>, FsError>>| {
                let bytes = match read.unwrap_or(Err(FsError::NotFound)) {
                    Ok(bytes) => bytes,
                    // energy_uj is root-only since Linux 5.10: skipped quietly, as node_exporter.
                    Err(FsError::PermissionDenied) => return None,
                    Err(e) => {
                        errors.push(Error::from(e).context(format!("reading /sys/{dir}/{file}")));
                        return None;
                    }
                };
                let text = String::from_utf8_lossy(&bytes);
                match text.trim().parse::<u64>() {
                    Ok(n) if !text.trim().starts_with('+') => Some(n),
                    _ => {
                        errors.push(Error::msg(format!(
                            "/sys/{dir}/{file}: not an unsigned integer: {:?}",
                            text.trim()
                        )));
                        None
                    }
                }
            };
            if number("max_energy_range_uj", reads.next()).is_none() {
                continue;
            }
            let Some(micro_joules) = number("energy_uj", reads.next()) else {
                continue;
            };
            let joules = micro_joules as f64 / 1000000.0;
            let index = index.to_string();
            let path = format!("/sys/{dir}");
            if self.zone_label {
                families
                    .entry("node_rapl_joules_total".into())
                    .or_insert_with(|| {
                        MetricFamily::counter(
                            "node_rapl_joules_total",
                            "Current RAPL value in joules",
                        )
                    })
                    .sample(
                        &[("index", &index), ("path", &path), ("rapl_zone", &name)],
                        joules,
                    );
            } else {
                let metric = format!("node_rapl_{}_joules_total", sanitize_metric_name(&name));
                let help = format!("Current RAPL {name} value in joules");
                let family = families
                    .entry(metric.clone())
                    .or_insert_with(|| MetricFamily::counter(metric, help.clone()));
                // Zones whose names differ only in characters the metric name cannot hold
                // share a family but not its HELP; node_exporter's registry keeps the first.
                if family.help == help
                    && !family.samples.iter().any(|s| {
                        s.label("index") == Some(index.as_str())
                            && s.label("path") == Some(path.as_str())
                    })
                {
                    family.sample(&[("index", &index), ("path", &path)], joules);
                }
            }
        }
        out.extend(families.into_values());
        errors.pop().map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_indexes_as_procfs() {
        let mut counts = HashMap::new();
        assert_eq!(index_and_name(&counts, "package-0"), (0, "package".into()));
        assert_eq!(
            index_and_name(&counts, "package-12"),
            (12, "package".into())
        );
        assert_eq!(index_and_name(&counts, "dram"), (0, "dram".into()));
        counts.insert("dram".to_owned(), 1);
        assert_eq!(index_and_name(&counts, "dram"), (1, "dram".into()));
        assert_eq!(index_and_name(&counts, "a-b-1"), (0, "a-b-1".into()));
        assert_eq!(index_and_name(&counts, "psys-x"), (0, "psys-x".into()));
        assert_eq!(index_and_name(&counts, "x--1"), (0, "x--1".into()));
    }
}
