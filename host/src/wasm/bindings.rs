//! The host side of the `sonde:collector` WIT worlds: the generated bindings of each plugin API
//! version the host runs ([`v0_1`], [`v0_2`]) and the implementation of the `host` interface a
//! plugin imports, on each plugin's store state: written once, for 0.1, and delegated to by 0.2.

use crate::sandbox::grants::Grants;
use crate::sandbox::kept_files::KeptFiles;
use crate::sandbox::system;
use crate::sandbox::{MountKind, Sandbox};
use sonde_sdk::{Capability, FsError, Root};
use std::sync::Arc;
use wasmtime::StoreLimits;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

/// Plugin API 0.1.x: the world `plugin` of `sonde:collector@0.1.2`, which components built by
/// every 0.1.x SDK satisfy (wasmtime links 0.1.0 and 0.1.1 imports to it by semver). Its
/// `collect` returns records; the 0.1.2 SDK's `collector-encoded` export, which this world does
/// not include, is looked up by [`crate::wasm::plugin`].
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.2",
        world: "plugin",
    });
}

/// Plugin API 0.2.x: `configure` once per instance, then `collect` returns one encoded buffer.
/// Its `types` are 0.1's (the same definitions, so the same Rust types), and its `host`
/// interface delegates to 0.1's.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.2.0",
        world: "plugin",
        with: {
            "sonde:collector/types": super::v0_1::sonde::collector::types,
        },
    });
}

use self::v0_1::sonde::collector::host::Host as HostV0_1;
use self::v0_1::sonde::collector::types as wit;

/// How many log lines one plugin call may send before the rest are dropped (and counted).
const LOG_LINES_PER_CALL: u32 = 100;
/// How many bytes of log messages one plugin call may send (so one collection per interval:
/// a plugin logging at full rate writes at most this per interval).
const LOG_BYTES_PER_CALL: usize = 16 << 10;
/// Log messages are cut to this many bytes.
const LOG_LINE_MAX: usize = 1024;
/// How much of a plugin's stderr (where a Rust panic message goes) is kept. When a call leaves
/// it more than half full, the instance is replaced so a long-lived one never fills it.
const STDERR_CAPACITY: usize = 64 << 10;

/// The state of one plugin store: who the plugin is, what it may read, its limits.
pub struct PluginState {
    plugin: Arc<str>,
    sandbox: Arc<Sandbox>,
    grants: Arc<Grants>,
    pub(crate) limits: MemoryLimiter,
    wasi: WasiCtx,
    table: ResourceTable,
    stderr: MemoryOutputPipe,
    log_lines_left: u32,
    log_bytes_left: usize,
    /// Host calls refused this call because they tried to leave a root or were not granted.
    pub(crate) refused_calls: u32,
    /// Log lines dropped by the rate limit this call.
    pub(crate) dropped_log_lines: u32,
    /// Warnings and errors logged this call (dropped ones included): how a part of a plugin
    /// that failed while the rest collected shows.
    pub(crate) warnings: u32,
    /// The mount table, read at the first `statfs` of a call: only its mount points are
    /// answered, each on the thread its kind allows.
    mount_table: Option<Arc<std::collections::HashMap<String, MountKind>>>,
    /// The kernel files read in the last collection, kept open for the next.
    kept: KeptFiles,
}

impl PluginState {
    /// State of one instance of `plugin`: an empty WASI context (no preopens, env, args,
    /// network); stderr is kept (up to 64 KiB) to explain a trap, stdout is discarded; its memory
    /// grows within `limits` and the `budget` all plugins share; at most `kept_files` kernel
    /// files are kept open between calls.
    pub fn new(
        plugin: Arc<str>,
        sandbox: Arc<Sandbox>,
        grants: Arc<Grants>,
        limits: StoreLimits,
        budget: Arc<MemoryBudget>,
        kept_files: usize,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        PluginState {
            kept: sandbox.kept_files(kept_files),
            plugin,
            sandbox,
            grants,
            limits: MemoryLimiter {
                limits,
                budget,
                memory: 0,
            },
            wasi: WasiCtx::builder().stderr(stderr.clone()).build(),
            table: ResourceTable::new(),
            stderr,
            log_lines_left: LOG_LINES_PER_CALL,
            log_bytes_left: LOG_BYTES_PER_CALL,
            refused_calls: 0,
            dropped_log_lines: 0,
            warnings: 0,
            mount_table: None,
        }
    }

    /// Resets the per-call budgets and counters before a call on a reused instance, and closes
    /// the kept files the previous call did not read.
    pub(crate) fn begin_call(&mut self) {
        self.kept.begin_collection();
        self.log_lines_left = LOG_LINES_PER_CALL;
        self.log_bytes_left = LOG_BYTES_PER_CALL;
        self.refused_calls = 0;
        self.dropped_log_lines = 0;
        self.warnings = 0;
        self.mount_table = None;
    }

    /// How many kernel files the plugin keeps open.
    pub(crate) fn kept_files(&self) -> usize {
        self.kept.len()
    }

    /// True when the stderr buffer is more than half full.
    pub(crate) fn stderr_nearly_full(&self) -> bool {
        self.stderr.contents().len() > STDERR_CAPACITY / 2
    }

    /// What the plugin last wrote to stderr: the message of a Rust panic if there was one, else
    /// the last non-empty line.
    pub(crate) fn stderr_message(&self) -> Option<String> {
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if let Some(at) = lines.iter().rposition(|l| l.contains("panicked at")) {
            let message: Vec<&str> = lines[at + 1..]
                .iter()
                .copied()
                .take_while(|l| !l.starts_with("note:"))
                .collect();
            if !message.is_empty() {
                return Some(message.join(" "));
            }
        }
        lines.last().map(|l| (*l).to_owned())
    }

