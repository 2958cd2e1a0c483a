//! node_exporter's `zfs` collector (Linux): the kstat files of `/proc/spl/kstat/zfs`.
//!
//! * One untyped family per statistic of the module's named kstats, `node_zfs_<subsystem>_<name>`
//!   with HELP `kstat.zfs.misc.<file>.<name>` (`arcstats` → `node_zfs_arc_hits`), `-` in a name
//!   made `_` in the metric name only. node_exporter reads the `INT64` and `UINT64` statistics
//!   (kstat types 3 and 4) and leaves out the others (strings, 32-bit types); so does this.
//! * `<pool>/io`: `node_zfs_zpool_<column>{zpool}`, HELP `kstat.zfs.misc.io.<column>`, untyped.
//! * `<pool>/objset-*`, one per dataset: `node_zfs_zpool_dataset_<name>{zpool,dataset}`, HELP
//!   `kstat.zfs.misc.objset.<name>`, untyped, for the `UINT64` statistics; the dataset is the
//!   file's `dataset_name`.
//! * `<pool>/state`: `node_zfs_zpool_state{zpool,state}`, a gauge, 1 for the state the file's
//!   first line names (lower-cased) and 0 for the other six of node_exporter's list.
//!
//! Host calls: one listing of `/proc/spl/kstat/zfs` (all a host without ZFS costs), one listing
//! per pool (for its `objset-*` files), then the files in batches of [`BATCH`] paths
//! (`Host::read_many`), grouped by directory as the host reads them best.
//!
//! Where this differs from node_exporter, it is where node_exporter fails or panics on input
//! the kernel does not produce: a malformed line or value is left out and the rest kept (node
//! exporter stops at it), an io data line shorter than its header is left out (node_exporter
//! indexes past it), a dataset named twice is kept once, a name that makes no valid metric
//! name or collides with another family is left out, each named in the part's error. The
//! `dataset` label is the `dataset_name` data from its first character: node_exporter looks for
//! the first occurrence of the name's first word in the whole line, which finds the wrong place
//! when that word occurs earlier (a pool named `data` gets `dataset="dataset_name    7    data"`).

use sonde_procfs::Skipped;
use sonde_procfs::kstat::{self, DataType};
use sonde_procfs::text::to_valid_utf8;
use sonde_sdk::bundle::{Part, display_path};
use sonde_sdk::metrics::is_valid_metric_name;
use sonde_sdk::{DirEntry, EntryKind, Error, FsError, Host, MetricFamily, MetricKind, Root};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// The kstat directory of the ZFS module, below the proc root.
pub const BASE: &str = "spl/kstat/zfs";

/// The most paths read in one host call: bounds the file contents held at once (a few hundred
/// bytes an objset file) while keeping a host with thousands of datasets to a few calls.
pub const BATCH: usize = 1024;

/// The module's named kstat files node_exporter reads, with the subsystem of their families.
pub const KSTATS: [(&str, &str); 11] = [
    ("abdstats", "abd"),
    ("arcstats", "arc"),
    ("dbufstats", "dbuf"),
    ("dmu_tx", "dmu_tx"),
    ("dnodestats", "dnode"),
    ("fm", "fm"),
    ("vdev_cache_stats", "vdev_cache"),
    ("vdev_mirror_stats", "vdev_mirror"),
    ("xuio_stats", "xuio"),
    ("zfetchstats", "zfetch"),
    ("zil", "zil"),
];

/// The pool states of `node_zfs_zpool_state`, in node_exporter's order.
pub const POOL_STATES: [&str; 7] = [
    "online",
    "degraded",
    "faulted",
    "offline",
    "removed",
    "unavail",
    "suspended",
];

/// The longest dataset name taken as a label value (the host refuses longer ones; ZFS's own
/// limit is 256 bytes).
const MAX_DATASET_NAME: usize = 16 << 10;

/// What the collector reads through: the host, or in tests a wrapper that counts its calls.
pub trait Source {
    /// Lists a directory below the proc root.
    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>, FsError>;
    /// Reads files below the proc root in one call.
    fn read_many(&self, paths: &[String]) -> Vec<Result<Vec<u8>, FsError>>;
}

