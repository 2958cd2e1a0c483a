//! Kernel files a plugin reads every collection, kept open between its collections and read
//! again in place (`pread` from offset 0) instead of opened, read and closed each time; and
//! procfs directories it lists, listed again from their start.
//!
//! procfs and sysfs generate a file's contents when it is read from its start, so a kept file
//! answers what a fresh open would, without the open's path walk (in sysfs through symlinks,
//! each component revalidated) and the close (docs/design.md, "Kept files", has what it saves).
//!
//! What may be kept, only below a root that is a real procfs or sysfs mount
//! ([`crate::sandbox`] decides, with the [`Anchor`] that keeps the file honest):
//! * procfs files that are not per-process (`stat`, `net/dev`, `sys/fs/file-nr`, …), except
//!   below `self/` and `thread-self/`;
//! * per-process files the kernel computes from the task at every read ([`PROCESS_FILES`],
//!   for `<pid>/` and `<pid>/task/<tid>/`). The descriptor belongs to that process: once it
//!   exits, reading fails (`ESRCH`) and the path is opened afresh, which finds the process that
//!   reused the PID, if any. Files bound to a process's memory when opened (`environ`, `maps`,
//!   `smaps`) would go stale after an `exec` and are never kept;
//! * sysfs attributes read together from one directory (`read-files`), while the directory is
//!   still the kernfs node it was when they were opened: an interface renamed away, or a device
//!   removed and another added under its name, is another node, and its files are opened afresh;
//! * procfs directories listed: the root (the processes), directories outside `self/`, and
//!   `<pid>/task` (the threads: an exited process's listing fails). Not `<pid>/fd`, which the
//!   kernel lists by the rights of whoever opened it. sysfs directories are listed afresh: a
//!   listing's path is not checked again the way a batch's directory is.
//!
//! Any failure of a kept file (the device or process went away, a file that cannot be read at
//! an offset) closes it and the read is made afresh, so errors are always those of a fresh open.
//!
//! A file is read to its end: until a read returns nothing, since a `seq_file` may return less
//! than asked before its end (when its next record does not fit its buffer). Files the kernel
//! generates as one record ([`one_record`]: sysfs attributes, procfs files made by
//! `single_open`, integer sysctls) are whole after one read that returns less than asked, and
//! that end-of-file read is left out.
//!
//! Bounds: a plugin keeps at most its `keep_open_files` (default [`DEFAULT_LIMIT`]), all
//! plugins together at most a quarter of the process's descriptor limit ([`Budget`]; the agent
//! raises its soft limit to the hard one at start, [`raise_descriptor_limit`]), and a file
//! the plugin did not read in a collection is closed when the next one begins. Each kept file
//! holds a page of kernel memory (the kernel's read buffer), charged to the agent's cgroup.

use sonde_sdk::{DirEntry, EntryKind, Root};
use std::collections::HashMap;
use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Files a plugin keeps open unless its `keep_open_files` says otherwise.
pub const DEFAULT_LIMIT: usize = 256;

/// Per-process files (below `<pid>/` or `<pid>/task/<tid>/`) that may be kept: the kernel
/// reads the task afresh for each of them at every read.
pub const PROCESS_FILES: [&str; 8] = [
    "stat",
    "statm",
    "status",
    "io",
    "schedstat",
    "cmdline",
    "comm",
    "limits",
];

/// Per-process files the kernel makes as one record (`single_open`: `ONE` entries of
/// `fs/proc/base.c`, and `comm`): one read that returns less than asked returns all of it.
/// Not `cmdline`, which is copied out of the process's memory as asked.
const ONE_RECORD_PROCESS_FILES: [&str; 7] = [
    "stat",
    "statm",
    "status",
    "io",
    "schedstat",
    "comm",
    "limits",
];

