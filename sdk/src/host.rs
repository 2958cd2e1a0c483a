//! [`Host`]: everything a collector may ask of the machine it runs on.
//!
//! Inside a WebAssembly component every call goes to the sonde host through the
//! `sonde:collector/host` interface, which resolves paths inside the granted roots only. In a
//! native `cargo test` the same calls are served from a fixture directory (see
//! [`crate::testing`]), so collector code is the same in both.

use std::fmt;

/// A filesystem tree a collector can read from, relative paths only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Root {
    /// procfs (`/proc` by default).
    Proc,
    /// sysfs (`/sys` by default).
    Sys,
    /// the host's root filesystem (`/` by default), for `/etc/os-release`, mount points, …
    Rootfs,
}

impl Root {
    /// All roots, in declaration order.
    pub const ALL: [Root; 3] = [Root::Proc, Root::Sys, Root::Rootfs];

    /// The root's name in configs and messages: `proc`, `sys`, `rootfs`.
    pub fn name(self) -> &'static str {
        match self {
            Root::Proc => "proc",
            Root::Sys => "sys",
            Root::Rootfs => "rootfs",
        }
    }

    /// The capability that grants read access to this root.
    pub fn capability(self) -> Capability {
        match self {
            Root::Proc => Capability::Proc,
            Root::Sys => Capability::Sys,
            Root::Rootfs => Capability::Rootfs,
        }
    }
}

/// Something a plugin needs and the operator grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// read access to the `proc` root.
    Proc,
    /// read access to the `sys` root.
    Sys,
    /// read access to the `rootfs` root.
    Rootfs,
    /// `statfs` of mount points.
    Statfs,
    /// `adjtimex`, read only.
    Timex,
    /// systemd's units and manager state, read by the host from the system bus
    /// ([`Host::systemd_units`]; plugin API 0.2.2).
    Systemd,
}

impl Capability {
    /// All capabilities, in declaration order.
    pub const ALL: [Capability; 6] = [
        Capability::Proc,
        Capability::Sys,
        Capability::Rootfs,
        Capability::Statfs,
        Capability::Timex,
        Capability::Systemd,
    ];

    /// The capability's name in configs and messages.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Proc => "proc",
            Capability::Sys => "sys",
            Capability::Rootfs => "rootfs",
            Capability::Statfs => "statfs",
            Capability::Timex => "timex",
            Capability::Systemd => "systemd",
        }
    }

    /// Parses a capability name as written in a config (`proc`, `sys`, …).
    pub fn from_name(name: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a host call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsError {
    /// The path does not exist.
    NotFound,
    /// The host may not read the path.
    PermissionDenied,
    /// The plugin was not granted this root, path or capability.
    NotGranted,
    /// The path would leave its root.
    EscapesRoot,
    /// The file is larger than the host's read cap.
    TooLarge,
    /// The call did not finish within the host's time limit.
    TimedOut,
    /// Any other I/O error.
    Other(String),
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsError::NotFound => f.write_str("not found"),
            FsError::PermissionDenied => f.write_str("permission denied"),
            FsError::NotGranted => f.write_str("not granted to this plugin"),
            FsError::EscapesRoot => f.write_str("path leaves its root"),
            FsError::TooLarge => f.write_str("file larger than the read cap"),
            FsError::TimedOut => f.write_str("timed out"),
            FsError::Other(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for FsError {}

/// The kind of a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (not followed).
    Symlink,
    /// Anything else (FIFO, socket, device).
    Other,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The file name.
    pub name: String,
    /// What it is.
    pub kind: EntryKind,
}

/// What `statfs(2)` reports for a mount point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FsStats {
    /// Fundamental block size in bytes.
    pub block_size: u64,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub blocks_free: u64,
    /// Free blocks available to unprivileged users.
    pub blocks_available: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub files_free: u64,
    /// Mounted read-only.
    pub read_only: bool,
}

/// What `uname(2)` reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Uname {
    /// e.g. `Linux`.
    pub sysname: String,
    /// The host name.
    pub nodename: String,
    /// Kernel release, e.g. `6.1.0-18-amd64`.
    pub release: String,
    /// Kernel version string.
    pub version: String,
    /// Hardware, e.g. `x86_64`.
    pub machine: String,
    /// NIS domain name, `(none)` when unset.
    pub domainname: String,
}