impl Source for Host {
    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        Host::read_dir(self, Root::Proc, path)
    }

    fn read_many(&self, paths: &[String]) -> Vec<Result<Vec<u8>, FsError>> {
        Host::read_many(self, Root::Proc, paths)
    }
}

/// The zfs part.
pub struct ZfsPart;

impl Part for ZfsPart {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        collect_from(host, out)
    }
}

/// A file to read and what it is.
#[derive(Clone, Copy)]
enum Job {
    /// `KSTATS[i]`.
    Kstat(usize),
    /// The io file of pool `i`.
    Io(usize),
    /// An objset file of pool `i`.
    Objset(usize),
    /// The state file of pool `i`.
    State(usize),
}

/// Collects from `source` into `out`. A missing `/proc/spl/kstat/zfs` is a host without ZFS:
/// nothing, after one call. Files that vanish between listing and reading (a pool exported in
/// between) are skipped; anything malformed is left out and named in the error, after the rest
/// was appended.
pub fn collect_from(source: &impl Source, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let entries = match source.read_dir(BASE) {
        Ok(entries) => entries,
        Err(FsError::NotFound | FsError::PermissionDenied) => return Ok(()),
        Err(e) => return Err(Error::msg(format!("reading {}: {e}", path_of(BASE)))),
    };
    let mut problems = Problems::default();
    let mut jobs: Vec<(String, Job)> = Vec::new();
    for (i, (file, _)) in KSTATS.iter().enumerate() {
        if entries
            .iter()
            .any(|e| e.name == *file && e.kind != EntryKind::Dir)
        {
            jobs.push((format!("{BASE}/{file}"), Job::Kstat(i)));
        }
    }
    let mut pools: Vec<String> = Vec::new();
    for entry in &entries {
        if !matches!(entry.kind, EntryKind::Dir | EntryKind::Symlink) {
            continue;
        }
        let dir = format!("{BASE}/{}", entry.name);
        let files = match source.read_dir(&dir) {
            Ok(files) => files,
            Err(FsError::NotFound) if entry.name.contains('\u{FFFD}') => {
                problems.add(format!(
                    "{}: the pool name is not valid UTF-8, skipped",
                    path_of(&dir)
                ));
                continue;
            }
            // A pool exported since the listing.
            Err(FsError::NotFound) => continue,
            // A symlink to something that is no directory.
            Err(FsError::Other(_)) if entry.kind == EntryKind::Symlink => continue,
            Err(e) => {
                problems.add(format!("reading {}: {e}", path_of(&dir)));
                continue;
            }
        };
        let pool = pools.len();
        let mut any = false;
        for file in files.iter().filter(|f| f.kind != EntryKind::Dir) {
            let job = match file.name.as_str() {
                "io" => Job::Io(pool),
                "state" => Job::State(pool),
                name if name.starts_with("objset-") => Job::Objset(pool),
                _ => continue,
            };
            jobs.push((format!("{dir}/{}", file.name), job));
            any = true;
        }
        if any {
            pools.push(entry.name.clone());
        }
    }

    let mut builder = Builder::default();
    for batch in jobs.chunks(BATCH) {
        let paths: Vec<String> = batch.iter().map(|(path, _)| path.clone()).collect();
        for ((path, job), read) in batch.iter().zip(source.read_many(&paths)) {
            let bytes = match read {
                Ok(bytes) => bytes,
                Err(FsError::NotFound) => continue,
                Err(e) => {
                    problems.add(format!("reading {}: {e}", path_of(path)));
                    continue;
                }
            };
            // Invalid UTF-8 (in a dataset name) becomes U+FFFD, a run of it one, as in Go.
            let text = match std::str::from_utf8(&bytes) {
                Ok(text) => Cow::Borrowed(text),
                Err(_) => Cow::Owned(to_valid_utf8(&bytes)),
            };
            let outcome = match *job {
                Job::Kstat(i) => builder.kstat(i, &text),
                Job::Io(pool) => builder.io(&pools[pool], &text),
                Job::Objset(pool) => builder.objset(pool, &pools[pool], &text),
                Job::State(pool) => builder.state(&pools[pool], &text),
            };
            match outcome {
                Ok(skipped) if skipped.is_empty() => {}
                Ok(skipped) => problems.add(
                    skipped
                        .result(&path_of(path), true)
                        .unwrap_err()
                        .to_string(),
                ),
                Err(e) => problems.add(format!("{}: {e}", path_of(path))),
            }
        }
    }
    out.append(&mut builder.families);
    problems.result()
}

