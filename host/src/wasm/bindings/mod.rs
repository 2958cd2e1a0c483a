//! The host side of the `sonde:collector` WIT worlds: one module per plugin API version the host
//! runs ([`v0_1`], [`v0_2`], [`v0_2_2`]: its generated bindings and its `host` interface,
//! implemented once in 0.1's and delegated to by 0.2's), and each plugin's store state they work on.

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
pub mod v0_2_2;

/// How many log lines one plugin call may send before the rest are dropped (and counted).
const LOG_LINES_PER_CALL: u32 = 100;
/// How many bytes of log messages one plugin call may send (so one collection per interval:
/// a plugin logging at full rate writes at most this per interval).
const LOG_BYTES_PER_CALL: usize = 16 << 10;
/// Log messages are cut to this many bytes.
const LOG_LINE_MAX: usize = 1024;
/// The most parts ([`PartReport`]) one collection may report; further reports are refused.
pub const MAX_PARTS: usize = 64;
/// The longest part name, in bytes.
pub const PART_NAME_MAX: usize = 64;
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
    /// Part reports refused this call (a bad name, too many parts): counted with the refused
    /// calls, but logged once per instance rather than after every call.
    pub(crate) refused_parts: u32,
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
    /// The parts the current call reported finished (`host.part-finished`, API 0.2.1), in the
    /// order they first finished.
    parts: Vec<PartReport>,
    /// When the current part started: the start of the collection or the previous part's end.
    part_started: std::time::Instant,
    /// When the current call's time is up ([`crate::wasm::runtime::ActiveCall::deadline`]):
    /// what the store compares with when the epoch advances.
    pub(crate) call_deadline: u64,
    /// Whether a refused part report was logged already (once per instance: a plugin that
    /// reports a bad name every cycle is counted every cycle but logged once).
    part_refusal_logged: bool,
}

/// A part of a collection as the plugin reported it (`host.part-finished`): one of the
/// collectors it bundles, how long it took and whether it succeeded.
#[derive(Debug, Clone, PartialEq)]
pub struct PartReport {
    /// Its name (checked by [`valid_part_name`]).
    pub name: String,
    /// Whether it succeeded (every report of it, when it was reported more than once).
    pub success: bool,
    /// From the start of the collection or the previous part's end to its report (summed over
    /// its reports).
    pub duration: std::time::Duration,
}

/// The parts one collection reported, and how long the call ran after the last of them
/// finished: in a call that trapped or timed out, the time of the part that was running.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallParts {
    /// The parts reported, in the order they first finished.
    pub finished: Vec<PartReport>,
    /// From the last part's end (or the start of the collection) to the end of the call.
    pub rest: std::time::Duration,
}