/// The kernel clock state from `adjtimex(2)`, in the kernel's units.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timex {
    pub state: i32,
    pub offset: i64,
    pub freq: i64,
    pub maxerror: i64,
    pub esterror: i64,
    pub status: i32,
    pub constant: i64,
    pub precision: i64,
    pub tolerance: i64,
    pub tick: i64,
    pub ppsfreq: i64,
    pub jitter: i64,
    pub shift: i32,
    pub stabil: i64,
    pub jitcnt: i64,
    pub calcnt: i64,
    pub errcnt: i64,
    pub stbcnt: i64,
    pub tai: i32,
    /// `offset` and `jitter` are in nanoseconds (else microseconds).
    pub nano: bool,
}

/// The wall clock and the local time zone.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Clock {
    /// Seconds since the Unix epoch.
    pub unix_seconds: f64,
    /// Abbreviation of the local time zone, e.g. `UTC`.
    pub zone_name: String,
    /// Offset of the local time zone from UTC, in seconds.
    pub zone_offset_seconds: i32,
}

/// One systemd unit as the manager lists it, with the figures of its type (see
/// [`Host::systemd_units`]). A figure is `None` when the unit is not of that type, is not
/// `loaded`, or the manager lacks the property (an older systemd).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemdUnit {
    /// The unit's name, e.g. `ssh.service`.
    pub name: String,
    /// `loaded`, `not-found`, `masked`, …
    pub load_state: String,
    /// `active`, `activating`, `deactivating`, `inactive`, `failed`, …
    pub active_state: String,
    /// The type-specific state, e.g. `running`, `exited`, `listening`.
    pub sub_state: String,
    /// A service's `Type` (`simple`, `oneshot`, …) or a mount's filesystem type; empty otherwise.
    pub unit_type: String,
    /// `ActiveEnterTimestamp`, microseconds since the Unix epoch.
    pub active_enter_timestamp_usec: Option<u64>,
    /// A service's `NRestarts`.
    pub restarts: Option<u32>,
    /// A service's `TasksCurrent` (`u64::MAX` when not accounted).
    pub tasks_current: Option<u64>,
    /// A service's `TasksMax` (`u64::MAX` when unlimited).
    pub tasks_max: Option<u64>,
    /// A socket's `NAccepted`.
    pub socket_accepted: Option<u32>,
    /// A socket's `NConnections`.
    pub socket_connections: Option<u32>,
    /// A socket's `NRefused`.
    pub socket_refused: Option<u32>,
    /// A timer's `LastTriggerUSec`, microseconds since the Unix epoch.
    pub timer_last_trigger_usec: Option<u64>,
}

/// What the systemd manager reports (see [`Host::systemd_units`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemdState {
    /// The manager's `Version`, e.g. `252.22-1~deb12u1` (empty when unreadable).
    pub version: String,
    /// The manager's `SystemState`: `running`, `degraded`, … (empty when unreadable).
    pub system_state: String,
    /// Every unit the manager lists.
    pub units: Vec<SystemdUnit>,
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Very detailed.
    Trace,
    /// For debugging.
    Debug,
    /// Normal operation.
    Info,
    /// Something is off but collection goes on.
    Warn,
    /// Something failed.
    Error,
}

/// The machine as a collector sees it: the granted roots and a few system calls.
///
/// Get one from the `collect` hook of [`crate::Collector`]; in tests, from
/// [`crate::testing::Fixture`].
pub struct Host {
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fixture: crate::testing::Fixture,
    #[cfg(target_arch = "wasm32")]
    pub(crate) _private: (),
}

impl Host {
    /// Reads a whole file under `root`, e.g. `host.read(Root::Proc, "stat")`.
    pub fn read(&self, root: Root, path: &str) -> Result<Vec<u8>, FsError> {
        self.backend_read(root, path)
    }

