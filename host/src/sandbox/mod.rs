//! The filesystem a plugin sees: read-only access below the roots (`proc`, `sys`, `rootfs`),
//! resolved with cap-std so that no path, `..` or symlink can lead outside a root.
//!
//! Every call is bounded: files are opened non-blocking and only regular files are read (a FIFO
//! or a device such as `/dev/zero` is refused, never waited on), and a read stops at the size cap.
//! Below a root that is a real procfs or sysfs mount, where every file is a kernel attribute and
//! magic links are refused, the regular-file check is left to the kernel: such trees hold no
//! devices or FIFOs, and it spares one `statx` per read (a fifth of a cycle's syscalls).
//!
//! It uses nothing else of the host: the runtime's host calls and the instance lookup call it.

pub mod grants;
pub mod kept_files;
pub mod system;
pub mod systemd;

use crate::sandbox::kept_files::{
    Anchor, Budget, KeptFiles, NodeId, keeps_proc_dir, keeps_proc_file, list,
};
use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use sonde_sdk::{DirEntry, FsError, FsStats, Root};
use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The default cap on the bytes one file read may return (8 MiB).
pub const DEFAULT_READ_CAP: usize = 8 << 20;

/// The directories the roots are served from; what `--path.procfs` and friends set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootPaths {
    /// procfs, `/proc` by default.
    pub procfs: PathBuf,
    /// sysfs, `/sys` by default.
    pub sysfs: PathBuf,
    /// the root filesystem, `/` by default.
    pub rootfs: PathBuf,
    /// the D-Bus address of the system bus the `systemd` capability reads (`[paths]
    /// system_bus`), `unix:path=/run/dbus/system_bus_socket` by default.
    pub system_bus: String,
}

impl Default for RootPaths {
    fn default() -> Self {
        RootPaths {
            procfs: PathBuf::from("/proc"),
            sysfs: PathBuf::from("/sys"),
            rootfs: PathBuf::from("/"),
            system_bus: crate::sandbox::systemd::DEFAULT_SYSTEM_BUS.to_owned(),
        }
    }
}

impl RootPaths {
    /// The directory that serves `root`.
    pub fn path(&self, root: Root) -> &Path {
        match root {
            Root::Proc => &self.procfs,
            Root::Sys => &self.sysfs,
            Root::Rootfs => &self.rootfs,
        }
    }
}

/// One filesystem access a plugin made, as recorded for benchmarks (see [`Sandbox::record`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// A file read.
    Read(Root, String),
    /// A directory listing.
    ReadDir(Root, String),
    /// A symlink read.
    ReadLink(Root, String),
    /// A file's modification time asked (`stat`).
    Modified(Root, String),
    /// A `statfs` of a mount point (absolute, below the rootfs).
    Statfs(String),
}

/// The opened roots, shared by all plugins. Each root is opened once; a root whose directory
/// does not exist is served as absent (every read answers `not-found`).
#[derive(Debug)]
pub struct Sandbox {
    paths: RootPaths,
    dirs: [Option<Arc<Dir>>; 3],
    /// Per root: true when it is a procfs or sysfs mount (see the module doc).
    kernel_trees: [bool; 3],
    read_cap: usize,
    statfs_timeout: Duration,
    recording: Option<Recording>,
    /// The mount table as last read from a real procfs, with its open `mountinfo`.
    mounts: Mutex<Option<WatchedMounts>>,
    /// The descriptors all plugins' kept files may use together.
    kept_budget: Arc<Budget>,
    /// The system bus behind the `systemd` capability, and its last answer (one per cycle).
    systemd: crate::sandbox::systemd::SystemdBus,
}

/// The accesses [`Sandbox::record`] collects, while it is on.
#[derive(Debug)]
struct Recording {
    on: AtomicBool,
    accesses: Mutex<Vec<Access>>,
}

/// A mount table and the open `mountinfo` it was read from, which signals when it changes.
#[derive(Debug)]
struct WatchedMounts {
    file: std::fs::File,
    table: Arc<HashMap<String, MountKind>>,
}

impl Sandbox {
    /// Opens the roots. A missing root directory is not an error (a fixture tree may lack `sys`).
    pub fn open(paths: RootPaths, read_cap: usize) -> Sandbox {
        let dirs = Root::ALL.map(|root| {
            let dir = Dir::open_ambient_dir(paths.path(root), ambient_authority());
            if let Err(e) = &dir {
                tracing::warn!(root = root.name(), path = %paths.path(root).display(), error = %e, "cannot open root; reads from it will fail");
            }
            dir.ok().map(Arc::new)
        });
        let kernel_trees = Root::ALL.map(|root| {
            dirs[root as usize]
                .as_deref()
                .is_some_and(|dir| is_kernel_tree(root, dir))
        });
        let systemd = crate::sandbox::systemd::SystemdBus::new(
            &paths.system_bus,
            crate::sandbox::systemd::SYSTEMD_TIMEOUT,
        );
        Sandbox {
            systemd,
            paths,
            dirs,
            kernel_trees,
            read_cap,
            statfs_timeout: crate::sandbox::system::STATFS_TIMEOUT,
            recording: None,
            mounts: Mutex::new(None),
            kept_budget: Budget::from_rlimit(),
        }
    }

    /// systemd's units and manager state from the system bus: one fetch per cycle shared by
    /// every caller, within its deadline ([`crate::sandbox::systemd`]).
    pub fn systemd_units(&self) -> Result<sonde_sdk::SystemdState, FsError> {
        self.systemd.units()
    }

    /// Records every access from now on, so a benchmark can replay exactly what a cycle read
    /// (the "floor" a native reader would need). Off by default: no cost in the agent.
    pub fn record(mut self) -> Self {
        self.recording = Some(Recording {
            on: true.into(),
            accesses: Mutex::new(Vec::new()),
        });
        self
    }