/// procfs files outside the processes that the kernel makes as one record: `single_open`
/// (`stat`, `meminfo`, `loadavg`, `pressure/*`), `single_open_net` (`net/snmp`,
/// `net/netstat`, `net/sockstat`, …) and the integer sysctls read through `proc_dointvec` and
/// its kin, which answer a read from offset 0 whole. Not the lists (`vmstat`, `diskstats`,
/// `net/dev`, `net/udp`, …), which are `seq_file`s of many records.
const ONE_RECORD_SYSTEM_FILES: [&str; 19] = [
    "stat",
    "meminfo",
    "loadavg",
    "pressure/cpu",
    "pressure/memory",
    "pressure/io",
    "pressure/irq",
    "net/snmp",
    "net/snmp6",
    "net/netstat",
    "net/sockstat",
    "net/sockstat6",
    "sys/fs/file-nr",
    "sys/kernel/pid_max",
    "sys/kernel/threads-max",
    "sys/kernel/random/entropy_avail",
    "sys/kernel/random/poolsize",
    "sys/net/netfilter/nf_conntrack_count",
    "sys/net/netfilter/nf_conntrack_max",
];

/// `SYSFS_MAGIC` of `linux/magic.h`, the `f_type` `statfs` reports for sysfs.
const SYSFS_MAGIC: u64 = 0x6265_6572;

/// Whether `file`, kept for `path`, is generated as one record, so that a read returning less
/// than asked returned it whole: a procfs file of [`ONE_RECORD_SYSTEM_FILES`], a per-process
/// file of [`ONE_RECORD_PROCESS_FILES`], or a sysfs attribute — a file of sysfs itself (not of
/// a filesystem mounted below it, such as cgroupfs, whose files are lists) that reports a page
/// as its size, as sysfs does for the attributes it shows with one call (at most a page).
/// Binary attributes report their own size: not these.
fn one_record(root: Root, path: &str, file: &File) -> bool {
    match root {
        Root::Proc => {
            ONE_RECORD_SYSTEM_FILES.contains(&path)
                || (keeps_proc(path, &ONE_RECORD_PROCESS_FILES)
                    && path.split('/').next().is_some_and(is_pid))
        }
        Root::Sys => {
            // SAFETY: sysconf only reads a system constant.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as i64;
            rustix::fs::fstat(file).is_ok_and(|stat| stat.st_size == page)
                && rustix::fs::fstatfs(file).is_ok_and(|fs| fs.f_type as u64 == SYSFS_MAGIC)
        }
        Root::Rootfs => false,
    }
}

/// Identity of a directory: its device and inode. kernfs gives every node an inode number of
/// its own for the life of the system, so a directory that is a different node has a different
/// identity even under the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeId {
    dev: u64,
    ino: u64,
}

impl NodeId {
    /// The identity of an open directory (one `fstat`).
    pub fn of(dir: &cap_std::fs::Dir) -> Option<NodeId> {
        let stat = rustix::fs::fstat(dir).ok()?;
        Some(NodeId {
            dev: stat.st_dev,
            ino: stat.st_ino,
        })
    }
}

/// Why a kept file still is the file its path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// A procfs file: the path always names the same file, or reading the kept one fails.
    Path,
    /// A sysfs attribute, valid while its directory is this node.
    Dir(NodeId),
}

/// Which procfs files may be kept (see the module doc).
pub fn keeps_proc_file(path: &str) -> bool {
    keeps_proc(path, &PROCESS_FILES)
}

/// Which procfs directories may be kept for listing: the root (`""`, the processes), the
/// directories outside `self/`, and `<pid>/task` (the threads; an exited process fails the
/// listing). Not `<pid>/fd`, whose listing the kernel allows by the rights of whoever opened it.
pub fn keeps_proc_dir(path: &str) -> bool {
    path.is_empty() || keeps_proc(path, &["task"])
}

