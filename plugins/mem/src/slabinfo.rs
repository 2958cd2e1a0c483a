//! node_exporter's `slabinfo` collector: object counts and sizes of each slab cache in
//! `/proc/slabinfo` (readable by root only on most kernels).

use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};
use sonde_procfs::slabinfo;
use sonde_sdk::bundle::{Part, read_optional};
use sonde_sdk::filter::NameFilter;
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// `slabinfo = { … }`: node_exporter's flags, with its defaults.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Run it (`--collector.slabinfo`, off by default).
    pub enabled: bool,
    /// Slabs to report, a regex searched in each name (`--collector.slabinfo.slabs-include`).
    pub slabs_include: String,
    /// Slabs to leave out, a regex searched in each name
    /// (`--collector.slabinfo.slabs-exclude`).
    pub slabs_exclude: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: false,
            slabs_include: ".*".to_owned(),
            slabs_exclude: String::new(),
        }
    }
}

/// The slabinfo part: its slab name filter.
pub struct Slabinfo {
    slabs: NameFilter,
}

impl Slabinfo {
    /// The part for `config`; an invalid pattern is an error.
    pub fn new(config: &Config) -> Result<Self, Error> {
        Ok(Slabinfo {
            // node_exporter's deviceFilter: unanchored (Go's MatchString), as NameFilter is.
            slabs: NameFilter::new(&config.slabs_include, &config.slabs_exclude)?,
        })
    }
}

/// The families: name, HELP and the column's value.
type Column = (&'static str, &'static str, fn(&slabinfo::Slab) -> i64);

const COLUMNS: [Column; 5] = [
    (
        "node_slabinfo_active_objects",
        "The number of objects that are currently active (i.e., in use).",
        |s| s.active_objects,
    ),
    (
        "node_slabinfo_objects",
        "The total number of allocated objects (i.e., objects that are both in use and not in use).",
        |s| s.objects,
    ),
    (
        "node_slabinfo_object_size_bytes",
        "The size of objects in this slab, in bytes.",
        |s| s.object_size,
    ),
    (
        "node_slabinfo_objects_per_slab",
        "The number of objects stored in each slab.",
        |s| s.objects_per_slab,
    ),
    (
        "node_slabinfo_pages_per_slab",
        "The number of pages allocated for each slab.",
        |s| s.pages_per_slab,
    ),
];

impl Part for Slabinfo {
    /// Appends `node_slabinfo_*{slab}` for each slab the filter keeps. A malformed line is left
    /// out and fails the part; a name printed twice is reported once, from its first line
    /// (client_golang drops the repeated series).
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(text) = read_optional(host, Root::Proc, "slabinfo")? else {
            return Ok(());
        };
        let (slabs, skipped) = slabinfo::parse(&text);
        let mut seen = FxHashSet::default();
        let kept: Vec<&slabinfo::Slab> = slabs
            .iter()
            .filter(|s| self.slabs.kept(s.name) && seen.insert(s.name))
            .collect();
        out.extend(COLUMNS.iter().map(|(name, help, value)| {
            let mut family = MetricFamily::gauge(*name, *help);
            for slab in &kept {
                family.sample(&[("slab", slab.name)], value(slab) as f64);
            }
            family
        }));
        skipped.result("/proc/slabinfo", !slabs.is_empty())
    }
}