    /// Stops recording, so that the cycles a benchmark measures after it took what one cycle
    /// read cost what they cost in the agent (a recorded access is an allocation and a lock).
    pub fn stop_recording(&self) {
        if let Some(recording) = &self.recording {
            recording.on.store(false, Ordering::Relaxed);
        }
    }

    /// The accesses recorded since the last call (empty unless [`Sandbox::record`] was used).
    pub fn take_recorded(&self) -> Vec<Access> {
        self.recording
            .as_ref()
            .map(|r| std::mem::take(&mut *r.accesses.lock().unwrap_or_else(|e| e.into_inner())))
            .unwrap_or_default()
    }

    fn note(&self, access: impl FnOnce() -> Access) {
        if let Some(recording) = &self.recording
            && recording.on.load(Ordering::Relaxed)
        {
            recording
                .accesses
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(access());
        }
    }

    /// `statfs(2)` of an absolute mount point below the rootfs root. A mount that
    /// [`MountKind::MayBlock`] is asked on the statfs thread, under the statfs timeout; one that
    /// never blocks is asked on the caller's thread, which spares two thread switches.
    pub fn statfs(&self, mount_point: &str, kind: MountKind) -> Result<FsStats, FsError> {
        self.note(|| Access::Statfs(mount_point.to_owned()));
        let rootfs = self.dirs[Root::Rootfs as usize]
            .as_ref()
            .ok_or(FsError::NotFound)?;
        let timeout = match kind {
            MountKind::NeverBlocks => None,
            MountKind::MayBlock => Some(self.statfs_timeout),
        };
        crate::sandbox::system::statfs(rootfs, &self.paths.rootfs, mount_point, timeout)
    }

    /// The mount table: every mount point `statfs` answers for, with its [`MountKind`], read
    /// from the procfs root's `1/mountinfo` (else `self/mountinfo`). Never stale, so a network
    /// filesystem mounted over a local one is never asked on the caller's thread: below a real
    /// procfs the table is kept with its `mountinfo` open, and read again only when the kernel
    /// signals a change of the mount namespace on it (`POLLPRI`, as libmount and systemd watch
    /// mounts); below a fixture tree it is read afresh for each call. Not recorded as a
    /// plugin's access.
    pub fn mount_table(&self) -> Arc<HashMap<String, MountKind>> {
        let Ok(proc) = self.dir(Root::Proc) else {
            return Arc::default();
        };
        if !self.kernel_trees[Root::Proc as usize] {
            return open_mountinfo(proc, self.read_cap)
                .map(|(_, table)| Arc::new(table))
                .unwrap_or_default();
        }
        let mut watched = self.mounts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = watched.as_mut() {
            if !mounts_changed(&w.file) {
                return w.table.clone();
            }
            if let Some(table) = read_mountinfo(&mut w.file, self.read_cap) {
                w.table = Arc::new(table);
                return w.table.clone();
            }
        }
        *watched = open_mountinfo(proc, self.read_cap).map(|(file, table)| WatchedMounts {
            file,
            table: Arc::new(table),
        });
        watched
            .as_ref()
            .map(|w| w.table.clone())
            .unwrap_or_default()
    }

    /// The directories the roots are served from.
    pub fn paths(&self) -> &RootPaths {
        &self.paths
    }

    fn dir(&self, root: Root) -> Result<&Dir, FsError> {
        self.dirs[root as usize].as_deref().ok_or(FsError::NotFound)
    }

    /// Reads a whole regular file, up to the read cap.
    pub fn read_file(&self, root: Root, path: &str) -> Result<Vec<u8>, FsError> {
        self.note(|| Access::Read(root, path.to_owned()));
        self.read_below(root, self.dir(root)?, relative(path)?)
    }

    /// A plugin's set of kept files, drawing on the descriptor budget all plugins share.
    pub fn kept_files(&self, limit: usize) -> KeptFiles {
        KeptFiles::new(limit, self.kept_budget.clone())
    }

    /// Reads a file as [`Sandbox::read_file`] does, from the plugin's kept file of `path` when it
    /// has one, and keeps the file it opens when [`crate::sandbox::kept_files`] allows (procfs paths).
    pub fn read_file_kept(
        &self,
        root: Root,
        path: &str,
        kept: &mut KeptFiles,
    ) -> Result<Vec<u8>, FsError> {
        let Some(anchor) = self.anchor(root, path, None) else {
            return self.read_file(root, path);
        };
        self.note(|| Access::Read(root, path.to_owned()));
        if let Some(read) = kept.read(root, path, anchor, self.read_cap) {
            return read.map_err(fs_error);
        }
        let (file, size_hint) = self.open_below(root, self.dir(root)?, relative(path)?)?;
        self.read_and_keep(root, path, file, size_hint, Some(anchor), kept)
    }

    /// How a file read from `root` may be kept (see [`crate::sandbox::kept_files`]): procfs paths the
    /// policy allows, sysfs attributes read through their directory `node`; nothing else.
    fn anchor(&self, root: Root, path: &str, node: Option<NodeId>) -> Option<Anchor> {
        if !self.kernel_trees[root as usize] {
            return None;
        }
        match root {
            Root::Proc => keeps_proc_file(path).then_some(Anchor::Path),
            Root::Sys => node.map(Anchor::Dir),
            Root::Rootfs => None,
        }
    }

