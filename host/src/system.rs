//! The system calls plugins reach through host functions, because WASI has no equivalent:
//! `statfs` (with a timeout, as a dead NFS mount blocks forever), `uname`, `adjtimex` and the
//! local time zone.

use sonde_sdk::{Clock, FsError, FsStats, Timex, Uname};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// How long one `statfs` may take before the host answers `timed-out`.
pub const STATFS_TIMEOUT: Duration = Duration::from_secs(5);

/// `statfs(2)` of `mount_point` (absolute, as in the mount table) below `rootfs`, on a helper
/// thread so a hung mount cannot block the caller past `timeout`. The thread itself may stay
/// blocked in the kernel; it holds nothing else.
pub fn statfs(rootfs: &Path, mount_point: &str, timeout: Duration) -> Result<FsStats, FsError> {
    let path = below_rootfs(rootfs, mount_point)?;
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("sonde-statfs".into())
        .spawn(move || {
            let _ = tx.send(rustix::fs::statvfs(&path));
        })
        .map_err(|e| FsError::Other(format!("cannot start statfs thread: {e}")))?;
    match rx.recv_timeout(timeout) {
        Ok(Ok(s)) => Ok(FsStats {
            block_size: s.f_frsize,
            blocks: s.f_blocks,
            blocks_free: s.f_bfree,
            blocks_available: s.f_bavail,
            files: s.f_files,
            files_free: s.f_ffree,
            read_only: s.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY),
        }),
        Ok(Err(errno)) => Err(match errno {
            rustix::io::Errno::NOENT => FsError::NotFound,
            rustix::io::Errno::ACCESS | rustix::io::Errno::PERM => FsError::PermissionDenied,
            e => FsError::Other(e.to_string()),
        }),
        Err(_) => Err(FsError::TimedOut),
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

    #[test]
    fn statfs_of_root_and_refusals() {
        let s = statfs(Path::new("/"), "/", STATFS_TIMEOUT).unwrap();
        assert!(s.blocks > 0 && s.block_size > 0);
        assert_eq!(
            statfs(Path::new("/"), "/no/such/mount", STATFS_TIMEOUT),
            Err(FsError::NotFound)
        );
        assert_eq!(
            statfs(Path::new("/tmp"), "/../etc", STATFS_TIMEOUT),
            Err(FsError::EscapesRoot)
        );
    }

    #[test]
    fn uname_and_clock_answer() {
        assert_eq!(uname().sysname, "Linux");
        assert!(clock().unix_seconds > 1.7e9);
        assert!(timex().is_ok());
    }
}
