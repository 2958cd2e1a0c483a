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

use crate::host::{
    Clock, DirEntry, EntryKind, FsError, FsStats, Host, Level, Root, SystemdState, Timex, Uname,
};
use crate::{Collector, Error, MetricFamily, exposition};
use sonde_wire::validate;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fake machine for tests: fixture roots plus canned answers for the system calls.
#[derive(Debug, Clone, Default)]
pub struct Fixture {
    roots: HashMap<Root, PathBuf>,
    statfs: HashMap<String, Result<FsStats, FsError>>,
    uname: Uname,
    timex: Option<Timex>,
    clock: Clock,
    systemd: Option<Result<SystemdState, FsError>>,
    logs: RefCell<Vec<(Level, String)>>,
    parts: RefCell<Vec<(String, bool)>>,
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

    /// Answers `systemd_units()` with `result` (else `NotGranted`).
    pub fn systemd(mut self, result: Result<SystemdState, FsError>) -> Self {
        self.systemd = Some(result);
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

    pub(crate) fn backend_systemd_units(&self) -> Result<SystemdState, FsError> {
        self.fixture
            .systemd
            .clone()
            .unwrap_or(Err(FsError::NotGranted))
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

    pub(crate) fn backend_part_finished(&self, name: &str, success: bool) {
        self.fixture
            .parts
            .borrow_mut()
            .push((name.to_owned(), success));
    }

    /// The parts the collector reported finished so far ([`Host::part_finished`]), in order,
    /// with their success (test builds only).
    pub fn parts_finished(&self) -> Vec<(String, bool)> {
        self.fixture.parts.borrow().clone()
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

/// A scratch directory for one test, laid out as a machine: `proc/` and `sys/` below it, the
/// rootfs the directory itself. Files, directories and symlinks are made with [`Tree::file`],
/// [`Tree::dir`] and [`Tree::link`] (paths are bytes relative to the tree, so names that are not
/// UTF-8 can be made); the directory is removed when the `Tree` is dropped.
///
/// It lives in `/dev/shm` when there is one (trees of thousands of files are written and removed
/// much faster in memory), else in the temp dir.
///
/// ```
/// use sonde_sdk::{Host, Root, testing::Tree};
/// let tree = Tree::new("doc");
/// tree.file("proc/loadavg", "0.1 0.2 0.3 1/2 3\n")
///     .file(b"sys/class/net/eth\xff/mtu", "1500\n")
///     .link("sys/class/net/lo", b"eth\xff")
///     .dir("etc");
/// // proc/ as /proc, sys/ as /sys and the tree as the rootfs:
/// let host: Host = tree.host();
/// // … or with canned system calls added:
/// let host = tree.fixture().uname(Default::default()).host();
/// // A tree laid out as one root (its paths relative to /proc):
/// let proc_only = Tree::new("doc-proc");
/// proc_only.files(&[("loadavg", "0.1 0.2 0.3 1/2 3\n"), ("uptime", "1.0 2.0\n")]);
/// let host = proc_only.serve(&[Root::Proc]).host();
/// # let _ = host;
/// ```
#[derive(Debug)]
pub struct Tree {
    dir: PathBuf,
}

impl Tree {
    /// A fresh, empty tree: a directory named after `name`, the process and a counter (so tests
    /// running in parallel never share one), in `/dev/shm` when there is one, else in the temp
    /// dir. Panics when neither can be written.
    pub fn new(name: &str) -> Tree {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let leaf = format!(
            "sonde-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let shm = Path::new("/dev/shm");
        let bases = shm
            .is_dir()
            .then(|| shm.to_path_buf())
            .into_iter()
            .chain([std::env::temp_dir()]);
        let mut last = None;
        for base in bases {
            let dir = base.join(&leaf);
            let _ = std::fs::remove_dir_all(&dir);
            match std::fs::create_dir_all(&dir) {
                Ok(()) => return Tree { dir },
                Err(e) => last = Some((dir, e)),
            }
        }
        let (dir, e) = last.expect("the temp dir was tried");
        panic!("cannot create the test tree {}: {e}", dir.display())
    }

    /// A fresh tree (as [`Tree::new`]) holding `files`, `(path, contents)` pairs written as
    /// [`Tree::file`] does. (An empty tree is `Tree::new(name)`: `&[]` names no types.)
    pub fn with_files<P: AsRef<[u8]>, C: AsRef<[u8]>>(name: &str, files: &[(P, C)]) -> Tree {
        let tree = Tree::new(name);
        tree.files(files);
        tree
    }

    /// The tree's directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The full path of `path` (bytes, relative to the tree).
    pub fn join(&self, path: impl AsRef<[u8]>) -> PathBuf {
        self.dir.join(OsStr::from_bytes(path.as_ref()))
    }

    /// Writes `contents` to `path` (bytes, relative to the tree), creating its directories and
    /// replacing any file there. Panics on an I/O error, as a test would.
    pub fn file(&self, path: impl AsRef<[u8]>, contents: impl AsRef<[u8]>) -> &Tree {
        let full = self.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| fail(parent, e));
        }
        std::fs::write(&full, contents).unwrap_or_else(|e| fail(&full, e));
        self
    }

    /// Writes every `(path, contents)` of `files`, in order, as [`Tree::file`] does.
    pub fn files<P: AsRef<[u8]>, C: AsRef<[u8]>>(&self, files: &[(P, C)]) -> &Tree {
        for (path, contents) in files {
            self.file(path, contents);
        }
        self
    }

    /// Creates the directory `path` (bytes, relative to the tree) and its parents.
    pub fn dir(&self, path: impl AsRef<[u8]>) -> &Tree {
        let full = self.join(path);
        std::fs::create_dir_all(&full).unwrap_or_else(|e| fail(&full, e));
        self
    }

    /// Creates the symlink `path -> target` (bytes both; `target` is stored as given, relative
    /// to the link's directory unless absolute), creating the link's directories.
    pub fn link(&self, path: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> &Tree {
        let full = self.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| fail(parent, e));
        }
        std::os::unix::fs::symlink(OsStr::from_bytes(target.as_ref()), &full)
            .unwrap_or_else(|e| fail(&full, e));
        self
    }

    /// A [`Fixture`] serving `proc/` as [`Root::Proc`], `sys/` as [`Root::Sys`] and the tree as
    /// [`Root::Rootfs`], for adding canned answers (`statfs`, `uname`, `clock`, …) before
    /// [`Fixture::host`]. Creates `proc/` and `sys/` if the test wrote nothing below them: on a
    /// real host both exist.
    pub fn fixture(&self) -> Fixture {
        let (proc, sys) = (self.dir.join("proc"), self.dir.join("sys"));
        for dir in [&proc, &sys] {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| fail(dir, e));
        }
        Fixture::new()
            .root(Root::Proc, proc)
            .root(Root::Sys, sys)
            .root(Root::Rootfs, &self.dir)
    }

    /// The [`Host`] of [`Tree::fixture`]: `proc/`, `sys/` and the rootfs.
    pub fn host(&self) -> Host {
        self.fixture().host()
    }

    /// A [`Fixture`] serving the whole tree as each of `roots`, for a tree laid out as one root
    /// (`loadavg` rather than `proc/loadavg`).
    pub fn serve(&self, roots: &[Root]) -> Fixture {
        roots.iter().fold(Fixture::new(), |fixture, root| {
            fixture.root(*root, &self.dir)
        })
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fail(path: &Path, e: io::Error) -> ! {
    panic!("test tree: {}: {e}", path.display())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_files_dirs_links_and_roots() {
        let tree = Tree::new("unit");
        tree.files(&[("proc/a/b", "1\n"), ("etc/x", "2\n")])
            .file(b"sys/n\xffm/v", [0xffu8, b'\n'])
            .dir("proc/empty")
            .link("proc/self", "a")
            .link(b"sys/l\xff", b"n\xffm");
        let host = tree.host();
        assert_eq!(host.backend_read(Root::Proc, "a/b").unwrap(), b"1\n");
        assert_eq!(host.backend_read(Root::Proc, "self/b").unwrap(), b"1\n");
        assert_eq!(host.backend_read(Root::Rootfs, "etc/x").unwrap(), b"2\n");
        assert_eq!(host.backend_read(Root::Rootfs, "proc/a/b").unwrap(), b"1\n");
        assert_eq!(host.backend_read_dir(Root::Proc, "empty").unwrap(), []);
        assert_eq!(host.backend_read_link(Root::Proc, "self").unwrap(), "a");
        let raw = tree.join(b"sys/l\xff/v");
        assert_eq!(std::fs::read(raw).unwrap(), [0xff, b'\n']);
        let mut names: Vec<_> = host
            .backend_read_dir(Root::Sys, "")
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.kind))
            .collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            names,
            [
                ("l\u{fffd}".to_owned(), EntryKind::Symlink),
                ("n\u{fffd}m".to_owned(), EntryKind::Dir)
            ]
        );
        // A file is replaced; fixture() keeps the canned answers it is given.
        tree.file("proc/a/b", "3\n");
        let uname = Uname {
            release: "6.1.0".into(),
            ..Uname::default()
        };
        let host = tree.fixture().uname(uname.clone()).host();
        assert_eq!(host.backend_read(Root::Proc, "a/b").unwrap(), b"3\n");
        assert_eq!(host.backend_uname(), uname);
    }