    /// Reads several files, one result per path in order, each exactly as [`Sandbox::read_file`]
    /// would, keeping what may be kept in `kept`. A run of two or more paths in one directory
    /// (the attributes of a network interface, the files of a process) opens that directory once
    /// and each file relative to it: the kernel then walks one path component per file instead
    /// of the whole path, which in sysfs (a walk through `class/net/eth0`, a symlink, revalidated
    /// at every step) is 40% of what an `open` + `read` + `close` costs. A file that cannot be
    /// opened that way (the directory is gone, a symlink leads out of it) is read from the root
    /// as [`Sandbox::read_file`] does. In sysfs the files of such a run are kept while the
    /// directory stays the same kernfs node, checked once per run.
    pub fn read_files<S: AsRef<str>>(
        &self,
        root: Root,
        paths: &[S],
        kept: &mut KeptFiles,
    ) -> Vec<Result<Vec<u8>, FsError>> {
        let mut results = Vec::with_capacity(paths.len());
        let mut rest = paths;
        while let Some(first) = rest.first() {
            let parent = parent_dir(first.as_ref());
            let run = rest
                .iter()
                .take_while(|p| parent_dir(p.as_ref()) == parent)
                .count();
            let (group, tail) = rest.split_at(run);
            rest = tail;
            // Opened at the first file that needs it: a run of kept procfs files needs none.
            let dir = std::cell::OnceCell::new();
            let open_dir = || match parent {
                Some(parent) if run > 1 => Some(self.open_subdir(root, parent)),
                _ => None,
            };
            let node = match root {
                Root::Sys if self.kernel_trees[root as usize] => match dir.get_or_init(open_dir) {
                    Some(Ok(dir)) => NodeId::of(dir),
                    _ => None,
                },
                _ => None,
            };
            for path in group {
                let path = path.as_ref();
                let anchor = self.anchor(root, path, node);
                if let Some(anchor) = anchor
                    && let Some(read) = kept.read(root, path, anchor, self.read_cap)
                {
                    self.note(|| Access::Read(root, path.to_owned()));
                    results.push(read.map_err(fs_error));
                    continue;
                }
                let read = match dir.get_or_init(open_dir) {
                    Some(Ok(dir)) => self.read_in(root, dir, path, anchor, kept),
                    Some(Err(FsError::NotFound)) => self.read_missing(root, path),
                    _ => self.read_file_kept(root, path, kept),
                };
                results.push(read);
            }
        }
        results
    }

    /// Opens the directory `path` below `root` for [`Sandbox::read_files`]. When it does not
    /// exist, neither do its files; on any other error each file is read from the root, for that
    /// read's own error.
    fn open_subdir(&self, root: Root, path: &str) -> Result<Dir, FsError> {
        self.dir(root)?.open_dir(relative(path)?).map_err(fs_error)
    }

    /// What [`Sandbox::read_file`] answers for `path` when its directory does not exist (a
    /// machine without cpufreq asked for the files of `cpuN/cpufreq`), without walking to it
    /// again for each file.
    fn read_missing(&self, root: Root, path: &str) -> Result<Vec<u8>, FsError> {
        self.note(|| Access::Read(root, path.to_owned()));
        relative(path)?;
        Err(FsError::NotFound)
    }

    /// Reads the file `path` of `root` through `dir`, the directory holding it, and keeps it
    /// under `anchor` if given.
    fn read_in(
        &self,
        root: Root,
        dir: &Dir,
        path: &str,
        anchor: Option<Anchor>,
        kept: &mut KeptFiles,
    ) -> Result<Vec<u8>, FsError> {
        let name = match path.rsplit_once('/') {
            Some((_, name)) if !matches!(name, "" | "." | "..") => name,
            _ => return self.read_file(root, path),
        };
        if relative(path).is_err() {
            return self.read_file(root, path);
        }
        self.note(|| Access::Read(root, path.to_owned()));
        match self.open_below(root, dir, Path::new(name)) {
            Ok((file, size_hint)) => self.read_and_keep(root, path, file, size_hint, anchor, kept),
            // A symlink out of `dir` may still be inside the root: resolve it from there.
            Err(FsError::EscapesRoot) => self.read_below(root, self.dir(root)?, relative(path)?),
            Err(e) => Err(e),
        }
    }

    /// Opens `path` below `dir` (a root or a directory of one) and reads it whole, up to the
    /// read cap.
    fn read_below(&self, root: Root, dir: &Dir, path: &Path) -> Result<Vec<u8>, FsError> {
        let (file, size_hint) = self.open_below(root, dir, path)?;
        self.within_cap(self.read_open(&file, size_hint))
    }

    /// Reads `file`, just opened for `path`, and keeps it under `anchor` if given: when it was
    /// read, or failed in a way a kept file answers again (see [`kept_files::answers_again`]).
    fn read_and_keep(
        &self,
        root: Root,
        path: &str,
        file: std::fs::File,
        size_hint: usize,
        anchor: Option<Anchor>,
        kept: &mut KeptFiles,
    ) -> Result<Vec<u8>, FsError> {
        let read = self.read_open(&file, size_hint);
        if let Some(anchor) = anchor {
            match &read {
                Ok(bytes) if bytes.len() <= self.read_cap => {
                    kept.keep(root, path, file, anchor, bytes.len())
                }
                Err(e) if kept_files::answers_again(e) => kept.keep(root, path, file, anchor, 0),
                _ => {}
            }
        }
        self.within_cap(read)
    }