/// `path` is a procfs path outside `self/` and `thread-self/`; below a process (`<pid>/` or
/// `<pid>/task/<tid>/`) only the names in `per_process`.
fn keeps_proc(path: &str, per_process: &[&str]) -> bool {
    let mut parts = [""; 5];
    let mut count = 0;
    for part in path.split('/') {
        if matches!(part, "" | "." | "..") {
            return false;
        }
        if count < parts.len() {
            parts[count] = part;
        }
        count += 1;
    }
    match &parts[..count.min(parts.len())] {
        ["self" | "thread-self", ..] => false,
        [process, name] if is_pid(process) => per_process.contains(name),
        [process, "task", thread, name] if is_pid(process) && is_pid(thread) => {
            per_process.contains(name)
        }
        [first, ..] => !is_pid(first),
        [] => false,
    }
}

/// A procfs path component that names a process or thread (a non-empty run of digits).
fn is_pid(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())
}

/// Raises the soft limit on open descriptors to the hard one, as Go programs (node_exporter
/// among them) do at start: the soft limit, often 1024, protects programs that use `select`,
/// which sonde does not, and [`Budget`] is a quarter of it. A failure leaves the limit as it is.
pub fn raise_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given; setrlimit reads it.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// The process's soft limit on open descriptors (1024 if it cannot be read).
pub fn descriptor_limit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given.
    match unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } {
        0 => limit.rlim_cur.min(1 << 20) as usize,
        _ => 1024,
    }
}

/// The descriptors all plugins together may keep: a quarter of the soft `RLIMIT_NOFILE`, so
/// kept files never starve the agent's own opens (connections, the write-ahead log).
#[derive(Debug)]
pub struct Budget(AtomicUsize);

impl Budget {
    /// A quarter of the process's current descriptor limit.
    pub fn from_rlimit() -> Arc<Budget> {
        Budget::of(descriptor_limit() / 4)
    }

    /// A budget of `files` descriptors.
    pub fn of(files: usize) -> Arc<Budget> {
        Arc::new(Budget(AtomicUsize::new(files)))
    }

    fn take(&self) -> bool {
        self.0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    fn give_back(&self, files: usize) {
        self.0.fetch_add(files, Ordering::Relaxed);
    }
}

/// One plugin's kept files and directories (it lives in the plugin's store, so no lock is
/// taken).
#[derive(Debug)]
pub struct KeptFiles {
    limit: usize,
    budget: Arc<Budget>,
    /// Per root (indexed by `Root as usize`), by path.
    files: [HashMap<Box<str>, Kept<KeptFile>>; 3],
    /// Per root, by path.
    dirs: [HashMap<Box<str>, Kept<rustix::fs::Dir>>; 3],
    collection: u64,
}

#[derive(Debug)]
struct Kept<T> {
    open: T,
    anchor: Anchor,
    /// The collection that last read it.
    used: u64,
}

#[derive(Debug)]
struct KeptFile {
    file: File,
    /// What it held at the last read: the next read starts with that much room.
    len: usize,
    /// Generated as one record ([`one_record`]): whole after a read that returns less than asked.
    one_record: bool,
}

impl KeptFiles {
    /// Nothing kept yet; at most `limit` files and directories (and what `budget` allows) will
    /// be.
    pub fn new(limit: usize, budget: Arc<Budget>) -> Self {
        KeptFiles {
            limit,
            budget,
            files: Default::default(),
            dirs: Default::default(),
            collection: 0,
        }
    }

    /// Starts a collection: closes what the previous one did not read.
    pub fn begin_collection(&mut self) {
        let before = self.len();
        let current = self.collection;
        for files in &mut self.files {
            files.retain(|_, kept| kept.used == current);
        }
        for dirs in &mut self.dirs {
            dirs.retain(|_, kept| kept.used == current);
        }
        self.budget.give_back(before - self.len());
        self.collection += 1;
    }

    /// How many files and directories are kept.
    pub(crate) fn len(&self) -> usize {
        let files: usize = self.files.iter().map(HashMap::len).sum();
        files + self.dirs.iter().map(HashMap::len).sum::<usize>()
    }

