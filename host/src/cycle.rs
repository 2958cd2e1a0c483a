//! One collection cycle over a set of plugins, with the self-metrics (node_exporter's
//! per-collector `node_scrape_collector_*` and sonde's `sonde_plugin_*`).

use crate::plugin::{CallError, Plugin};
use crate::remote_write::stats::now_ms;
use crate::stats::AgentStats;
use sonde_sdk::MetricFamily;
use std::time::Instant;

/// A plugin and the config JSON it is called with.
pub struct ScheduledPlugin {
    /// The loaded plugin (shared: the agent may give it new code while it runs).
    pub plugin: std::sync::Arc<Plugin>,
    /// Its config table as JSON.
    pub config_json: String,
    /// How often it collects (in the agent).
    pub interval: std::time::Duration,
}

/// The result of one cycle.
#[derive(Debug, Default)]
pub struct CycleOutput {
    /// When the cycle started, in milliseconds since the epoch: the samples' timestamp.
    pub timestamp_ms: i64,
    /// Each plugin's families, by plugin name (empty for a plugin that failed).
    pub plugins: Vec<(String, Vec<MetricFamily>)>,
    /// `node_scrape_collector_*` and `sonde_plugin_*` of this cycle.
    pub self_metrics: Vec<MetricFamily>,
    /// The plugins that failed, with why.
    pub failures: Vec<(String, CallError)>,
}

impl CycleOutput {
    /// Every family of the cycle, self-metrics included, moved out.
    pub fn into_families(self) -> Vec<MetricFamily> {
        let mut all: Vec<MetricFamily> = self.plugins.into_iter().flat_map(|(_, f)| f).collect();
        all.extend(self.self_metrics);
        all
    }
}

/// Runs every plugin once, in order. A failing plugin is reported and the others still run.
pub fn collect_once(plugins: &[ScheduledPlugin]) -> CycleOutput {
    let mut out = CycleOutput::default();
    collect_into(plugins, &mut out);
    out
}

/// [`collect_once`] into `out`, whose families from an earlier cycle each plugin's are decoded
/// over (as the agent's store does), reusing their strings and lists.
pub fn collect_into(plugins: &[ScheduledPlugin], out: &mut CycleOutput) {
    let stats = AgentStats::default();
    out.timestamp_ms = now_ms();
    out.failures.clear();
    out.plugins.resize_with(plugins.len(), Default::default);
    for (p, (name, families)) in plugins.iter().zip(&mut out.plugins) {
        let started = Instant::now();
        let result = p
            .plugin
            .call_collect(&p.config_json)
            .and_then(|collected| collected.decode_into(families));
        p.plugin.after_decode(&result);
        let elapsed = started.elapsed().as_secs_f64();
        name.clear();
        name.push_str(p.plugin.name());
        match result {
            Ok(()) => {
                let samples = families.iter().map(|f| f.samples.len()).sum();
                stats.record(name, elapsed, Ok(samples), p.plugin.counters());
            }
            Err(e) => {
                tracing::error!(plugin = %name, error = %crate::bindings::escape_control(&e.to_string()), "collection failed");
                stats.record(name, elapsed, Err(&e), p.plugin.counters());
                // A call that failed (a trap, a timeout) left the earlier cycle's families.
                families.clear();
                out.failures.push((name.clone(), e));
            }
        }
    }
    out.self_metrics = stats.families();
}