    /// Opens `path` below `dir` for reading, with a guess of its size: only a regular file
    /// (that check, and so the size, is left to the kernel below a real procfs or sysfs, whose
    /// files report a size of 0 or 4096 whatever they hold).
    fn open_below(
        &self,
        root: Root,
        dir: &Dir,
        path: &Path,
    ) -> Result<(std::fs::File, usize), FsError> {
        let file = dir
            .open_with(
                path,
                OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY),
            )
            .map_err(fs_error)?;
        let mut size_hint = 4096;
        if !self.kernel_trees[root as usize] {
            let metadata = file.metadata().map_err(fs_error)?;
            if !metadata.is_file() {
                return Err(FsError::Other("not a regular file".into()));
            }
            size_hint = (metadata.len() as usize).max(size_hint);
        }
        // Read through `std::fs::File`, whose `read_to_end` fills a vector's spare capacity as
        // is: cap-std's `File` only has `read`, so its `read_to_end` zeroes the spare capacity
        // before every read.
        Ok((file.into_std(), size_hint))
    }

    /// Reads an opened file to its end, or one byte past the read cap.
    fn read_open(&self, file: &std::fs::File, size_hint: usize) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(size_hint.min(self.read_cap + 1));
        // procfs reports size 0 for most files, so read to the end, one byte past the cap.
        Read::take(file, self.read_cap as u64 + 1).read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// A read's answer: its bytes, `too-large` past the read cap, or its error.
    fn within_cap(&self, read: io::Result<Vec<u8>>) -> Result<Vec<u8>, FsError> {
        match read {
            Ok(bytes) if bytes.len() > self.read_cap => Err(FsError::TooLarge),
            Ok(bytes) => Ok(bytes),
            Err(e) => Err(fs_error(e)),
        }
    }

    /// Lists a directory.
    pub fn read_dir(&self, root: Root, path: &str) -> Result<Vec<DirEntry>, FsError> {
        self.note(|| Access::ReadDir(root, path.to_owned()));
        let mut dir = self.open_listing(root, path)?;
        Ok(list(&mut dir).map_err(fs_error)?.0)
    }

    /// Lists a directory as [`Sandbox::read_dir`] does, from the plugin's kept directory of
    /// `path` when it has one, and keeps the directory it opens when [`crate::sandbox::kept_files`]
    /// allows (procfs: the root, `<pid>/task` and directories outside `self/`).
    pub fn read_dir_kept(
        &self,
        root: Root,
        path: &str,
        kept: &mut KeptFiles,
    ) -> Result<Vec<DirEntry>, FsError> {
        if !(root == Root::Proc && self.kernel_trees[root as usize] && keeps_proc_dir(path)) {
            return self.read_dir(root, path);
        }
        self.note(|| Access::ReadDir(root, path.to_owned()));
        if let Some(entries) = kept.list(root, path, Anchor::Path) {
            return Ok(entries);
        }
        let mut dir = self.open_listing(root, path)?;
        let (entries, _) = list(&mut dir).map_err(fs_error)?;
        kept.keep_dir(root, path, dir, Anchor::Path);
        Ok(entries)
    }

    /// Opens the directory `path` below `root` for listing (the root itself for `""`).
    fn open_listing(&self, root: Root, path: &str) -> Result<rustix::fs::Dir, FsError> {
        let path = match relative(path)? {
            p if p.as_os_str().is_empty() => Path::new("."),
            p => p,
        };
        // Not `open_dir` alone: its descriptor is `O_PATH`, which cannot be listed.
        let listing = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NONBLOCK)
            .clone();
        let base = self.dir(root)?;
        let dir = match base.open_with(path, &listing) {
            // Without openat2 (kernels before 5.6) cap-std resolves component by component
            // and opens the last one with O_NOFOLLOW, which a symlink to a directory answers
            // with ENOTDIR: resolve it with `open_dir` (which follows it, within the root)
            // and open that directory for listing.
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => base
                .open_dir(path)
                .and_then(|dir| dir.open_with(".", &listing))
                .map_err(fs_error)?,
            opened => opened.map_err(fs_error)?,
        };
        rustix::fs::Dir::new(dir.into_std()).map_err(|e| fs_error(e.into()))
    }

    /// Reads a symlink's target as stored, without following it. The target may be absolute
    /// (`/proc/<pid>/exe`); it is only information, the plugin cannot open it through this root.
    pub fn read_link(&self, root: Root, path: &str) -> Result<String, FsError> {
        self.note(|| Access::ReadLink(root, path.to_owned()));
        let path = relative(path)?;
        let target = self.dir(root)?.read_link_contents(path).map_err(fs_error)?;
        Ok(target.to_string_lossy().into_owned())
    }

    /// The modification time of `path` below `root`, in seconds since the Unix epoch (a
    /// symlink is followed, within the root).
    pub fn modified(&self, root: Root, path: &str) -> Result<f64, FsError> {
        self.note(|| Access::Modified(root, path.to_owned()));
        let path = relative(path)?;
        let modified = self
            .dir(root)?
            .metadata(path)
            .and_then(|m| m.modified())
            .map_err(fs_error)?;
        Ok(sonde_sdk::host::unix_seconds(modified.into_std()))
    }
}

/// The directory part of a plugin-supplied path (`class/net/eth0` of `class/net/eth0/mtu`);
/// `None` for a file at the top of a root.
fn parent_dir(path: &str) -> Option<&str> {
    path.rsplit_once('/')
        .map(|(parent, _)| parent)
        .filter(|p| !p.is_empty())
}

/// Whether a `statfs` of a mount point can block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// The mount and every mount on the way to it are of a filesystem type whose `statfs`
    /// answers from memory ([`NEVER_BLOCKING_FS_TYPES`]).
    NeverBlocks,
    /// Anything else: a network or FUSE filesystem (a dead server blocks `statfs` forever), an
    /// automount point, an overlay over something unknown.
    MayBlock,
}

/// Filesystem types whose `statfs` answers from in-memory counters and cannot wait on a
/// device, a server or a user-space daemon: local disk filesystems and the kernel's own.
/// Deliberately absent: `nfs*`, `cifs`, `smb3`, `fuse*`, `ceph`, `9p` and other network
/// filesystems, `autofs` (a `statfs` mounts), `overlay` (asks its upper layer, which may be
/// anything), `zfs` (blocks while a pool is suspended) and `efivarfs` (asks the firmware).
pub const NEVER_BLOCKING_FS_TYPES: &[&str] = &[
    "ext2",
    "ext3",
    "ext4",
    "xfs",
    "btrfs",
    "vfat",
    "exfat",
    "f2fs",
    "squashfs",
    "iso9660",
    "tmpfs",
    "ramfs",
    "devtmpfs",
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "devpts",
    "mqueue",
    "debugfs",
    "tracefs",
    "securityfs",
    "pstore",
    "bpf",
    "configfs",
    "hugetlbfs",
    "binfmt_misc",
    "nsfs",
    "rpc_pipefs",
];

