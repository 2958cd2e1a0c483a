//! The agent's self-metrics: node_exporter's per-collector `node_scrape_collector_*` and sonde's
//! own `sonde_*` (plugin failures by reason, memory, build info), exposed like any plugin.

use crate::wasm::plugin::{CallError, Counters};
use sonde_sdk::MetricFamily;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Why a plugin's cycle failed, as the `reason` label.
pub fn failure_reason(error: &CallError) -> &'static str {
    match error {
        CallError::Timeout(_) => "timeout",
        CallError::MemoryLimit(_) => "memory_limit",
        CallError::Trap(_) => "trap",
        CallError::Failed(_) => "error",
        CallError::InvalidOutput(_) => "invalid_output",
        CallError::SampleLimit { .. } => "sample_limit",
    }
}

#[derive(Debug, Default, Clone)]
struct PluginFigures {
    last_duration: f64,
    last_success: bool,
    cycles: u64,
    failures: BTreeMap<&'static str, u64>,
    samples: usize,
    counters: Counters,
    skipped: u64,
    backing_off: bool,
}

/// Figures of every plugin, updated after each of its cycles.
#[derive(Debug, Default)]
pub struct AgentStats {
    plugins: Mutex<BTreeMap<String, PluginFigures>>,
}

impl AgentStats {
    /// Records a cycle of `plugin`: how long it took, how many samples it returned or why it
    /// failed, and its counters afterwards.
    pub fn record(
        &self,
        plugin: &str,
        seconds: f64,
        result: Result<usize, &CallError>,
        counters: Counters,
    ) {
        let mut plugins = self.plugins.lock().unwrap_or_else(|e| e.into_inner());
        let figures = plugins.entry(plugin.to_owned()).or_default();
        figures.last_duration = seconds;
        figures.cycles += 1;
        figures.counters = counters;
        match result {
            Ok(samples) => {
                figures.last_success = true;
                figures.samples = samples;
            }
            Err(error) => {
                figures.last_success = false;
                *figures.failures.entry(failure_reason(error)).or_default() += 1;
            }
        }
    }

    /// A cycle of `plugin` skipped while it backs off ([`crate::agent::backoff`]).
    pub fn skipped(&self, plugin: &str) {
        let mut plugins = self.plugins.lock().unwrap_or_else(|e| e.into_inner());
        plugins.entry(plugin.to_owned()).or_default().skipped += 1;
    }

    /// Whether `plugin`'s attempts are spaced out after repeated failures.
    pub fn set_backing_off(&self, plugin: &str, backing_off: bool) {
        let mut plugins = self.plugins.lock().unwrap_or_else(|e| e.into_inner());
        plugins.entry(plugin.to_owned()).or_default().backing_off = backing_off;
    }

    /// Forgets plugins that are no longer configured (after a reload).
    pub fn retain(&self, plugins: &[String]) {
        let mut figures = self.plugins.lock().unwrap_or_else(|e| e.into_inner());
        figures.retain(|name, _| plugins.contains(name));
    }

    /// The self-metric families.
    pub fn families(&self) -> Vec<MetricFamily> {
        let plugins = self
            .plugins
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut duration = MetricFamily::gauge(
            "node_scrape_collector_duration_seconds",
            "node_exporter: Duration of a collector scrape.",
        );
        let mut success = MetricFamily::gauge(
            "node_scrape_collector_success",
            "node_exporter: Whether a collector succeeded.",
        );
        let mut cycles = MetricFamily::counter(
            "sonde_plugin_cycles_total",
            "Collections a plugin ran, successful or not.",
        );
        let mut failures = MetricFamily::counter(
            "sonde_plugin_failures_total",
            "Collections that failed, by reason: trap, timeout, memory_limit, error, invalid_output, sample_limit.",
        );
        let mut samples = MetricFamily::gauge(
            "sonde_plugin_samples",
            "Samples a plugin returned in its last successful collection.",
        );
        let mut memory = MetricFamily::gauge(
            "sonde_plugin_memory_bytes",
            "Linear memory of a plugin's instance after its last collection.",
        );
        let mut kept_files = MetricFamily::gauge(
            "sonde_plugin_kept_files",
            "Kernel files (procfs, sysfs) a plugin's reads keep open between its collections.",
        );
        let mut refused = MetricFamily::counter(
            "sonde_plugin_refused_host_calls_total",
            "Host calls of a plugin that were refused: paths leaving a root, ungranted roots or capabilities, statfs outside the mount table.",
        );
        let mut skipped = MetricFamily::counter(
            "sonde_plugin_skipped_cycles_total",
            "Cycles a plugin skipped while backing off after failing every cycle.",
        );
        let mut backing_off = MetricFamily::gauge(
            "sonde_plugin_backing_off",
            "Whether a plugin's attempts are spaced out after repeated failures of one kind (1) or it collects on its schedule (0).",
        );
        let mut dropped_logs = MetricFamily::counter(
            "sonde_plugin_dropped_log_lines_total",
            "Log lines of a plugin dropped by the limits of 100 lines and 16 KiB per collection.",
        );
        let mut warnings = MetricFamily::counter(
            "sonde_plugin_warnings_total",
            "Warnings and errors a plugin logged: a part of a bundled plugin that failed while the others collected (node_scrape_collector_success stays 1), kernel lines skipped.",
        );
        for (name, f) in &plugins {
            let plugin = [("collector", name.as_str())];
            duration.sample(&plugin, f.last_duration);
            success.sample(&plugin, if f.last_success { 1.0 } else { 0.0 });
            cycles.sample(&[("plugin", name)], f.cycles as f64);
            samples.sample(&[("plugin", name)], f.samples as f64);
            memory.sample(&[("plugin", name)], f.counters.memory as f64);
            kept_files.sample(&[("plugin", name)], f.counters.kept_files as f64);
            refused.sample(&[("plugin", name)], f.counters.refused_host_calls as f64);
            dropped_logs.sample(&[("plugin", name)], f.counters.dropped_log_lines as f64);
            warnings.sample(&[("plugin", name)], f.counters.warnings as f64);
            skipped.sample(&[("plugin", name)], f.skipped as f64);
            backing_off.sample(&[("plugin", name)], f64::from(u8::from(f.backing_off)));
            for reason in [
                "trap",
                "timeout",
                "memory_limit",
                "error",
                "invalid_output",
                "sample_limit",
            ] {
                let n = f.failures.get(reason).copied().unwrap_or(0);
                failures.sample(&[("plugin", name), ("reason", reason)], n as f64);
            }
        }
        let build = MetricFamily::gauge(
            "sonde_build_info",
            "A metric with a constant '1' value labeled by version and the WebAssembly runtime.",
        )
        .with_sample(
            &[("version", env!("CARGO_PKG_VERSION")), ("wasmtime", "48")],
            1.0,
        );
        vec![
            duration,
            success,
            cycles,
            failures,
            samples,
            memory,
            kept_files,
            refused,
            dropped_logs,
            warnings,
            skipped,
            backing_off,
            build,
        ]
    }
}