/// Whether `name` may be a part's name, the `collector` label of its
/// `node_scrape_collector_*` series: 1 to [`PART_NAME_MAX`] ASCII letters, digits, `_`, `-`
/// or `.` (node_exporter's collector names are lowercase letters, digits and `_`). Never a
/// `/`, so the host's `<plugin>/<part>` (for a part two plugins report) names no other part.
pub fn valid_part_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= PART_NAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
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
            refused_parts: 0,
            dropped_log_lines: 0,
            warnings: 0,
            mount_table: None,
            parts: Vec::new(),
            part_started: std::time::Instant::now(),
            part_refusal_logged: false,
            call_deadline: u64::MAX,
        }
    }

    /// Resets the per-call budgets and counters before a call on a reused instance, and closes
    /// the kept files the previous call did not read.
    pub(crate) fn begin_call(&mut self) {
        self.kept.begin_collection();
        self.log_lines_left = LOG_LINES_PER_CALL;
        self.log_bytes_left = LOG_BYTES_PER_CALL;
        self.refused_calls = 0;
        self.refused_parts = 0;
        self.dropped_log_lines = 0;
        self.warnings = 0;
        self.mount_table = None;
        self.start_parts();
    }

    /// Forgets the parts reported so far and starts timing the first part now: at the start of
    /// a call, and after a `configure` (whose time is no part's).
    pub(crate) fn start_parts(&mut self) {
        self.parts.clear();
        self.part_started = std::time::Instant::now();
    }

    /// The parts this call reported, and the time since the last one finished.
    pub(crate) fn take_parts(&mut self) -> CallParts {
        CallParts {
            finished: std::mem::take(&mut self.parts),
            rest: self.part_started.elapsed(),
        }
    }

    /// `host.part-finished`: records the part `name` as finished, timed from the previous
    /// part's end. A repeated name is merged into its first report; a name that is not
    /// [`valid_part_name`], or a new part beyond [`MAX_PARTS`], is refused and counted (and the
    /// first refusal of the instance logged).
    pub(crate) fn part_finished(&mut self, name: &str, success: bool) {
        let now = std::time::Instant::now();
        let duration = now.saturating_duration_since(self.part_started);
        if let Some(part) = self.parts.iter_mut().find(|p| p.name == name) {
            part.success &= success;
            part.duration += duration;
            self.part_started = now;
            return;
        }
        let problem = if !valid_part_name(name) {
            "the name is not 1 to 64 ASCII letters, digits, _, - or ."
        } else if self.parts.len() >= MAX_PARTS {
            "more than 64 parts in one collection"
        } else {
            self.parts.push(PartReport {
                name: name.to_owned(),
                success,
                duration,
            });
            self.part_started = now;
            return;
        };
        self.refused_parts = self.refused_parts.saturating_add(1);
        if !std::mem::replace(&mut self.part_refusal_logged, true) {
            let shown: String = name.chars().take(PART_NAME_MAX).collect();
            tracing::warn!(plugin = %self.plugin, part = %escape_control(&shown), problem, "refused a plugin's part report (further ones of this instance are only counted)");
        }
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

    fn state() -> PluginState {
        let sandbox = Arc::new(Sandbox::open(crate::sandbox::RootPaths::default(), 1 << 20));
        PluginState::new(
            "mem".into(),
            sandbox,
            Arc::new(Grants::default()),
            wasmtime::StoreLimitsBuilder::new().build(),
            Arc::new(MemoryBudget::new(1 << 20)),
            0,
        )
    }

    #[test]
    fn part_names_are_collector_names() {
        let (longest, too_long) = ("a".repeat(PART_NAME_MAX), "a".repeat(PART_NAME_MAX + 1));
        for good in ["meminfo", "udp_queues", "Mem-1.x", longest.as_str()] {
            assert!(valid_part_name(good), "{good}");
        }
        for bad in [
            "",
            "mem/meminfo",
            "thermal throttle, isolated",
            "a\nb",
            "x\u{202e}",
            "ünï",
            "x\"} 1\nforged 1",
            too_long.as_str(),
        ] {
            assert!(!valid_part_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn parts_are_timed_merged_and_bounded() {
        let mut state = state();
        state.begin_call();
        std::thread::sleep(std::time::Duration::from_millis(20));
        state.part_finished("meminfo", true);
        state.part_finished("vmstat", false);
        state.part_finished("meminfo", false);
        state.part_finished("bad name", true);
        let parts = state.take_parts();
        let names: Vec<(&str, bool)> = parts
            .finished
            .iter()
            .map(|p| (p.name.as_str(), p.success))
            .collect();
        // A repeated part is merged into its first report; a bad name is refused and counted.
        assert_eq!(names, [("meminfo", false), ("vmstat", false)]);
        assert!(parts.finished[0].duration >= std::time::Duration::from_millis(20));
        assert!(parts.finished[1].duration < parts.finished[0].duration);
        assert_eq!(state.refused_parts, 1);

        // A flood: 64 parts count, the rest are refused; the next call starts afresh.
        state.begin_call();
        assert_eq!(state.refused_parts, 0);
        for i in 0..10_000 {
            state.part_finished(&format!("p{i}"), true);
        }
        assert_eq!(state.take_parts().finished.len(), MAX_PARTS);
        assert_eq!(state.refused_parts, 10_000 - MAX_PARTS as u32);
        state.begin_call();
        assert!(state.take_parts().finished.is_empty());
    }

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