/// The kind of every mount point of a mount table. A path walk to a mount point crosses the
/// mounts above it, so a mount is [`MountKind::NeverBlocks`] only when it and every mount on
/// its path are of [`NEVER_BLOCKING_FS_TYPES`] (mounts stacked on one point all count).
fn mount_kinds(mounts: &[sonde_procfs::mountinfo::MountInfo]) -> HashMap<String, MountKind> {
    let mut own: HashMap<&str, bool> = HashMap::new();
    for m in mounts {
        let never_blocks = NEVER_BLOCKING_FS_TYPES.contains(&m.fs_type.as_str());
        *own.entry(m.mount_point.as_str()).or_insert(true) &= never_blocks;
    }
    own.keys()
        .map(|&mount_point| {
            let mut on_the_way = Path::new(mount_point)
                .ancestors()
                .filter_map(|a| a.to_str())
                .filter_map(|a| own.get(a));
            let kind = if on_the_way.all(|&ok| ok) {
                MountKind::NeverBlocks
            } else {
                MountKind::MayBlock
            };
            (mount_point.to_owned(), kind)
        })
        .collect()
}

/// Opens `1/mountinfo` below the procfs root (else `self/mountinfo`) and reads its mount table.
fn open_mountinfo(
    proc: &Dir,
    read_cap: usize,
) -> Option<(std::fs::File, HashMap<String, MountKind>)> {
    ["1/mountinfo", "self/mountinfo"]
        .into_iter()
        .find_map(|path| {
            let mut file = proc
                .open_with(
                    path,
                    OpenOptions::new()
                        .read(true)
                        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY),
                )
                .ok()?
                .into_std();
            let table = read_mountinfo(&mut file, read_cap)?;
            Some((file, table))
        })
}

/// Reads an open `mountinfo` from its start and classifies its mounts.
fn read_mountinfo(file: &mut std::fs::File, read_cap: usize) -> Option<HashMap<String, MountKind>> {
    use std::io::Seek;
    file.seek(io::SeekFrom::Start(0)).ok()?;
    let mut text = Vec::new();
    file.take(read_cap as u64).read_to_end(&mut text).ok()?;
    let mounts = sonde_procfs::mountinfo::parse(&text).ok()?;
    Some(mount_kinds(&mounts))
}

/// True when the mount namespace of an open procfs `mountinfo` changed since it was last
/// asked (or opened); an error counts as a change, so the table is read again.
fn mounts_changed(file: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    let mut fd = libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLPRI,
        revents: 0,
    };
    // SAFETY: one valid pollfd, a zero timeout.
    let ready = unsafe { libc::poll(&mut fd, 1, 0) };
    ready < 0 || fd.revents & (libc::POLLPRI | libc::POLLERR | libc::POLLNVAL) != 0
}

/// True when `dir`, opened as `root`, is a procfs (`proc`) or sysfs (`sys`) mount.
fn is_kernel_tree(root: Root, dir: &Dir) -> bool {
    let Ok(stats) = rustix::fs::fstatfs(dir) else {
        return false;
    };
    let magic = stats.f_type;
    match root {
        Root::Proc => magic == libc::PROC_SUPER_MAGIC,
        Root::Sys => magic == libc::SYSFS_MAGIC,
        Root::Rootfs => false,
    }
}

/// Checks a plugin-supplied path: relative, no `..`, no NUL. Empty means the root itself.
fn relative(path: &str) -> Result<&Path, FsError> {
    if path.contains('\0') {
        return Err(FsError::Other("path contains NUL".into()));
    }
    let p = Path::new(path);
    for component in p.components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(FsError::EscapesRoot);
            }
        }
    }
    Ok(p)
}