    #[test]
    fn an_empty_tree_still_has_proc_and_sys() {
        let tree = Tree::new("unit-empty");
        let host = tree.host();
        assert_eq!(host.backend_read_dir(Root::Proc, "").unwrap(), []);
        assert_eq!(host.backend_read_dir(Root::Sys, "").unwrap(), []);
        assert_eq!(
            host.backend_read(Root::Proc, "stat"),
            Err(FsError::NotFound)
        );
    }

    #[test]
    fn serve_gives_the_whole_tree_as_each_root() {
        let tree = Tree::with_files("unit-serve", &[("loadavg", "1\n")]);
        let host = tree.serve(&[Root::Proc, Root::Sys]).host();
        assert_eq!(host.backend_read(Root::Proc, "loadavg").unwrap(), b"1\n");
        assert_eq!(host.backend_read(Root::Sys, "loadavg").unwrap(), b"1\n");
        assert_eq!(
            host.backend_read(Root::Rootfs, "loadavg"),
            Err(FsError::NotGranted)
        );
    }

    #[test]
    fn trees_are_distinct_in_memory_and_removed_on_drop() {
        let (a, b) = (Tree::new("unit-same"), Tree::new("unit-same"));
        assert_ne!(a.path(), b.path());
        if Path::new("/dev/shm").is_dir() {
            assert!(a.path().starts_with("/dev/shm"), "{}", a.path().display());
        }
        a.file("deep/down/file", "x");
        let dir = a.path().to_owned();
        drop(a);
        assert!(!dir.exists());
        assert!(b.path().is_dir());
    }
}