    /// Reads the kept file of `path` whole (at most `cap` bytes) if there is one with this
    /// anchor, or answers the error its read gave again when it [`answers_again`]. `None` when
    /// there is none, or it failed otherwise or grew past `cap` (it is closed then): read afresh.
    pub fn read(
        &mut self,
        root: Root,
        path: &str,
        anchor: Anchor,
        cap: usize,
    ) -> Option<std::io::Result<Vec<u8>>> {
        let collection = self.collection;
        let files = &mut self.files[root as usize];
        take_or_use(files, path, anchor, &self.budget, |kept| {
            let read = match read_at_start(&kept.open, cap)? {
                Ok(bytes) => {
                    kept.open.len = bytes.len();
                    Ok(bytes)
                }
                Err(errno) => {
                    let error = std::io::Error::from(errno);
                    if !answers_again(&error) {
                        return None;
                    }
                    Err(error)
                }
            };
            kept.used = collection;
            Some(read)
        })
    }

    /// Lists the kept directory `path` again from its start (see [`list`]) if there is one
    /// with this anchor. `None` when there is none or it failed (it is closed then): list
    /// afresh. A listing without `.` failed: procfs ends the listing of an exited process's
    /// directory with `ENOENT`, which the reader takes for the end.
    pub fn list(&mut self, root: Root, path: &str, anchor: Anchor) -> Option<Vec<DirEntry>> {
        let collection = self.collection;
        let dirs = &mut self.dirs[root as usize];
        take_or_use(dirs, path, anchor, &self.budget, |kept| {
            kept.open.rewind();
            let (entries, dots) = list(&mut kept.open).ok()?;
            if !dots {
                return None;
            }
            kept.used = collection;
            Some(entries)
        })
    }

    /// Keeps `file`, just read afresh (`len` bytes) for `path`, if the limits allow.
    pub fn keep(&mut self, root: Root, path: &str, file: File, anchor: Anchor, len: usize) {
        if self.room() {
            let one_record = one_record(root, path, &file);
            let kept = self.kept(
                KeptFile {
                    file,
                    len,
                    one_record,
                },
                anchor,
            );
            if self.files[root as usize]
                .insert(path.into(), kept)
                .is_some()
            {
                self.budget.give_back(1);
            }
        }
    }

    /// Keeps `dir`, just listed afresh for `path`, if the limits allow.
    pub fn keep_dir(&mut self, root: Root, path: &str, dir: rustix::fs::Dir, anchor: Anchor) {
        if self.room() {
            let kept = self.kept(dir, anchor);
            if self.dirs[root as usize].insert(path.into(), kept).is_some() {
                self.budget.give_back(1);
            }
        }
    }

    /// True when one more may be kept, its descriptor taken from the budget.
    fn room(&self) -> bool {
        self.len() < self.limit && self.budget.take()
    }

    fn kept<T>(&self, open: T, anchor: Anchor) -> Kept<T> {
        Kept {
            open,
            anchor,
            used: self.collection,
        }
    }
}

/// Runs `using` on the kept entry of `path` if its anchor is `anchor`; an entry with another
/// anchor, or for which `using` fails, is closed and its descriptor given back.
fn take_or_use<T, R>(
    map: &mut HashMap<Box<str>, Kept<T>>,
    path: &str,
    anchor: Anchor,
    budget: &Budget,
    using: impl FnOnce(&mut Kept<T>) -> Option<R>,
) -> Option<R> {
    let kept = map.get_mut(path)?;
    if kept.anchor == anchor
        && let Some(result) = using(kept)
    {
        return Some(result);
    }
    map.remove(path);
    budget.give_back(1);
    None
}

impl Drop for KeptFiles {
    fn drop(&mut self) {
        self.budget.give_back(self.len());
    }
}

/// Lists an open directory from where it stands, without `.` and `..` (and says whether they
/// were there): each entry's kind from the directory entry itself, else from an `lstat` (an
/// entry gone by then, such as a process that exited, is left out).
pub fn list(dir: &mut rustix::fs::Dir) -> std::io::Result<(Vec<DirEntry>, bool)> {
    use rustix::fs::FileType;
    let mut entries = Vec::new();
    let mut dot = false;
    while let Some(entry) = dir.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            dot = true;
            continue;
        }
        let file_type = match entry.file_type() {
            FileType::Unknown => {
                let stat = rustix::fs::statat(
                    dir.fd()?,
                    entry.file_name(),
                    rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
                );
                match stat {
                    Ok(stat) => FileType::from_raw_mode(stat.st_mode),
                    Err(_) => continue,
                }
            }
            known => known,
        };
        let kind = match file_type {
            FileType::Symlink => EntryKind::Symlink,
            FileType::Directory => EntryKind::Dir,
            FileType::RegularFile => EntryKind::File,
            _ => EntryKind::Other,
        };
        entries.push(DirEntry {
            name: String::from_utf8_lossy(name).into_owned(),
            kind,
        });
    }
    Ok((entries, dot))
}