    fn check_root(&mut self, root: Root, path: &str) -> Result<(), FsError> {
        if self.grants.allows_path(root, path) {
            Ok(())
        } else {
            Err(self.refuse(FsError::NotGranted, root.name(), path))
        }
    }

    fn check_capability(&mut self, capability: Capability) -> Result<(), FsError> {
        if self.grants.has(capability) {
            Ok(())
        } else {
            Err(self.refuse(FsError::NotGranted, capability.name(), ""))
        }
    }

    /// Logs and counts a refused call, then returns its error.
    fn refuse(&mut self, error: FsError, what: &str, path: &str) -> FsError {
        self.refused_calls += 1;
        tracing::warn!(plugin = %self.plugin, root = what, path, %error, "refused a plugin's host call");
        error
    }

    /// Counts escape attempts among the results of sandbox calls.
    fn observe<T>(
        &mut self,
        root: Root,
        path: &str,
        result: Result<T, FsError>,
    ) -> Result<T, FsError> {
        match result {
            Err(FsError::EscapesRoot) => Err(self.refuse(FsError::EscapesRoot, root.name(), path)),
            other => other,
        }
    }
}

/// The linear memory all plugins' instances may hold together (`[global]
/// plugins_memory_limit`): each instance takes its growth from it and gives it back when it is
/// dropped, so no number of plugins can take the agent past its memory cap.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: std::sync::atomic::AtomicUsize,
    used: std::sync::atomic::AtomicUsize,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> MemoryBudget {
        MemoryBudget {
            limit: limit.into(),
            used: 0.into(),
        }
    }

    /// Changes the limit (a reload); instances above it keep what they have.
    pub fn set_limit(&self, limit: usize) {
        self.limit
            .store(limit, std::sync::atomic::Ordering::Relaxed);
    }

    /// Bytes all live instances hold.
    pub fn used(&self) -> usize {
        self.used.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn take(&self, bytes: usize) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let limit = self.limit.load(Relaxed);
        self.used
            .fetch_update(Relaxed, Relaxed, |used| {
                used.checked_add(bytes).filter(|total| *total <= limit)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        self.used
            .fetch_sub(bytes, std::sync::atomic::Ordering::Relaxed);
    }
}

/// `StoreLimits` and the shared [`MemoryBudget`], remembering how much linear memory the
/// instance has (given back to the budget when the instance is dropped).
pub struct MemoryLimiter {
    limits: StoreLimits,
    budget: Arc<MemoryBudget>,
    /// Bytes of linear memory the plugin has grown to.
    pub(crate) memory: usize,
}

impl Drop for MemoryLimiter {
    fn drop(&mut self) {
        self.budget.give_back(self.memory);
    }
}

/// The start of the message of a refused growth; [`crate::wasm::plugin`] classifies it as the
/// memory limit. (`StoreLimits`' own `trap_on_grow_failure` message starts the same.)
pub(crate) const GROWTH_REFUSED: &str = "forcing trap when growing memory";

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if !self.limits.memory_growing(current, desired, maximum)? {
            return Ok(false);
        }
        let more = desired.saturating_sub(self.memory);
        if !self.budget.take(more) {
            wasmtime::bail!(
                "{GROWTH_REFUSED} to {desired} bytes: all plugins together would hold more than plugins_memory_limit"
            );
        }
        self.memory += more;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

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

impl HostV0_1 for PluginState {
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

/// API 0.2's `host` is 0.1.2's, function for function.
impl v0_2::sonde::collector::host::Host for PluginState {
    fn read_file(&mut self, r: wit::Root, path: String) -> Result<Vec<u8>, wit::FsError> {
        HostV0_1::read_file(self, r, path)
    }

    fn read_files(
        &mut self,
        r: wit::Root,
        paths: Vec<String>,
    ) -> Vec<Result<Vec<u8>, wit::FsError>> {
        HostV0_1::read_files(self, r, paths)
    }

    fn read_dir(&mut self, r: wit::Root, path: String) -> Result<Vec<wit::DirEntry>, wit::FsError> {
        HostV0_1::read_dir(self, r, path)
    }

    fn read_link(&mut self, r: wit::Root, path: String) -> Result<String, wit::FsError> {
        HostV0_1::read_link(self, r, path)
    }

    fn modified(&mut self, r: wit::Root, path: String) -> Result<f64, wit::FsError> {
        HostV0_1::modified(self, r, path)
    }

    fn statfs(&mut self, mount_point: String) -> Result<wit::FsStats, wit::FsError> {
        HostV0_1::statfs(self, mount_point)
    }

    fn uname(&mut self) -> wit::UnameInfo {
        HostV0_1::uname(self)
    }

    fn timex(&mut self) -> Result<wit::TimexInfo, wit::FsError> {
        HostV0_1::timex(self)
    }

    fn clock(&mut self) -> wit::ClockInfo {
        HostV0_1::clock(self)
    }

    fn log(&mut self, level: wit::Level, message: String) {
        HostV0_1::log(self, level, message)
    }
}

/// Text from a plugin made safe for one log line: control characters (newlines, carriage
/// returns, terminal escapes) and the Unicode marks that reorder text are written as escapes, so
/// a plugin cannot print a line that looks like the agent's own.
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_forge_a_log_line() {
        assert_eq!(escape_control("plain text, ünïcode"), "plain text, ünïcode");
        assert_eq!(
            escape_control("ok\n ERROR sonde::agent: forged plugin=cpu\r\x1b[2K"),
            "ok\\n ERROR sonde::agent: forged plugin=cpu\\r\\u{1b}[2K"
        );
        assert_eq!(escape_control("abc\u{202e}def"), "abc\\u{202e}def");
    }
}
