//! The host side of the `sonde:collector` WIT worlds: one module per plugin API version the host
//! runs ([`v0_1`], [`v0_2`]: its generated bindings and its `host` interface, implemented once
//! in 0.1's and delegated to by 0.2's), and each plugin's store state they work on.

use crate::sandbox::grants::Grants;
use crate::sandbox::kept_files::KeptFiles;
use crate::sandbox::{MountKind, Sandbox};
use sonde_sdk::{Capability, FsError, Root};
use std::sync::Arc;
use wasmtime::StoreLimits;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

pub mod v0_1;
pub mod v0_2;

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
