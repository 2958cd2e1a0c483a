//! The system calls plugins reach through host functions, because WASI has no equivalent:
//! `statfs` (with a timeout, as a dead NFS mount blocks forever), `uname`, `adjtimex` and the
//! local time zone.

use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use sonde_sdk::{Clock, FsError, FsStats, Timex, Uname};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// How long one `statfs` may take before the host answers `timed-out`.
pub const STATFS_TIMEOUT: Duration = Duration::from_secs(5);

/// `statfs(2)` of `mount_point` (absolute, as in the mount table) below `rootfs`. With a
/// `timeout`, on a helper thread so a hung mount (a dead NFS server) cannot block the caller
/// past it; without one (a mount that cannot block), on the caller's thread.
///
/// The helper thread itself may stay blocked in the kernel. Such a mount is remembered as stuck,
/// as node_exporter does: until its pending call returns, further calls answer `timed-out` at
/// once instead of piling up blocked threads.
///
/// The mount point is opened (`O_PATH`) through `rootfs_dir` with cap-std's rules, so a symlink
/// on the way cannot lead outside the rootfs (`escapes-root`), then `fstatfs`ed.
pub fn statfs(
    rootfs_dir: &Arc<Dir>,
    rootfs: &Path,
    mount_point: &str,
    timeout: Option<Duration>,
) -> Result<FsStats, FsError> {
    let path = below_rootfs(rootfs, mount_point)?;
    let relative: PathBuf = Path::new(mount_point)
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    let dir = rootfs_dir.clone();
    let call = move |_: &Path| {
        let target = if relative.as_os_str().is_empty() {
            dir.open_with(".", &path_only())
        } else {
            dir.open_with(&relative, &path_only())
        }
        .map_err(crate::sandbox::fs_error)?;
        rustix::fs::fstatfs(&target).map_err(|e| crate::sandbox::fs_error(e.into()))
    };
    match timeout {
        Some(timeout) => statfs_with(path, timeout, call),
        None => call(&path).map(fs_stats),
    }
}

/// statfs(2)'s figures, not statvfs's: node_exporter multiplies the block counts by `f_bsize`.
fn fs_stats(s: rustix::fs::StatFs) -> FsStats {
    FsStats {
        block_size: s.f_bsize as u64,
        blocks: s.f_blocks,
        blocks_free: s.f_bfree,
        blocks_available: s.f_bavail,
        files: s.f_files,
        files_free: s.f_ffree,
        read_only: s.f_flags as u64 & libc::ST_RDONLY != 0,
    }
}

/// Open options for an `O_PATH` descriptor: enough for `fstatfs`, never reads or blocks on
/// the file itself.
fn path_only() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true).custom_flags(libc::O_PATH);
    options
}

type StatFsResult = Result<rustix::fs::StatFs, FsError>;

type Job = Box<dyn FnOnce() + Send>;

/// The thread that runs `statfs` calls, one after another, so a cycle does not start a thread
/// per mount. When a call hangs, the worker is abandoned (it stays blocked in the kernel) and
/// the next call starts a new one.
static STATFS_WORKER: Mutex<Option<mpsc::Sender<Job>>> = Mutex::new(None);

fn submit(job: Job) -> Result<(), FsError> {
    let mut worker = STATFS_WORKER.lock().unwrap_or_else(|e| e.into_inner());
    let job = match worker.as_ref() {
        Some(sender) => match sender.send(job) {
            Ok(()) => return Ok(()),
            Err(mpsc::SendError(job)) => job,
        },
        None => job,
    };
    let (sender, receiver) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("sonde-statfs".into())
        .spawn(move || {
            for job in receiver {
                job();
            }
        })
        .map_err(|e| FsError::Other(format!("cannot start the statfs thread: {e}")))?;
    sender
        .send(job)
        .map_err(|_| FsError::Other("the statfs thread ended".into()))?;
    *worker = Some(sender);
    Ok(())
}

/// Mount points whose `statfs` timed out, with a flag the blocked call sets when it returns.
static STUCK_MOUNTS: Mutex<Vec<(PathBuf, Arc<AtomicBool>)>> = Mutex::new(Vec::new());

fn statfs_with(
    path: PathBuf,
    timeout: Duration,
    call: impl FnOnce(&Path) -> StatFsResult + Send + 'static,
) -> Result<FsStats, FsError> {
    {
        let mut stuck = STUCK_MOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        stuck.retain(|(_, returned)| !returned.load(Ordering::Acquire));
        if stuck.iter().any(|(p, _)| *p == path) {
            return Err(FsError::TimedOut);
        }
    }
    let returned = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::sync_channel(1);
    let (job_path, job_returned) = (path.clone(), returned.clone());
    submit(Box::new(move || {
        let result = call(&job_path);
        job_returned.store(true, Ordering::Release);
        let _ = tx.send(result);
    }))?;
    match rx.recv_timeout(timeout) {
        Ok(Ok(s)) => Ok(fs_stats(s)),
        Ok(Err(error)) => Err(error),
        Err(_) => {
            // The worker is blocked in the kernel: let it be, the next call starts a new one.
            STATFS_WORKER
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            tracing::warn!(mount_point = %path.display(), ?timeout, "statfs timed out; treating the mount as stuck until it answers");
            STUCK_MOUNTS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((path, returned));
            Err(FsError::TimedOut)
        }
    }
}

/// Joins an absolute mount point onto the rootfs directory, refusing `..`.
fn below_rootfs(rootfs: &Path, mount_point: &str) -> Result<PathBuf, FsError> {
    let mut path = rootfs.to_path_buf();
    for component in Path::new(mount_point).components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(c) => path.push(c),
            Component::ParentDir | Component::Prefix(_) => return Err(FsError::EscapesRoot),
        }
    }
    Ok(path)
}