/// `/proc/…` for messages.
fn path_of(path: &str) -> String {
    display_path(Root::Proc, path)
}

/// The files that had problems: how many, and the first few messages.
#[derive(Default)]
struct Problems {
    count: usize,
    first: Vec<String>,
}

impl Problems {
    const SHOWN: usize = 3;

    fn add(&mut self, message: String) {
        self.count += 1;
        if self.first.len() < Self::SHOWN {
            self.first.push(message);
        }
    }

    fn result(self) -> Result<(), Error> {
        if self.count == 0 {
            return Ok(());
        }
        let mut message = self.first.join("; ");
        if self.count > self.first.len() {
            message.push_str(&format!(
                " (and {} more files)",
                self.count - self.first.len()
            ));
        }
        Err(Error::msg(message))
    }
}

/// Where the statistics of one kind of file go: the families derived from its field names.
#[derive(Default)]
struct Section {
    /// The family (index into [`Builder::families`]) of each field seen in this collection, or
    /// why it has none.
    fields: HashMap<String, Result<usize, String>>,
}

/// The families of one collection, by name.
#[derive(Default)]
struct Builder {
    families: Vec<MetricFamily>,
    by_name: HashMap<String, usize>,
    kstats: [Section; KSTATS.len()],
    io: Section,
    objset: Section,
    state: Option<usize>,
    datasets: HashSet<(usize, String)>,
}

impl Builder {
    /// The family `name`, created when new; an error when `name` is already a family of another
    /// statistic (another HELP) or no valid metric name.
    fn family(&mut self, name: String, help: String, kind: MetricKind) -> Result<usize, String> {
        if let Some(&i) = self.by_name.get(&name) {
            let family = &self.families[i];
            return if family.help == help && family.kind == kind {
                Ok(i)
            } else {
                Err(format!("{name} is also {:?}", family.help))
            };
        }
        if !is_valid_metric_name(&name) {
            return Err(format!("{name:?} is no valid metric name"));
        }
        let i = self.families.len();
        self.families
            .push(MetricFamily::new(name.clone(), help, kind));
        self.by_name.insert(name, i);
        Ok(i)
    }

    /// The family of `field` in the section chosen by `section`: `node_zfs_<subsystem>_<field>`
    /// (the field's last `.`-separated part, `-` made `_`), HELP `kstat.zfs.misc.<file>.<field>`.
    fn field(
        &mut self,
        section: impl Fn(&mut Builder) -> &mut Section,
        subsystem: &str,
        file: &str,
        field: &str,
    ) -> Result<usize, String> {
        if let Some(known) = section(self).fields.get(field) {
            return known.clone();
        }
        let last = field.rsplit('.').next().unwrap_or(field).replace('-', "_");
        let derived = self.family(
            format!("node_zfs_{subsystem}_{last}"),
            format!("kstat.zfs.misc.{file}.{field}"),
            MetricKind::Untyped,
        );
        section(self)
            .fields
            .insert(field.to_owned(), derived.clone());
        derived
    }

