//! Plugin API 0.1.x: the world `plugin` of `sonde:collector@0.1.2`, which components built by
//! every 0.1.x SDK satisfy (wasmtime links 0.1.0 and 0.1.1 imports to it by semver). Its
//! `collect` returns records; the 0.1.2 SDK's `collector-encoded` export, which this world does
//! not include, is looked up by [`crate::wasm::plugin`].
//!
//! The `host` interface is implemented here, once: 0.2's delegates to it.

use super::PluginState;

use self::sonde::collector::types as wit;
use super::{LOG_LINE_MAX, escape_control};
use crate::sandbox::system;
use sonde_sdk::{Capability, FsError, Root};

wasmtime::component::bindgen!({
    path: "../wit/since_v0.1.2",
    world: "plugin",
});

fn root(r: wit::Root) -> Root {
    match r {
        wit::Root::Proc => Root::Proc,
        wit::Root::Sys => Root::Sys,
        wit::Root::Rootfs => Root::Rootfs,
    }
}

/// Converts the SDK's error to the WIT one.
pub(crate) fn fs_error(e: FsError) -> wit::FsError {
    match e {
        FsError::NotFound => wit::FsError::NotFound,
        FsError::PermissionDenied => wit::FsError::PermissionDenied,
        FsError::NotGranted => wit::FsError::NotGranted,
        FsError::EscapesRoot => wit::FsError::EscapesRoot,
        FsError::TooLarge => wit::FsError::TooLarge,
        FsError::TimedOut => wit::FsError::TimedOut,
        FsError::Other(m) => wit::FsError::Other(m),
    }
}

fn entry_kind(kind: sonde_sdk::EntryKind) -> wit::EntryKind {
    match kind {
        sonde_sdk::EntryKind::File => wit::EntryKind::File,
        sonde_sdk::EntryKind::Dir => wit::EntryKind::Dir,
        sonde_sdk::EntryKind::Symlink => wit::EntryKind::Symlink,
        sonde_sdk::EntryKind::Other => wit::EntryKind::Other,
    }
}

impl wit::Host for PluginState {}

impl sonde::collector::host::Host for PluginState {
    fn read_file(&mut self, r: wit::Root, path: String) -> Result<Vec<u8>, wit::FsError> {
        let r = root(r);
        self.check_root(r, &path).map_err(fs_error)?;
        let result = self.sandbox.read_file_kept(r, &path, &mut self.kept);
        self.observe(r, &path, result).map_err(fs_error)
    }

    fn read_files(
        &mut self,
        r: wit::Root,
        paths: Vec<String>,
    ) -> Vec<Result<Vec<u8>, wit::FsError>> {
        let r = root(r);
        let granted: Vec<bool> = paths
            .iter()
            .map(|path| self.check_root(r, path).is_ok())
            .collect();
        let allowed: Vec<&str> = paths
            .iter()
            .zip(&granted)
            .filter(|(_, granted)| **granted)
            .map(|(path, _)| path.as_str())
            .collect();
        let mut reads = self
            .sandbox
            .read_files(r, &allowed, &mut self.kept)
            .into_iter();
        let mut results = Vec::with_capacity(paths.len());
        for (path, granted) in paths.iter().zip(granted) {
            let result = match granted {
                true => reads.next().expect("the sandbox answers every path"),
                false => Err(FsError::NotGranted),
            };
            results.push(self.observe(r, path, result).map_err(fs_error));
        }
        results
    }

    fn read_dir(&mut self, r: wit::Root, path: String) -> Result<Vec<wit::DirEntry>, wit::FsError> {
        let r = root(r);
        self.check_root(r, &path).map_err(fs_error)?;
        let result = self.sandbox.read_dir_kept(r, &path, &mut self.kept);
        let entries = self.observe(r, &path, result).map_err(fs_error)?;
        Ok(entries
            .into_iter()
            .map(|e| wit::DirEntry {
                name: e.name,
                kind: entry_kind(e.kind),
            })
            .collect())
    }

    fn read_link(&mut self, r: wit::Root, path: String) -> Result<String, wit::FsError> {
        let r = root(r);
        self.check_root(r, &path).map_err(fs_error)?;
        let result = self.sandbox.read_link(r, &path);
        self.observe(r, &path, result).map_err(fs_error)
    }

    fn modified(&mut self, r: wit::Root, path: String) -> Result<f64, wit::FsError> {
        let r = root(r);
        self.check_root(r, &path).map_err(fs_error)?;
        let result = self.sandbox.modified(r, &path);
        self.observe(r, &path, result).map_err(fs_error)
    }

    fn statfs(&mut self, mount_point: String) -> Result<wit::FsStats, wit::FsError> {
        self.check_capability(Capability::Statfs)
            .map_err(fs_error)?;
        let sandbox = &self.sandbox;
        let Some(kind) = self
            .mount_table
            .get_or_insert_with(|| sandbox.mount_table())
            .get(&mount_point)
            .copied()
        else {
            return Err(fs_error(self.refuse(
                FsError::NotGranted,
                "statfs (not in the mount table)",
                &mount_point,
            )));
        };
        let result = self.sandbox.statfs(&mount_point, kind);
        let s = self
            .observe(Root::Rootfs, &mount_point, result)
            .map_err(fs_error)?;
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
        let u = system::uname();
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
        self.check_capability(Capability::Timex).map_err(fs_error)?;
        let x = system::timex().map_err(fs_error)?;
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
        let c = system::clock();
        wit::ClockInfo {
            unix_seconds: c.unix_seconds,
            zone_name: c.zone_name,
            zone_offset_seconds: c.zone_offset_seconds,
        }
    }

    fn log(&mut self, level: wit::Level, message: String) {
        if matches!(level, wit::Level::Warn | wit::Level::Error) {
            self.warnings = self.warnings.saturating_add(1);
        }
        if self.log_lines_left == 0 || self.log_bytes_left == 0 {
            self.dropped_log_lines += 1;
            return;
        }
        self.log_lines_left -= 1;
        let mut message = escape_control(&message).into_owned();
        let max = LOG_LINE_MAX.min(self.log_bytes_left);
        if message.len() > max {
            let mut cut = max;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        self.log_bytes_left = self.log_bytes_left.saturating_sub(message.len());
        let plugin = &*self.plugin;
        match level {
            wit::Level::Trace => tracing::trace!(plugin, "{message}"),
            wit::Level::Debug => tracing::debug!(plugin, "{message}"),
            wit::Level::Info => tracing::info!(plugin, "{message}"),
            wit::Level::Warn => tracing::warn!(plugin, "{message}"),
            wit::Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}