/// Whether a failed read of a kept file is answered with its error again, the file staying
/// kept: the attribute exists but has no value now (`EINVAL`: the speed of a virtual
/// interface, the carrier of one that is down; `EOPNOTSUPP`, `ENODATA`), which a fresh open
/// would answer too. Any other error (`ENODEV`: the device went away, `ESRCH`: the process
/// exited, …) closes the file and the path is read afresh.
pub fn answers_again(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EINVAL | libc::EOPNOTSUPP | libc::ENODATA)
    )
}

/// Reads `kept` from offset 0 to its end (for a [`one_record`] file, to a read that returns
/// less than asked); `None` past `cap` bytes. The buffer is sized by what the file held last
/// time, with room to grow: most kernel files are far smaller than a page (a `<pid>/stat` is
/// ~300 bytes), and a buffer that small comes from the allocator's per-thread cache rather
/// than from its bins (a page each was ~2% of a hot cycle in glibc's `malloc` and `free`).
fn read_at_start(kept: &KeptFile, cap: usize) -> Option<Result<Vec<u8>, rustix::io::Errno>> {
    let mut bytes = Vec::with_capacity((kept.len + kept.len / 4 + 64).min(cap + 1));
    loop {
        if bytes.len() == bytes.capacity() {
            bytes.reserve(bytes.len());
        }
        let offset = bytes.len() as u64;
        let asked = bytes.capacity() - bytes.len();
        match rustix::io::pread(
            &kept.file,
            rustix::buffer::spare_capacity(&mut bytes),
            offset,
        ) {
            Ok(0) => return Some(Ok(bytes)),
            Ok(_) if bytes.len() > cap => return None,
            Ok(read) if kept.one_record && read < asked => return Some(Ok(bytes)),
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(errno) => return Some(Err(errno)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_descriptor_limit_is_raised_to_the_hard_one() {
        raise_descriptor_limit();
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes the struct it is given.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        assert_eq!(limit.rlim_cur, limit.rlim_max);
    }

    #[test]
    fn which_proc_directories_are_kept() {
        for kept in ["", "net", "sys/kernel", "42/task"] {
            assert!(keeps_proc_dir(kept), "{kept}");
        }
        for fresh in ["self/task", "42/fd", "42", "42/task/43/fd", ".", "net/"] {
            assert!(!keeps_proc_dir(fresh), "{fresh}");
        }
    }

    #[test]
    fn which_proc_paths_are_kept() {
        for kept in [
            "stat",
            "net/dev",
            "sys/fs/file-nr",
            "pressure/cpu",
            "42/stat",
            "42/io",
            "42/task/43/stat",
            "42/cmdline",
        ] {
            assert!(keeps_proc_file(kept), "{kept}");
        }
        for fresh in [
            "self/stat",
            "thread-self/stat",
            "42/environ",
            "42/smaps",
            "42/maps",
            "42/net/dev",
            "42/task/43/environ",
            "42/task/43/stat/x",
            "42/task",
            "./stat",
            "net//dev",
            "../stat",
            "",
        ] {
            assert!(!keeps_proc_file(fresh), "{fresh}");
        }
    }

    #[test]
    fn which_files_are_one_record() {
        let file = |path: &str| File::open(path).unwrap();
        let me = std::process::id();
        for path in [
            "stat",
            "statm",
            "status",
            "io",
            "comm",
            "limits",
            "schedstat",
        ] {
            let kept = format!("{me}/{path}");
            let thread = format!("{me}/task/{me}/{path}");
            let open = file(&format!("/proc/{kept}"));
            assert!(one_record(Root::Proc, &kept, &open), "{kept}");
            assert!(one_record(Root::Proc, &thread, &open), "{thread}");
        }
        let stat = file("/proc/stat");
        for path in ONE_RECORD_SYSTEM_FILES {
            assert!(one_record(Root::Proc, path, &stat), "{path}");
        }
        // Lists, or not made by the kernel in one go: read to the end.
        let cmdline = format!("{me}/cmdline");
        for path in [
            "net/dev",
            "self/stat",
            "self/net/snmp",
            &cmdline,
            "vmstat",
            "diskstats",
            "net/udp",
            "sys/kernel/random/uuid",
        ] {
            assert!(!one_record(Root::Proc, path, &stat), "{path}");
        }
        // A procfs file is not a sysfs attribute, whatever the root says.
        assert!(!one_record(Root::Sys, "kernel/x", &stat));
        if let Ok(mtu) = File::open("/sys/class/net/lo/mtu") {
            assert!(one_record(Root::Sys, "class/net/lo/mtu", &mtu));
        }
        // cgroupfs below /sys lists processes: not one record.
        if let Ok(procs) = File::open("/sys/fs/cgroup/cgroup.procs") {
            assert!(!one_record(Root::Sys, "fs/cgroup/cgroup.procs", &procs));
        }
    }

    #[test]
    fn one_record_files_read_in_one_go_answer_what_a_fresh_read_does() {
        let me = std::process::id();
        let mut kept = KeptFiles::new(10, Budget::of(10));
        for (root, path, real) in [
            (
                Root::Proc,
                format!("{me}/status"),
                format!("/proc/{me}/status"),
            ),
            (
                Root::Proc,
                format!("{me}/limits"),
                format!("/proc/{me}/limits"),
            ),
            (
                Root::Sys,
                "mtu".to_owned(),
                "/sys/class/net/lo/mtu".to_owned(),
            ),
            (Root::Proc, "stat".to_owned(), "/proc/stat".to_owned()),
            (Root::Proc, "meminfo".to_owned(), "/proc/meminfo".to_owned()),
            (
                Root::Proc,
                "net/snmp".to_owned(),
                "/proc/net/snmp".to_owned(),
            ),
            (
                Root::Proc,
                "sys/fs/file-nr".to_owned(),
                "/proc/sys/fs/file-nr".to_owned(),
            ),
        ] {
            if !std::path::Path::new(&real).exists() {
                continue; // no sysfs here
            }
            // Kept as if it had been empty: the first read outgrows its buffer (read in
            // several goes), the second is sized by the first.
            let (file, _) = open(&real);
            kept.keep(root, &path, file, Anchor::Path, 0);
            for _ in 0..2 {
                let again = kept
                    .read(root, &path, Anchor::Path, 1 << 20)
                    .unwrap()
                    .unwrap();
                let fresh = std::fs::read(&real).unwrap();
                // The counters move; the lines, their names and their number of fields do not.
                let names = |b: &[u8]| -> Vec<(String, usize)> {
                    String::from_utf8_lossy(b)
                        .lines()
                        .map(|l| {
                            let first = l.split([':', ' ', '\t']).next().unwrap_or("");
                            let name = first.trim_start_matches(|c: char| c.is_ascii_digit());
                            (name.to_owned(), l.split_whitespace().count())
                        })
                        .collect()
                };
                assert_eq!(names(&again), names(&fresh), "{real}");
                assert!(again.ends_with(b"\n"), "{real}");
            }
        }
    }

    fn open(path: &str) -> (File, usize) {
        let mut file = File::open(path).unwrap();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).unwrap();
        (file, bytes.len())
    }

    #[test]
    fn a_kept_procfs_file_reads_afresh_each_time() {
        let budget = Budget::of(10);
        let mut kept = KeptFiles::new(10, budget.clone());
        let (file, len) = open("/proc/uptime");
        kept.keep(Root::Proc, "uptime", file, Anchor::Path, len);
        assert_eq!(budget.0.load(Ordering::Relaxed), 9);
        let first = kept
            .read(Root::Proc, "uptime", Anchor::Path, 1 << 20)
            .unwrap()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let second = kept
            .read(Root::Proc, "uptime", Anchor::Path, 1 << 20)
            .unwrap()
            .unwrap();
        assert_ne!(first, second, "uptime moves: the kernel generated it again");
        let fresh = std::fs::read("/proc/uptime").unwrap();
        let seconds = |b: &[u8]| -> f64 {
            std::str::from_utf8(b)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        assert!(seconds(&fresh) - seconds(&second) < 1.0);
        // A file longer than a page (several reads) is read whole.
        let (file, _) = open("/proc/zoneinfo");
        kept.keep(Root::Proc, "big", file, Anchor::Path, 0);
        let big = kept
            .read(Root::Proc, "big", Anchor::Path, 1 << 24)
            .unwrap()
            .unwrap();
        let lines = |b: &[u8]| b.iter().filter(|c| **c == b'\n').count();
        assert!(big.len() > 4096);
        assert_eq!(
            lines(&big),
            lines(&std::fs::read("/proc/zoneinfo").unwrap())
        );
        // Past the cap: not answered, and closed.
        assert!(kept.read(Root::Proc, "big", Anchor::Path, 100).is_none());
        assert_eq!(kept.len(), 1);
    }

    #[test]
    fn a_file_is_valid_only_under_its_anchor_and_only_while_read() {
        let budget = Budget::of(10);
        let mut kept = KeptFiles::new(10, budget.clone());
        let dir = cap_std::fs::Dir::open_ambient_dir("/sys/kernel", cap_std::ambient_authority())
            .unwrap();
        let node = NodeId::of(&dir).unwrap();
        let other = NodeId::of(
            &cap_std::fs::Dir::open_ambient_dir("/sys/class", cap_std::ambient_authority())
                .unwrap(),
        )
        .unwrap();
        assert_ne!(node, other);
        let (file, len) = open("/proc/loadavg");
        kept.keep(Root::Sys, "kernel/x", file, Anchor::Dir(node), len);
        assert!(
            kept.read(Root::Sys, "kernel/x", Anchor::Dir(node), 4096)
                .is_some()
        );
        // The directory is another node now: not answered, and closed.
        assert!(
            kept.read(Root::Sys, "kernel/x", Anchor::Dir(other), 4096)
                .is_none()
        );
        assert_eq!((kept.len(), budget.0.load(Ordering::Relaxed)), (0, 10));
        // Kept across one collection that read it; closed after one that did not.
        let (file, len) = open("/proc/loadavg");
        kept.keep(Root::Proc, "loadavg", file, Anchor::Path, len);
        kept.begin_collection();
        assert!(
            kept.read(Root::Proc, "loadavg", Anchor::Path, 4096)
                .is_some()
        );
        kept.begin_collection();
        assert_eq!(kept.len(), 1);
        kept.begin_collection();
        assert_eq!((kept.len(), budget.0.load(Ordering::Relaxed)), (0, 10));
    }

    #[test]
    fn a_value_the_kernel_has_not_is_answered_again_from_the_kept_file() {
        // `speed` of the loopback interface: the attribute exists, its read fails (`EINVAL`).
        let path = "/sys/class/net/lo/speed";
        let Ok(file) = File::open(path) else {
            return; // no sysfs here
        };
        let fresh = std::fs::read(path).unwrap_err();
        assert!(answers_again(&fresh), "{fresh}");
        let dir =
            cap_std::fs::Dir::open_ambient_dir("/sys/class/net/lo", cap_std::ambient_authority())
                .unwrap();
        let anchor = Anchor::Dir(NodeId::of(&dir).unwrap());
        let mut kept = KeptFiles::new(10, Budget::of(10));
        kept.keep(Root::Sys, "class/net/lo/speed", file, anchor, 0);
        for _ in 0..2 {
            let again = kept
                .read(Root::Sys, "class/net/lo/speed", anchor, 4096)
                .unwrap();
            assert_eq!(again.unwrap_err().raw_os_error(), fresh.raw_os_error());
        }
        assert_eq!(kept.len(), 1);
        assert!(!answers_again(&std::io::Error::from_raw_os_error(
            libc::ENODEV
        )));
        assert!(!answers_again(&std::io::Error::from_raw_os_error(
            libc::ESRCH
        )));
    }

    #[test]
    fn limits_and_the_shared_budget_bound_what_is_kept() {
        let budget = Budget::of(3);
        let mut a = KeptFiles::new(2, budget.clone());
        let mut b = KeptFiles::new(10, budget.clone());
        for (i, kept) in [0, 0, 0, 1, 1].into_iter().enumerate() {
            let kept = if kept == 0 { &mut a } else { &mut b };
            let (file, len) = open("/proc/loadavg");
            kept.keep(Root::Proc, &format!("f{i}"), file, Anchor::Path, len);
        }
        // `a` stops at its own limit (2), `b` at what the budget has left (1).
        assert_eq!((a.len(), b.len()), (2, 1));
        assert_eq!(budget.0.load(Ordering::Relaxed), 0);
        drop(a);
        assert_eq!(budget.0.load(Ordering::Relaxed), 2);
    }

    fn open_dir(path: &str) -> rustix::fs::Dir {
        rustix::fs::Dir::new(File::open(path).unwrap()).unwrap()
    }

    #[test]
    fn a_kept_directory_lists_afresh_each_time() {
        let mut kept = KeptFiles::new(10, Budget::of(10));
        let mut dir = open_dir("/proc");
        let (first, dots) = list(&mut dir).unwrap();
        assert!(
            dots && first
                .iter()
                .any(|e| e.name == "1" && e.kind == EntryKind::Dir)
        );
        assert!(first.iter().all(|e| e.name != "." && e.name != ".."));
        kept.keep_dir(Root::Proc, "", dir, Anchor::Path);
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id().to_string();
        let again = kept.list(Root::Proc, "", Anchor::Path).unwrap();
        assert!(
            again.iter().any(|e| e.name == pid),
            "a new process is listed"
        );
        // The threads of a process, until it exits: then not answered, and closed.
        let task = format!("/proc/{pid}/task");
        let mut dir = open_dir(&task);
        list(&mut dir).unwrap();
        kept.keep_dir(Root::Proc, &task, dir, Anchor::Path);
        let threads = kept.list(Root::Proc, &task, Anchor::Path).unwrap();
        assert_eq!(threads.len(), 1);
        assert_eq!(threads[0].name, pid);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(kept.list(Root::Proc, &task, Anchor::Path).is_none());
        assert_eq!(kept.len(), 1);
    }

    #[test]
    fn an_exited_process_is_not_answered_from_its_kept_file() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let path = format!("{}/stat", child.id());
        let mut kept = KeptFiles::new(10, Budget::of(10));
        let (file, len) = open(&format!("/proc/{path}"));
        kept.keep(Root::Proc, &path, file, Anchor::Path, len);
        assert!(kept.read(Root::Proc, &path, Anchor::Path, 4096).is_some());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(kept.read(Root::Proc, &path, Anchor::Path, 4096).is_none());
        assert_eq!(kept.len(), 0);
    }
}
