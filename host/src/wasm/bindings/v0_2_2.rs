//! Plugin API 0.2.2: 0.2.1 and the `systemd` capability with `host.systemd-units`. The
//! capability enum grew a case, so its `types` are its own (a 0.2.1 component's `describe`
//! would not type-check against them, which is why 0.2.0 and 0.2.1 components keep their
//! [`super::v0_2`] bindings); its `host` converts to 0.1's and delegates, but for
//! `systemd-units`.

use super::PluginState;
use super::v0_1::sonde::collector::host::Host as HostV0_1;
use super::v0_1::sonde::collector::types as old;
use sonde_sdk::Capability;

wasmtime::component::bindgen!({
    path: "../wit/since_v0.2.2",
    world: "plugin",
});

use self::sonde::collector::types as wit;

impl wit::Host for PluginState {}

fn root(r: wit::Root) -> old::Root {
    match r {
        wit::Root::Proc => old::Root::Proc,
        wit::Root::Sys => old::Root::Sys,
        wit::Root::Rootfs => old::Root::Rootfs,
    }
}

fn fs_error(e: old::FsError) -> wit::FsError {
    match e {
        old::FsError::NotFound => wit::FsError::NotFound,
        old::FsError::PermissionDenied => wit::FsError::PermissionDenied,
        old::FsError::NotGranted => wit::FsError::NotGranted,
        old::FsError::EscapesRoot => wit::FsError::EscapesRoot,
        old::FsError::TooLarge => wit::FsError::TooLarge,
        old::FsError::TimedOut => wit::FsError::TimedOut,
        old::FsError::Other(m) => wit::FsError::Other(m),
    }
}

fn dir_entry(e: old::DirEntry) -> wit::DirEntry {
    wit::DirEntry {
        name: e.name,
        kind: match e.kind {
            old::EntryKind::File => wit::EntryKind::File,
            old::EntryKind::Dir => wit::EntryKind::Dir,
            old::EntryKind::Symlink => wit::EntryKind::Symlink,
            old::EntryKind::Other => wit::EntryKind::Other,
        },
    }
}

/// The plugin's capabilities in the SDK's terms.
pub(crate) fn capability(c: wit::Capability) -> Capability {
    match c {
        wit::Capability::Proc => Capability::Proc,
        wit::Capability::Sys => Capability::Sys,
        wit::Capability::Rootfs => Capability::Rootfs,
        wit::Capability::Statfs => Capability::Statfs,
        wit::Capability::Timex => Capability::Timex,
        wit::Capability::Systemd => Capability::Systemd,
    }
}

impl sonde::collector::host::Host for PluginState {
    fn read_file(&mut self, r: wit::Root, path: String) -> Result<Vec<u8>, wit::FsError> {
        HostV0_1::read_file(self, root(r), path).map_err(fs_error)
    }

    fn read_files(
        &mut self,
        r: wit::Root,
        paths: Vec<String>,
    ) -> Vec<Result<Vec<u8>, wit::FsError>> {
        HostV0_1::read_files(self, root(r), paths)
            .into_iter()
            .map(|r| r.map_err(fs_error))
            .collect()
    }

    fn read_dir(&mut self, r: wit::Root, path: String) -> Result<Vec<wit::DirEntry>, wit::FsError> {
        HostV0_1::read_dir(self, root(r), path)
            .map(|entries| entries.into_iter().map(dir_entry).collect())
            .map_err(fs_error)
    }

    fn read_link(&mut self, r: wit::Root, path: String) -> Result<String, wit::FsError> {
        HostV0_1::read_link(self, root(r), path).map_err(fs_error)
    }

    fn modified(&mut self, r: wit::Root, path: String) -> Result<f64, wit::FsError> {
        HostV0_1::modified(self, root(r), path).map_err(fs_error)
    }

    fn statfs(&mut self, mount_point: String) -> Result<wit::FsStats, wit::FsError> {
        let s = HostV0_1::statfs(self, mount_point).map_err(fs_error)?;
        Ok(wit::FsStats {
            block_size: s.block_size,
            blocks: s.blocks,
            blocks_free: s.blocks_free,
            blocks_available: s.blocks_available,
            files: s.files,
            files_free: s.files_free,
            read_only: s.read_only,
        })
    }

    fn uname(&mut self) -> wit::UnameInfo {
        let u = HostV0_1::uname(self);
        wit::UnameInfo {
            sysname: u.sysname,
            nodename: u.nodename,
            release: u.release,
            version: u.version,
            machine: u.machine,
            domainname: u.domainname,
        }
    }

    fn timex(&mut self) -> Result<wit::TimexInfo, wit::FsError> {
        let x = HostV0_1::timex(self).map_err(fs_error)?;
        Ok(wit::TimexInfo {
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

    fn clock(&mut self) -> wit::ClockInfo {
        let c = HostV0_1::clock(self);
        wit::ClockInfo {
            unix_seconds: c.unix_seconds,
            zone_name: c.zone_name,
            zone_offset_seconds: c.zone_offset_seconds,
        }
    }

    fn log(&mut self, level: wit::Level, message: String) {
        let level = match level {
            wit::Level::Trace => old::Level::Trace,
            wit::Level::Debug => old::Level::Debug,
            wit::Level::Info => old::Level::Info,
            wit::Level::Warn => old::Level::Warn,
            wit::Level::Error => old::Level::Error,
        };
        HostV0_1::log(self, level, message)
    }

    fn part_finished(&mut self, name: String, success: bool) {
        PluginState::part_finished(self, &name, success)
    }

    fn systemd_units(&mut self) -> Result<wit::SystemdState, wit::FsError> {
        self.check_capability(Capability::Systemd)
            .map_err(|e| fs_error(super::v0_1::fs_error(e)))?;
        let state = self
            .sandbox
            .systemd_units()
            .map_err(|e| fs_error(super::v0_1::fs_error(e)))?;
        Ok(wit::SystemdState {
            version: state.version,
            system_state: state.system_state,
            units: state
                .units
                .into_iter()
                .map(|u| wit::SystemdUnit {
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