    /// Reads a whole file as UTF-8 (invalid bytes are replaced).
    pub fn read_to_string(&self, root: Root, path: &str) -> Result<String, FsError> {
        let bytes = self.read(root, path)?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Reads several files under `root` in one host call (cheaper than one call each). The host
    /// opens a directory once for consecutive paths in it and reads each file relative to it, so
    /// list the files of one directory together (see `sonde_procfs::sysfs::read_attrs`).
    pub fn read_many<S: AsRef<str>>(
        &self,
        root: Root,
        paths: &[S],
    ) -> Vec<Result<Vec<u8>, FsError>> {
        self.backend_read_many(root, paths)
    }

    /// Lists a directory under `root`, sorted by name.
    pub fn read_dir(&self, root: Root, path: &str) -> Result<Vec<DirEntry>, FsError> {
        let mut entries = self.backend_read_dir(root, path)?;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// Reads the target of a symlink under `root`, unresolved.
    pub fn read_link(&self, root: Root, path: &str) -> Result<String, FsError> {
        self.backend_read_link(root, path)
    }

    /// The last modification time of a file under `root` (a symlink followed within the root),
    /// in seconds since the Unix epoch with the fraction: `st_mtime` of `stat(2)`. Plugin API
    /// 0.1.1 and later.
    pub fn modified(&self, root: Root, path: &str) -> Result<f64, FsError> {
        self.backend_modified(root, path)
    }

    /// `statfs(2)` of an absolute mount point (as listed in the rootfs' mount table).
    pub fn statfs(&self, mount_point: &str) -> Result<FsStats, FsError> {
        self.backend_statfs(mount_point)
    }

    /// `uname(2)` of the machine.
    pub fn uname(&self) -> Uname {
        self.backend_uname()
    }

    /// `adjtimex(2)` of the machine, read only.
    pub fn timex(&self) -> Result<Timex, FsError> {
        self.backend_timex()
    }

    /// The wall clock and local time zone.
    pub fn clock(&self) -> Clock {
        self.backend_clock()
    }

    /// Sends a line to the host's log, attributed to this plugin.
    pub fn log(&self, level: Level, message: &str) {
        self.backend_log(level, message)
    }

    /// Reports that the part `name` of this collection finished, successfully or not: a plugin
    /// that bundles several collectors calls it as each finishes ([`crate::bundle::Bundle::run`]
    /// does), and the agent reports `node_scrape_collector_success` and
    /// `node_scrape_collector_duration_seconds` with `collector="<name>"` per part, as
    /// node_exporter does per collector, instead of once for the plugin. The agent times a part
    /// from the start of the collection or the previous part's end. Use node_exporter's
    /// collector name (`meminfo`, `vmstat`): 1 to 64 ASCII letters, digits, `_`, `-` or `.`;
    /// the agent refuses (and counts) other names and more than 64 parts per collection, and
    /// merges a part reported twice. Plugin API 0.2.1 and later.
    pub fn part_finished(&self, name: &str, success: bool) {
        self.backend_part_finished(name, success)
    }

    /// systemd's units and manager state (needs [`Capability::Systemd`]). The agent reads them
    /// from the system bus itself, once per collection cycle for all plugins that ask, with a
    /// deadline: a hung bus answers [`FsError::TimedOut`] after it, a host without a bus or
    /// without systemd answers [`FsError::NotFound`] or [`FsError::Other`] with the bus's
    /// message. The plugin never talks to the bus. Plugin API 0.2.2 and later.
    pub fn systemd_units(&self) -> Result<SystemdState, FsError> {
        self.backend_systemd_units()
    }
}

#[cfg(target_arch = "wasm32")]
mod guest {
    use super::*;
    use crate::__bindings::sonde::collector::host as wit;
    use crate::__bindings::sonde::collector::types as t;

    fn root(r: Root) -> t::Root {
        match r {
            Root::Proc => t::Root::Proc,
            Root::Sys => t::Root::Sys,
            Root::Rootfs => t::Root::Rootfs,
        }
    }

    fn err(e: t::FsError) -> FsError {
        match e {
            t::FsError::NotFound => FsError::NotFound,
            t::FsError::PermissionDenied => FsError::PermissionDenied,
            t::FsError::NotGranted => FsError::NotGranted,
            t::FsError::EscapesRoot => FsError::EscapesRoot,
            t::FsError::TooLarge => FsError::TooLarge,
            t::FsError::TimedOut => FsError::TimedOut,
            t::FsError::Other(m) => FsError::Other(m),
        }
    }

    impl Host {
        pub(crate) fn backend_read(&self, r: Root, path: &str) -> Result<Vec<u8>, FsError> {
            wit::read_file(root(r), path).map_err(err)
        }

        pub(crate) fn backend_read_many<S: AsRef<str>>(
            &self,
            r: Root,
            paths: &[S],
        ) -> Vec<Result<Vec<u8>, FsError>> {
            let paths: Vec<String> = paths.iter().map(|p| p.as_ref().to_owned()).collect();
            wit::read_files(root(r), &paths)
                .into_iter()
                .map(|r| r.map_err(err))
                .collect()
        }

        pub(crate) fn backend_read_dir(
            &self,
            r: Root,
            path: &str,
        ) -> Result<Vec<DirEntry>, FsError> {
            let entries = wit::read_dir(root(r), path).map_err(err)?;
            Ok(entries
                .into_iter()
                .map(|e| DirEntry {
                    name: e.name,
                    kind: match e.kind {
                        t::EntryKind::File => EntryKind::File,
                        t::EntryKind::Dir => EntryKind::Dir,
                        t::EntryKind::Symlink => EntryKind::Symlink,
                        t::EntryKind::Other => EntryKind::Other,
                    },
                })
                .collect())
        }

        pub(crate) fn backend_read_link(&self, r: Root, path: &str) -> Result<String, FsError> {
            wit::read_link(root(r), path).map_err(err)
        }

        pub(crate) fn backend_modified(&self, r: Root, path: &str) -> Result<f64, FsError> {
            wit::modified(root(r), path).map_err(err)
        }

        pub(crate) fn backend_statfs(&self, mount_point: &str) -> Result<FsStats, FsError> {
            let s = wit::statfs(mount_point).map_err(err)?;
            Ok(FsStats {
                block_size: s.block_size,
                blocks: s.blocks,
                blocks_free: s.blocks_free,
                blocks_available: s.blocks_available,
                files: s.files,
                files_free: s.files_free,
                read_only: s.read_only,
            })
        }

        pub(crate) fn backend_uname(&self) -> Uname {
            let u = wit::uname();
            Uname {
                sysname: u.sysname,
                nodename: u.nodename,
                release: u.release,
                version: u.version,
                machine: u.machine,
                domainname: u.domainname,
            }
        }

        pub(crate) fn backend_timex(&self) -> Result<Timex, FsError> {
            let x = wit::timex().map_err(err)?;
            Ok(Timex {
                state: x.state,
                offset: x.offset,
                freq: x.freq,
                maxerror: x.maxerror,
                esterror: x.esterror,
                status: x.status,
                constant: x.constant,
                precision: x.precision,
                tolerance: x.tolerance,
                tick: x.tick,
                ppsfreq: x.ppsfreq,
                jitter: x.jitter,
                shift: x.shift,
                stabil: x.stabil,
                jitcnt: x.jitcnt,
                calcnt: x.calcnt,
                errcnt: x.errcnt,
                stbcnt: x.stbcnt,
                tai: x.tai,
                nano: x.nano,
            })
        }

        pub(crate) fn backend_clock(&self) -> Clock {
            let c = wit::clock();
            Clock {
                unix_seconds: c.unix_seconds,
                zone_name: c.zone_name,
                zone_offset_seconds: c.zone_offset_seconds,
            }
        }

        pub(crate) fn backend_log(&self, level: Level, message: &str) {
            let level = match level {
                Level::Trace => t::Level::Trace,
                Level::Debug => t::Level::Debug,
                Level::Info => t::Level::Info,
                Level::Warn => t::Level::Warn,
                Level::Error => t::Level::Error,
            };
            wit::log(level, message)
        }

        pub(crate) fn backend_part_finished(&self, name: &str, success: bool) {
            wit::part_finished(name, success)
        }

        pub(crate) fn backend_systemd_units(&self) -> Result<SystemdState, FsError> {
            let s = wit::systemd_units().map_err(err)?;
            Ok(SystemdState {
                version: s.version,
                system_state: s.system_state,
                units: s
                    .units
                    .into_iter()
                    .map(|u| SystemdUnit {
                        name: u.name,
                        load_state: u.load_state,
                        active_state: u.active_state,
                        sub_state: u.sub_state,
                        unit_type: u.unit_type,
                        active_enter_timestamp_usec: u.active_enter_timestamp_usec,
                        restarts: u.restarts,
                        tasks_current: u.tasks_current,
                        tasks_max: u.tasks_max,
                        socket_accepted: u.socket_accepted,
                        socket_connections: u.socket_connections,
                        socket_refused: u.socket_refused,
                        timer_last_trigger_usec: u.timer_last_trigger_usec,
                    })
                    .collect(),
            })
        }
    }
}

/// Seconds since the Unix epoch of `time` (negative before it), as [`Host::modified`] answers.
pub fn unix_seconds(time: std::time::SystemTime) -> f64 {
    match time.duration_since(std::time::UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}
