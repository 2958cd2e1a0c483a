//! One collection cycle over a set of plugins, with node_exporter's per-collector self-metrics
//! (`node_scrape_collector_duration_seconds`, `node_scrape_collector_success`).

use crate::plugin::{CallError, Plugin};
use crate::remote_write::stats::now_ms;
use sonde_sdk::MetricFamily;
use std::time::Instant;

/// A plugin and the config JSON it is called with.
pub struct ScheduledPlugin {
    /// The loaded plugin.
    pub plugin: Plugin,
    /// Its config table as JSON.
    pub config_json: String,
}

/// The result of one cycle.
#[derive(Debug, Default)]
pub struct CycleOutput {
    /// When the cycle started, in milliseconds since the epoch: the samples' timestamp.
    pub timestamp_ms: i64,
    /// Each plugin's families, by plugin name (empty for a plugin that failed).
    pub plugins: Vec<(String, Vec<MetricFamily>)>,
    /// `node_scrape_collector_duration_seconds` and `node_scrape_collector_success`.
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
    let mut out = CycleOutput {
        timestamp_ms: now_ms(),
        ..CycleOutput::default()
    };
    let mut duration = MetricFamily::gauge(
        "node_scrape_collector_duration_seconds",
        "node_exporter: Duration of a collector scrape.",
    );
    let mut success = MetricFamily::gauge(
        "node_scrape_collector_success",
        "node_exporter: Whether a collector succeeded.",
    );
    for p in plugins {
        let started = Instant::now();
        let result = p.plugin.collect(&p.config_json);
        let elapsed = started.elapsed().as_secs_f64();
        let name = p.plugin.name();
        duration.sample(&[("collector", name)], elapsed);
        match result {
            Ok(families) => {
                success.sample(&[("collector", name)], 1.0);
                out.plugins.push((name.to_owned(), families));
            }
            Err(e) => {
                tracing::error!(plugin = name, error = %e, "collection failed");
                success.sample(&[("collector", name)], 0.0);
                out.plugins.push((name.to_owned(), Vec::new()));
                out.failures.push((name.to_owned(), e));
            }
        }
    }
    out.self_metrics = vec![duration, success];
    out
}