/// Maps an I/O error to the WIT error, recognizing cap-std's refusals to leave the root.
pub(crate) fn fs_error(e: io::Error) -> FsError {
    // cap-std's refusal is an error of its own, without an OS error code: only those are
    // formatted to look for it (an `ENOENT` per missing file is not).
    if e.raw_os_error().is_none()
        && e.to_string()
            .contains("a path led outside of the filesystem")
    {
        return FsError::EscapesRoot;
    }
    match e.kind() {
        io::ErrorKind::NotFound => FsError::NotFound,
        io::ErrorKind::PermissionDenied => FsError::PermissionDenied,
        _ => match e.raw_os_error() {
            // RESOLVE_BENEATH / RESOLVE_NO_MAGICLINKS refusals: an absolute or magic symlink.
            Some(libc::EXDEV) | Some(libc::ELOOP) => FsError::EscapesRoot,
            _ => FsError::Other(e.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonde_sdk::EntryKind;
    use std::os::unix::fs::symlink;

    struct Tree {
        _tmp: tempfile::TempDir,
        sandbox: Sandbox,
    }

    /// A proc root with a file, a subdirectory, and links of every kind, plus a secret outside.
    fn tree(read_cap: usize) -> Tree {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("proc");
        std::fs::create_dir_all(root.join("1/net")).unwrap();
        std::fs::write(root.join("stat"), "cpu 1 2 3\n").unwrap();
        std::fs::write(root.join("1/net/dev"), "dev\n").unwrap();
        std::fs::write(root.join("big"), vec![b'x'; 100]).unwrap();
        std::fs::write(tmp.path().join("secret"), "shadow\n").unwrap();
        symlink("1", root.join("self")).unwrap();
        symlink("/etc/passwd", root.join("abs")).unwrap();
        symlink("../secret", root.join("escape")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        symlink("/dev/zero", root.join("zero")).unwrap();
        let paths = RootPaths {
            procfs: root,
            sysfs: tmp.path().join("missing-sys"),
            rootfs: tmp.path().to_path_buf(),
            ..RootPaths::default()
        };
        let sandbox = Sandbox::open(paths, read_cap);
        Tree { _tmp: tmp, sandbox }
    }

    #[test]
    fn reads_files_and_relative_symlinks_inside() {
        let t = tree(1024);
        assert_eq!(
            t.sandbox.read_file(Root::Proc, "stat").unwrap(),
            b"cpu 1 2 3\n"
        );
        assert_eq!(
            t.sandbox.read_file(Root::Proc, "self/net/dev").unwrap(),
            b"dev\n"
        );
        assert_eq!(
            t.sandbox.read_file(Root::Proc, "./stat").unwrap(),
            b"cpu 1 2 3\n"
        );
    }

    #[test]
    fn modified_times_follow_links_inside_and_never_out() {
        let t = tree(1024);
        let proc = t.sandbox.paths().procfs.clone();
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_250);
        std::fs::File::options()
            .write(true)
            .open(proc.join("1/net/dev"))
            .unwrap()
            .set_modified(at)
            .unwrap();
        for path in ["1/net/dev", "self/net/dev"] {
            assert_eq!(t.sandbox.modified(Root::Proc, path), Ok(1_700_000_000.25));
        }
        assert_eq!(
            t.sandbox.modified(Root::Proc, "1/missing"),
            Err(FsError::NotFound)
        );
        for escape in ["escape", "abs", "../secret", "/etc/passwd"] {
            assert_eq!(
                t.sandbox.modified(Root::Proc, escape),
                Err(FsError::EscapesRoot),
                "{escape}"
            );
        }
    }

    #[test]
    fn read_files_answers_every_path_as_read_file_does() {
        let t = tree(1024);
        let proc = t.sandbox.paths().procfs.clone();
        std::fs::write(proc.join("1/net/snmp"), "snmp\n").unwrap();
        std::fs::write(proc.join("1/status"), "status\n").unwrap();
        // Out of its directory but inside the root; out of the root; absolute; to a device.
        symlink("../status", proc.join("1/net/up")).unwrap();
        symlink("../../../secret", proc.join("1/net/out")).unwrap();
        symlink("/etc/passwd", proc.join("1/net/abs")).unwrap();
        symlink("/dev/zero", proc.join("1/net/zero")).unwrap();
        std::fs::create_dir(proc.join("1/net/sub")).unwrap();
        let paths = [
            "1/net/dev",
            "1/net/snmp",
            "1/net/missing",
            "1/net/up",
            "1/net/out",
            "1/net/abs",
            "1/net/zero",
            "1/net/sub",
            "1/net/",
            "1/net/.",
            "1/net/..",
            "stat",
            "gone/a",
            "gone/b",
            "gone/..",
            "1/net/../../escape",
            "1/net/../../escape/x",
            "self/net/dev",
            "self/net/snmp",
            "/stat",
        ];
        let sandbox = Sandbox::open(t.sandbox.paths().clone(), 1024).record();
        let one_by_one: Vec<_> = paths
            .iter()
            .map(|p| sandbox.read_file(Root::Proc, p))
            .collect();
        sandbox.take_recorded();
        let batched = sandbox.read_files(Root::Proc, &paths, &mut sandbox.kept_files(0));
        assert_eq!(batched, one_by_one);
        // Each path read once, as recorded for the floor.
        let recorded: Vec<Access> = paths
            .iter()
            .map(|p| Access::Read(Root::Proc, p.to_string()))
            .collect();
        assert_eq!(sandbox.take_recorded(), recorded);
        // Stopped, it records nothing more.
        sandbox.stop_recording();
        sandbox.read_files(Root::Proc, &paths, &mut sandbox.kept_files(0));
        assert_eq!(sandbox.take_recorded(), []);
        assert_eq!(batched[0], Ok(b"dev\n".to_vec()));
        assert_eq!(batched[1], Ok(b"snmp\n".to_vec()));
        assert_eq!(batched[2], Err(FsError::NotFound));
        assert_eq!(batched[3], Ok(b"status\n".to_vec()));
        for escape in [4, 5, 6, 14, 15, 16, 19] {
            assert_eq!(
                batched[escape],
                Err(FsError::EscapesRoot),
                "{}",
                paths[escape]
            );
        }
        assert_eq!(batched[7], Err(FsError::Other("not a regular file".into())));
        assert_eq!(batched[12], Err(FsError::NotFound));
        assert_eq!(batched[13], Err(FsError::NotFound));
        assert_eq!(batched[18], Ok(b"snmp\n".to_vec()));
    }

    #[test]
    fn read_files_on_the_real_sysfs_matches_read_file() {
        let host = Sandbox::open(RootPaths::default(), 1 << 20);
        let Ok(devices) = host.read_dir(Root::Sys, "class/net") else {
            return; // no sysfs here
        };
        let paths: Vec<String> = devices
            .iter()
            .flat_map(|d| {
                ["mtu", "ifindex", "type", "speed"].map(|a| format!("class/net/{}/{a}", d.name))
            })
            .collect();
        let one_by_one: Vec<_> = paths.iter().map(|p| host.read_file(Root::Sys, p)).collect();
        assert!(one_by_one.iter().any(|r| r.is_ok()));
        // Afresh, then from the files kept by the first batch: the same answers.
        let mut kept = host.kept_files(1000);
        for _ in 0..3 {
            kept.begin_collection();
            assert_eq!(host.read_files(Root::Sys, &paths, &mut kept), one_by_one);
            // Every attribute that could be read is kept, and those without a value now
            // (the `speed` of a virtual interface: `EINVAL`).
            let keepable = paths
                .iter()
                .map(|p| std::fs::read(Path::new("/sys").join(p)))
                .filter(|r| r.as_ref().is_ok() || r.as_ref().is_err_and(kept_files::answers_again))
                .count();
            assert_eq!(kept.len(), keepable);
        }
        assert_eq!(
            host.read_files(Root::Sys, &paths, &mut host.kept_files(0)),
            one_by_one
        );
    }

    #[test]
    fn kept_procfs_files_answer_as_fresh_reads() {
        let host = Sandbox::open(RootPaths::default(), 1 << 20).record();
        let mut kept = host.kept_files(1000);
        let paths = ["sys/kernel/pid_max", "1/cmdline", "1/comm", "self/comm"];
        for _ in 0..3 {
            kept.begin_collection();
            let fresh: Vec<_> = paths
                .iter()
                .map(|p| host.read_file(Root::Proc, p))
                .collect();
            host.take_recorded();
            assert_eq!(host.read_files(Root::Proc, &paths, &mut kept), fresh);
            let singles: Vec<_> = paths
                .iter()
                .map(|p| host.read_file_kept(Root::Proc, p, &mut kept))
                .collect();
            assert_eq!(singles, fresh);
            // Every read is recorded for the floor, kept or not.
            assert_eq!(host.take_recorded().len(), 2 * paths.len());
            // All but `self/comm`.
            assert_eq!(kept.len(), 3);
        }
    }

    #[test]
    fn kept_procfs_directories_list_as_fresh_ones() {
        let host = Sandbox::open(RootPaths::default(), 1 << 20);
        let mut kept = host.kept_files(1000);
        let names = |entries: Vec<DirEntry>| {
            let mut names: Vec<(String, EntryKind)> =
                entries.into_iter().map(|e| (e.name, e.kind)).collect();
            names.sort_by(|a, b| a.0.cmp(&b.0));
            names
        };
        for _ in 0..3 {
            kept.begin_collection();
            for path in ["net", "1/task", "sys/kernel/random"] {
                let fresh = names(host.read_dir(Root::Proc, path).unwrap());
                let again = names(host.read_dir_kept(Root::Proc, path, &mut kept).unwrap());
                assert_eq!(again, fresh, "{path}");
            }
            assert_eq!(kept.len(), 3);
        }
        // Not kept: sysfs, and `<pid>/fd`.
        host.read_dir_kept(Root::Sys, "class/net", &mut kept)
            .unwrap();
        host.read_dir_kept(Root::Proc, "self/fd", &mut kept)
            .unwrap();
        assert_eq!(kept.len(), 3);
    }

    #[test]
    fn refuses_every_way_out() {
        let t = tree(1024);
        let s = &t.sandbox;
        assert_eq!(
            s.read_file(Root::Proc, "../secret"),
            Err(FsError::EscapesRoot)
        );
        assert_eq!(
            s.read_file(Root::Proc, "1/../../secret"),
            Err(FsError::EscapesRoot)
        );
        assert_eq!(
            s.read_file(Root::Proc, "/etc/passwd"),
            Err(FsError::EscapesRoot)
        );
        assert_eq!(s.read_file(Root::Proc, "abs"), Err(FsError::EscapesRoot));
        assert_eq!(s.read_file(Root::Proc, "escape"), Err(FsError::EscapesRoot));
        assert_eq!(s.read_dir(Root::Proc, ".."), Err(FsError::EscapesRoot));
        assert_eq!(
            s.read_link(Root::Proc, "../secret"),
            Err(FsError::EscapesRoot)
        );
        assert_eq!(s.read_file(Root::Proc, "zero"), Err(FsError::EscapesRoot));
    }

    #[test]
    fn symlink_loop_is_an_error_not_a_hang() {
        let t = tree(1024);
        let err = t.sandbox.read_file(Root::Proc, "loop1").unwrap_err();
        assert!(
            matches!(err, FsError::EscapesRoot | FsError::Other(_)),
            "unexpected {err:?}"
        );
    }

    #[test]
    fn caps_large_files() {
        let t = tree(64);
        assert_eq!(
            t.sandbox.read_file(Root::Proc, "big"),
            Err(FsError::TooLarge)
        );
        let t = tree(100);
        assert_eq!(t.sandbox.read_file(Root::Proc, "big").unwrap().len(), 100);
    }

    #[test]
    fn refuses_fifos_and_devices_without_blocking() {
        let t = tree(1024);
        let fifo = t.sandbox.paths().procfs.join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let err = t.sandbox.read_file(Root::Proc, "fifo").unwrap_err();
        assert_eq!(err, FsError::Other("not a regular file".into()));
        let err = t.sandbox.read_file(Root::Proc, "1").unwrap_err();
        assert_eq!(err, FsError::Other("not a regular file".into()));
    }

    #[test]
    fn real_procfs_and_sysfs_are_read_without_the_file_type_check() {
        let fixture = tree(1024);
        assert_eq!(fixture.sandbox.kernel_trees, [false; 3]);
        let host = Sandbox::open(RootPaths::default(), 1 << 20);
        assert_eq!(host.kernel_trees, [true, true, false]);
        assert!(host.read_file(Root::Proc, "self/stat").unwrap().len() > 20);
        // A directory is still refused, by the kernel (magic links: the test below).
        assert!(matches!(
            host.read_file(Root::Proc, "self"),
            Err(FsError::Other(_))
        ));
    }

    #[test]
    fn lists_directories_with_kinds_and_reads_links_raw() {
        let t = tree(1024);
        let mut names: Vec<_> = t
            .sandbox
            .read_dir(Root::Proc, "")
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.kind))
            .collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        assert!(names.contains(&("1".into(), EntryKind::Dir)));
        assert!(names.contains(&("stat".into(), EntryKind::File)));
        assert!(names.contains(&("self".into(), EntryKind::Symlink)));
        assert_eq!(t.sandbox.read_link(Root::Proc, "self").unwrap(), "1");
        assert_eq!(
            t.sandbox.read_link(Root::Proc, "abs").unwrap(),
            "/etc/passwd"
        );
    }

    #[test]
    fn mount_table_is_read_from_the_procfs_root_with_each_mounts_kind() {
        let t = tree(1024);
        let mountinfo = t.sandbox.paths().procfs.join("1/mountinfo");
        let line = |id: u32, mount_point: &str, fs_type: &str| {
            format!("{id} 1 8:1 / {mount_point} rw,relatime shared:1 - {fs_type} /dev/sda1 rw\n")
        };
        std::fs::write(
            &mountinfo,
            line(22, "/", "ext4") + &line(23, "/data", "ext4"),
        )
        .unwrap();
        let table = t.sandbox.mount_table();
        assert_eq!(table.len(), 2);
        assert_eq!(table["/data"], MountKind::NeverBlocks);
        // Read afresh: an NFS mount stacked on /data since makes it one that may block.
        std::fs::write(
            &mountinfo,
            line(22, "/", "ext4") + &line(23, "/data", "ext4") + &line(24, "/data", "nfs4"),
        )
        .unwrap();
        assert_eq!(t.sandbox.mount_table()["/data"], MountKind::MayBlock);
        std::fs::remove_file(&mountinfo).unwrap();
        assert!(
            t.sandbox.mount_table().is_empty(),
            "no table, no mount points"
        );
    }

    /// Set in the child [`the_real_mount_table_is_kept_until_the_kernel_signals_a_change`] runs
    /// itself as, in namespaces of its own.
    const IN_NAMESPACES: &str = "SONDE_TEST_IN_OWN_NAMESPACES";

    #[test]
    fn the_real_mount_table_is_kept_until_the_kernel_signals_a_change() {
        // Mounting needs CAP_SYS_ADMIN, and must not touch the host's mount table: the test runs
        // again as pid 1 of its own user, mount and pid namespaces (util-linux `unshare`, no
        // privilege needed) with a procfs of its own, whose `1/mountinfo` is its own table.
        if std::env::var_os(IN_NAMESPACES).is_none() {
            let output = std::process::Command::new("unshare")
                .args(["--user", "--map-root-user", "--mount", "--pid", "--fork", "--mount-proc"])
                .arg(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "sandbox::tests::the_real_mount_table_is_kept_until_the_kernel_signals_a_change",
                    "--nocapture",
                ])
                .env(IN_NAMESPACES, "1")
                .output()
                .expect("util-linux unshare");
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success() && stdout.contains("1 passed"),
                "in its own namespaces: {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            );
            return;
        }
        let host = Sandbox::open(RootPaths::default(), 1 << 20);
        let first = host.mount_table();
        assert!(first.contains_key("/"));
        assert!(
            Arc::ptr_eq(&first, &host.mount_table()),
            "read again unchanged"
        );
        let dir = tempfile::tempdir().unwrap();
        let target = std::ffi::CString::new(dir.path().to_str().unwrap()).unwrap();
        let tmpfs = c"tmpfs";
        // SAFETY: valid C strings, no data argument.
        let mounted = unsafe {
            libc::mount(
                tmpfs.as_ptr(),
                target.as_ptr(),
                tmpfs.as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        assert_eq!(mounted, 0, "mount: {}", io::Error::last_os_error());
        let mount_point = dir.path().to_str().unwrap();
        let after_mount = host.mount_table();
        // SAFETY: a valid C string.
        unsafe { libc::umount(target.as_ptr()) };
        assert_eq!(after_mount.get(mount_point), Some(&MountKind::NeverBlocks));
        assert!(!host.mount_table().contains_key(mount_point));
    }

    #[test]
    fn a_mount_never_blocks_only_when_it_and_the_mounts_above_it_cannot() {
        let mount = |mount_point: &str, fs_type: &str| sonde_procfs::mountinfo::MountInfo {
            mount_point: mount_point.into(),
            fs_type: fs_type.into(),
            ..Default::default()
        };
        let kinds = mount_kinds(&[
            mount("/", "ext4"),
            mount("/dev/shm", "tmpfs"),
            mount("/mnt/nfs", "nfs4"),
            mount("/mnt/nfs/scratch", "tmpfs"),
            mount("/home", "ext4"),
            mount("/home", "fuse.sshfs"),
            mount("/srv", "autofs"),
        ]);
        let kind = |p: &str| kinds[p];
        assert_eq!(kind("/"), MountKind::NeverBlocks);
        assert_eq!(kind("/dev/shm"), MountKind::NeverBlocks);
        assert_eq!(kind("/mnt/nfs"), MountKind::MayBlock);
        assert_eq!(
            kind("/mnt/nfs/scratch"),
            MountKind::MayBlock,
            "below a network mount"
        );
        assert_eq!(
            kind("/home"),
            MountKind::MayBlock,
            "a FUSE mount stacked on it"
        );
        assert_eq!(kind("/srv"), MountKind::MayBlock);
    }

    #[test]
    fn a_missing_root_reads_as_not_found() {
        let t = tree(1024);
        assert_eq!(t.sandbox.read_file(Root::Sys, "x"), Err(FsError::NotFound));
    }

    #[test]
    fn refuses_magic_links_of_the_real_proc() {
        let s = Sandbox::open(RootPaths::default(), 1 << 20);
        assert_eq!(
            s.read_file(Root::Proc, "self/root/etc/passwd"),
            Err(FsError::EscapesRoot)
        );
        // Where the kernel denies ptrace access to pid 1 it answers EACCES before the link check.
        let cwd = s.read_dir(Root::Proc, "1/cwd");
        assert!(
            matches!(cwd, Err(FsError::EscapesRoot | FsError::PermissionDenied)),
            "{cwd:?}"
        );
        assert_eq!(
            s.read_file(Root::Proc, "self/fd/0"),
            Err(FsError::EscapesRoot)
        );
        assert!(
            s.read_file(Root::Proc, "self/stat").is_ok(),
            "plain /proc/self works"
        );
    }
}