    /// A named kstat of the module, `KSTATS[i]`.
    fn kstat(&mut self, i: usize, text: &str) -> Result<Skipped, Error> {
        let (file, subsystem) = KSTATS[i];
        let (stats, mut skipped) = kstat::parse_named(text)?;
        for stat in &stats {
            let value = match stat.value() {
                None => continue,
                Some(Ok(value)) => value,
                Some(Err(e)) => {
                    skipped.line(stat.line, e);
                    continue;
                }
            };
            let family = match self.field(|b| &mut b.kstats[i], subsystem, file, stat.name) {
                Ok(family) => family,
                Err(e) => {
                    skipped.line(stat.line, e);
                    continue;
                }
            };
            let family = &mut self.families[family];
            if !family.samples.is_empty() {
                skipped.line(stat.line, format!("{:?} again", stat.name));
                continue;
            }
            family.value(value.as_f64());
        }
        Ok(skipped)
    }

    /// The io kstat of `pool`.
    fn io(&mut self, pool: &str, text: &str) -> Result<Skipped, Error> {
        let (columns, mut skipped) = kstat::parse_io(text)?;
        let mut seen: Vec<usize> = Vec::with_capacity(columns.len());
        for kstat::IoColumn { line, name, value } in &columns {
            let family = match self.field(|b| &mut b.io, "zpool", "io", name) {
                Ok(family) if seen.contains(&family) => Err(format!("column {name:?} again")),
                other => other,
            };
            match family {
                Ok(family) => {
                    seen.push(family);
                    self.families[family].sample(&[("zpool", pool)], *value as f64);
                }
                Err(e) => skipped.line(*line, e),
            }
        }
        Ok(skipped)
    }

    /// An objset kstat (one dataset) of pool number `index`, named `pool`.
    fn objset(&mut self, index: usize, pool: &str, text: &str) -> Result<Skipped, Error> {
        let (stats, mut skipped) = kstat::parse_named(text)?;
        let Some(dataset) = stats.iter().find(|s| s.name == "dataset_name") else {
            return Err(Error::msg("no dataset_name"));
        };
        let dataset = dataset.data;
        if dataset.len() > MAX_DATASET_NAME {
            return Err(Error::msg(format!(
                "a dataset name of {} bytes, more than {MAX_DATASET_NAME}",
                dataset.len()
            )));
        }
        if !self.datasets.insert((index, dataset.to_owned())) {
            return Err(Error::msg(format!(
                "dataset {dataset:?} of pool {pool:?} is named again, skipped"
            )));
        }
        let mut seen: Vec<usize> = Vec::with_capacity(stats.len());
        for stat in stats.iter().filter(|s| s.data_type == DataType::Uint64) {
            let value = match stat.value() {
                Some(Ok(value)) => value,
                Some(Err(e)) => {
                    skipped.line(stat.line, e);
                    continue;
                }
                None => continue,
            };
            let family = match self.field(|b| &mut b.objset, "zpool_dataset", "objset", stat.name) {
                Ok(family) if seen.contains(&family) => Err(format!("{:?} again", stat.name)),
                other => other,
            };
            match family {
                Ok(family) => {
                    seen.push(family);
                    self.families[family]
                        .sample(&[("zpool", pool), ("dataset", dataset)], value.as_f64());
                }
                Err(e) => skipped.line(stat.line, e),
            }
        }
        Ok(skipped)
    }

    /// The state file of `pool`: its first line names the state (an empty or unknown one gives
    /// 0 for every state, as in node_exporter).
    fn state(&mut self, pool: &str, text: &str) -> Result<Skipped, Error> {
        let first = text.split('\n').next().unwrap_or_default();
        let state = first.strip_suffix('\r').unwrap_or(first).to_lowercase();
        let family = match self.state {
            Some(family) => family,
            None => match self.family(
                "node_zfs_zpool_state".to_owned(),
                "kstat.zfs.misc.state".to_owned(),
                MetricKind::Gauge,
            ) {
                Ok(family) => {
                    self.state = Some(family);
                    family
                }
                // Taken by an io column named `state`, the only other source of that name.
                Err(e) => return Err(Error::msg(e)),
            },
        };
        for name in POOL_STATES {
            let active = if state == name { 1.0 } else { 0.0 };
            self.families[family].sample(&[("zpool", pool), ("state", name)], active);
        }
        Ok(Skipped::default())
    }
}
