//! The native test harness: run a collector with `cargo test`, without WebAssembly, against
//! fixture directories laid out like `/proc`, `/sys` and the rootfs.
//!
//! ```
//! use sonde_sdk::{Root, testing::Fixture};
//! let host = Fixture::new()
//!     .root(Root::Proc, "tests/fixtures/proc")
//!     .root(Root::Sys, "tests/fixtures/sys")
//!     .host();
//! # let _ = host;
//! ```
//!
//! Paths are resolved as the sonde host resolves them: relative to the root, with `..`, absolute
//! paths and symlinks that leave the root refused, so a collector that passes here behaves the
//! same in the agent.

use crate::host::{Clock, DirEntry, EntryKind, FsError, FsStats, Host, Level, Root, Timex, Uname};
use crate::{Collector, Error, MetricFamily, exposition};
use sonde_wire::validate;
use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::path::{Component, Path, PathBuf};

/// A fake machine for tests: fixture roots plus canned answers for the system calls.
#[derive(Debug, Clone, Default)]
pub struct Fixture {
    roots: HashMap<Root, PathBuf>,
    statfs: HashMap<String, Result<FsStats, FsError>>,
    uname: Uname,
    timex: Option<Timex>,
    clock: Clock,
    logs: RefCell<Vec<(Level, String)>>,
}

impl Fixture {
    /// A fixture with no roots: every read answers [`FsError::NotGranted`].
    pub fn new() -> Self {
        Fixture::default()
    }

    /// Serves `root` from the directory `dir`.
    pub fn root(mut self, root: Root, dir: impl AsRef<Path>) -> Self {
        self.roots.insert(root, dir.as_ref().to_path_buf());
        self
    }

    /// Answers `statfs(mount_point)` with `result`; other mount points answer `NotFound`.
    pub fn statfs(mut self, mount_point: &str, result: Result<FsStats, FsError>) -> Self {
        self.statfs.insert(mount_point.to_owned(), result);
        self
    }

    /// Answers `uname()` with `uname`.
    pub fn uname(mut self, uname: Uname) -> Self {
        self.uname = uname;
        self
    }

    /// Answers `timex()` with `timex` (else `NotGranted`).
    pub fn timex(mut self, timex: Timex) -> Self {
        self.timex = Some(timex);
        self
    }

    /// Answers `clock()` with `clock`.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The [`Host`] a collector under test is given.
    pub fn host(self) -> Host {
        Host { fixture: self }
    }

    fn resolve(&self, root: Root, path: &str) -> Result<PathBuf, FsError> {
        let base = self.roots.get(&root).ok_or(FsError::NotGranted)?;
        let relative = Path::new(path);
        for component in relative.components() {
            match component {
                Component::Normal(_) | Component::CurDir => {}
                _ => return Err(FsError::EscapesRoot),
            }
        }
        let full = base.join(relative);
        // Symlinks inside fixtures are followed, but never out of the fixture root.
        if let (Ok(real), Ok(real_base)) = (full.canonicalize(), base.canonicalize())
            && !real.starts_with(&real_base)
        {
            return Err(FsError::EscapesRoot);
        }
        Ok(full)
    }
}

fn io_error(e: io::Error) -> FsError {
    match e.kind() {
        io::ErrorKind::NotFound => FsError::NotFound,
        io::ErrorKind::PermissionDenied => FsError::PermissionDenied,
        _ => FsError::Other(e.to_string()),
    }
}

impl Host {
    pub(crate) fn backend_read(&self, root: Root, path: &str) -> Result<Vec<u8>, FsError> {
        std::fs::read(self.fixture.resolve(root, path)?).map_err(io_error)
    }

    pub(crate) fn backend_read_many<S: AsRef<str>>(
        &self,
        root: Root,
        paths: &[S],
    ) -> Vec<Result<Vec<u8>, FsError>> {
        paths
            .iter()
            .map(|p| self.backend_read(root, p.as_ref()))
            .collect()
    }

    pub(crate) fn backend_read_dir(
        &self,
        root: Root,
        path: &str,
    ) -> Result<Vec<DirEntry>, FsError> {
        let dir = self.fixture.resolve(root, path)?;
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_error)? {
            let entry = entry.map_err(io_error)?;
            let file_type = entry.file_type().map_err(io_error)?;
            let kind = if file_type.is_symlink() {
                EntryKind::Symlink
            } else if file_type.is_dir() {
                EntryKind::Dir
            } else if file_type.is_file() {
                EntryKind::File
            } else {
                EntryKind::Other
            };
            entries.push(DirEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                kind,
            });
        }
        Ok(entries)
    }

    pub(crate) fn backend_read_link(&self, root: Root, path: &str) -> Result<String, FsError> {
        let base = self.fixture.roots.get(&root).ok_or(FsError::NotGranted)?;
        if Path::new(path)
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(FsError::EscapesRoot);
        }
        let target = std::fs::read_link(base.join(path)).map_err(io_error)?;
        Ok(target.to_string_lossy().into_owned())
    }

    pub(crate) fn backend_modified(&self, root: Root, path: &str) -> Result<f64, FsError> {
        std::fs::metadata(self.fixture.resolve(root, path)?)
            .and_then(|m| m.modified())
            .map(crate::host::unix_seconds)
            .map_err(io_error)
    }

    pub(crate) fn backend_statfs(&self, mount_point: &str) -> Result<FsStats, FsError> {
        self.fixture
            .statfs
            .get(mount_point)
            .cloned()
            .unwrap_or(Err(FsError::NotFound))
    }

    pub(crate) fn backend_uname(&self) -> Uname {
        self.fixture.uname.clone()
    }

    pub(crate) fn backend_timex(&self) -> Result<Timex, FsError> {
        self.fixture.timex.ok_or(FsError::NotGranted)
    }

    pub(crate) fn backend_clock(&self) -> Clock {
        self.fixture.clock.clone()
    }

    pub(crate) fn backend_log(&self, level: Level, message: &str) {
        self.fixture
            .logs
            .borrow_mut()
            .push((level, message.to_owned()));
    }

    /// The lines the collector logged so far (test builds only).
    pub fn logged(&self) -> Vec<(Level, String)> {
        self.fixture.logs.borrow().clone()
    }
}