/// `uname(2)`.
pub fn uname() -> Uname {
    let u = rustix::system::uname();
    let s = |c: &std::ffi::CStr| c.to_string_lossy().into_owned();
    Uname {
        sysname: s(u.sysname()),
        nodename: s(u.nodename()),
        release: s(u.release()),
        version: s(u.version()),
        machine: s(u.machine()),
        domainname: s(u.domainname()),
    }
}

/// `adjtimex(2)` with no modes set: reads the kernel clock state, changes nothing.
pub fn timex() -> Result<Timex, FsError> {
    // SAFETY: `timex` is plain old data; zeroed `modes` makes the call read-only.
    let mut t: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: `t` is a valid, exclusively borrowed `timex`.
    let state = unsafe { libc::adjtimex(&mut t) };
    if state < 0 {
        return Err(FsError::Other(std::io::Error::last_os_error().to_string()));
    }
    Ok(Timex {
        state,
        offset: t.offset,
        freq: t.freq,
        maxerror: t.maxerror,
        esterror: t.esterror,
        status: t.status,
        constant: t.constant,
        precision: t.precision,
        tolerance: t.tolerance,
        tick: t.tick,
        ppsfreq: t.ppsfreq,
        jitter: t.jitter,
        shift: t.shift,
        stabil: t.stabil,
        jitcnt: t.jitcnt,
        calcnt: t.calcnt,
        errcnt: t.errcnt,
        stbcnt: t.stbcnt,
        tai: t.tai,
        nano: t.status & libc::STA_NANO != 0,
    })
}

/// The wall clock and the local time zone (from `TZ` or `/etc/localtime`, via libc).
pub fn clock() -> Clock {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // libc deprecates its musl `time_t` alias ahead of musl 1.2's 64-bit time_t; it is still
    // the type `localtime_r` takes.
    #[allow(deprecated)]
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: `tm` is plain old data filled by `localtime_r`; `tm_zone` points to static storage.
    let (zone_name, offset) = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() || tm.tm_zone.is_null() {
            ("UTC".to_owned(), 0)
        } else {
            let name = std::ffi::CStr::from_ptr(tm.tm_zone)
                .to_string_lossy()
                .into_owned();
            (name, tm.tm_gmtoff as i32)
        }
    };
    Clock {
        unix_seconds: now.as_secs_f64(),
        zone_name,
        zone_offset_seconds: offset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &str) -> Arc<Dir> {
        Arc::new(Dir::open_ambient_dir(path, cap_std::ambient_authority()).unwrap())
    }

    fn errno(e: rustix::io::Errno) -> FsError {
        crate::sandbox::fs_error(e.into())
    }

    #[test]
    fn statfs_of_root_and_refusals() {
        // The same answers on the statfs thread (with a timeout) and on the caller's.
        for timeout in [Some(STATFS_TIMEOUT), None] {
            let root = open("/");
            let s = statfs(&root, Path::new("/"), "/", timeout).unwrap();
            assert!(s.blocks > 0 && s.block_size > 0);
            assert_eq!(
                statfs(&root, Path::new("/"), "/no/such/mount", timeout),
                Err(FsError::NotFound)
            );
            let tmp = open("/tmp");
            assert_eq!(
                statfs(&tmp, Path::new("/tmp"), "/../etc", timeout),
                Err(FsError::EscapesRoot)
            );
        }
    }

    #[test]
    fn statfs_does_not_follow_symlinks_out_of_the_rootfs() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/", dir.path().join("host-root")).unwrap();
        std::os::unix::fs::symlink("../../../../..", dir.path().join("up")).unwrap();
        std::fs::create_dir(dir.path().join("mnt")).unwrap();
        let root = open(dir.path().to_str().unwrap());
        for timeout in [Some(STATFS_TIMEOUT), None] {
            for mount in ["/host-root", "/up"] {
                assert_eq!(
                    statfs(&root, dir.path(), mount, timeout),
                    Err(FsError::EscapesRoot),
                    "{mount}"
                );
            }
            assert!(statfs(&root, dir.path(), "/mnt", timeout).is_ok());
        }
    }

    #[test]
    fn a_stuck_mount_times_out_once_then_answers_at_once_until_it_returns() {
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let path = PathBuf::from("/test/stuck-nfs");
        let started = std::time::Instant::now();
        let hung = statfs_with(path.clone(), Duration::from_millis(50), move |p| {
            let _ = release_rx.recv();
            rustix::fs::statfs(p).map_err(errno)
        });
        assert_eq!(hung, Err(FsError::TimedOut));
        assert!(started.elapsed() < Duration::from_secs(2));
        // While the first call is blocked, no new thread is started: the answer is immediate.
        let again = statfs_with(path.clone(), Duration::from_secs(10), |_| unreachable!());
        assert_eq!(again, Err(FsError::TimedOut));
        // Once the blocked call returns, the mount is asked again.
        release_tx.send(()).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            match statfs_with(path.clone(), Duration::from_secs(5), |p| {
                rustix::fs::statfs(p).map_err(errno)
            }) {
                Err(FsError::TimedOut) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                other => {
                    assert_eq!(other, Err(FsError::NotFound));
                    break;
                }
            }
        }
    }

    #[test]
    fn uname_and_clock_answer() {
        assert_eq!(uname().sysname, "Linux");
        assert!(clock().unix_seconds > 1.7e9);
        assert!(timex().is_ok());
    }
}