/// Builds `C` from `config_json` (`""` for the defaults) and runs it once, exactly as the agent
/// would: config decoding, [`Collector::new`], one collection, and the host's output
/// validation. Returns families sorted as exposed.
pub fn collect<C: Collector>(host: &Host, config_json: &str) -> Result<Vec<MetricFamily>, Error> {
    Instance::<C>::new(config_json)?.collect(host)
}

/// Like [`collect`], rendered in the Prometheus text format.
pub fn collect_text<C: Collector>(host: &Host, config_json: &str) -> Result<String, Error> {
    Instance::<C>::new(config_json)?.collect_text(host)
}

/// A collector built once from its config and collected from as often as a test likes, as the
/// agent does while a plugin's instance lives: for tests of state kept across cycles.
///
/// ```
/// # use sonde_sdk::{Collector, Description, Error, Host, MetricFamily};
/// /// Counts its own collections.
/// struct Cycles(f64);
/// impl Collector for Cycles {
///     type Config = ();
///     fn describe() -> Description {
///         Description::new("cycles", "0.1.0", "collections so far")
///     }
///     fn new((): ()) -> Result<Self, Error> {
///         Ok(Cycles(0.0))
///     }
///     fn collect(&mut self, _: &Host) -> Result<Vec<MetricFamily>, Error> {
///         self.0 += 1.0;
///         Ok(vec![MetricFamily::counter("cycles_total", "Collections.").with_value(self.0)])
///     }
/// }
/// let host = sonde_sdk::testing::Fixture::new().host();
/// let mut instance = sonde_sdk::testing::Instance::<Cycles>::new("").unwrap();
/// instance.collect_text(&host).unwrap();
/// assert!(instance.collect_text(&host).unwrap().contains("cycles_total 2\n"));
/// ```
pub struct Instance<C> {
    collector: C,
}

impl<C: Collector> Instance<C> {
    /// Decodes `config_json` (`""` for the defaults) and builds the collector, as the agent's
    /// `configure` does; an error is the config error the agent would report.
    pub fn new(config_json: &str) -> Result<Self, Error> {
        Ok(Instance {
            collector: crate::build::<C>(config_json)?,
        })
    }

    /// Collects once from the same collector, validated and sorted as [`collect`] does.
    pub fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        let mut families = self.collector.collect(host)?;
        validate::validate(&families)?;
        families.retain(|f| !f.is_empty());
        exposition::normalize(&mut families);
        Ok(families)
    }

    /// Like [`Instance::collect`], rendered in the Prometheus text format.
    pub fn collect_text(&mut self, host: &Host) -> Result<String, Error> {
        Ok(exposition::render(&self.collect(host)?))
    }

    /// The collector, to look at its state.
    pub fn collector(&self) -> &C {
        &self.collector
    }
}

/// The sample lines of `text` (no `#` lines), for assertions that ignore HELP and TYPE.
pub fn sample_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect()
}

/// The names of the families in exposition `text`, from its `# TYPE` lines, in order: e.g. to
/// check that a collector produces the same families as node_exporter's output.
pub fn family_names(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect()
}

/// The sample lines of the family `name` in exposition `text` (lines whose metric name is
/// exactly `name`), e.g. to compare a collector's output with node_exporter's.
pub fn family_lines<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    sample_lines(text)
        .into_iter()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .collect()
}

/// Creates the directories listed one per line in `list` below `tree`. Git cannot store empty
/// directories, so fixture trees that need some (e.g. `sys/block/dm-5/slaves/sdi`) keep a list
/// and recreate them before use. Idempotent.
pub fn restore_empty_dirs(tree: &Path, list: &Path) -> io::Result<()> {
    for line in std::fs::read_to_string(list)?.lines() {
        let line = line.trim();
        if !line.is_empty() {
            std::fs::create_dir_all(tree.join(line))?;
        }
    }
    Ok(())
}

/// Compares every family of `ours` that `reference` also has (by its `# TYPE` line): HELP, TYPE
/// and sample lines must be identical. Returns one message per difference (empty when equal), so
/// a test can check a collector against node_exporter's output with
/// `assert_eq!(diff_families(&ours, &theirs), Vec::<String>::new())`.
pub fn diff_families(ours: &str, reference: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for type_line in ours.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = type_line.split(' ').nth(2).unwrap_or_default();
        let find = |text: &str, kind: &str| {
            text.lines()
                .find(|l| {
                    l.starts_with(&format!("# {kind} {name} ")) || *l == format!("# {kind} {name}")
                })
                .map(str::to_owned)
        };
        if find(reference, "TYPE").is_none() {
            continue;
        }
        for kind in ["HELP", "TYPE"] {
            if find(ours, kind) != find(reference, kind) {
                problems.push(format!(
                    "{name}: {kind} {:?} != {:?}",
                    find(ours, kind),
                    find(reference, kind)
                ));
            }
        }
        let (a, b) = (family_lines(ours, name), family_lines(reference, name));
        for line in a.iter().filter(|l| !b.contains(l)) {
            problems.push(format!("{name}: extra or different: {line}"));
        }
        for line in b.iter().filter(|l| !a.contains(l)) {
            problems.push(format!("{name}: missing: {line}"));
        }
    }
    problems
}
