//! One collection cycle over a set of plugins, with node_exporter's per-collector self-metrics
//! (`node_scrape_collector_duration_seconds`, `node_scrape_collector_success`).

use crate::plugin::{CallError, Plugin};
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
    /// Every family the plugins returned, plus the self-metrics.
    pub families: Vec<MetricFamily>,
    /// The plugins that failed, with why.
    pub failures: Vec<(String, CallError)>,
}

/// Runs every plugin once, in order. A failing plugin is reported and the others still run.
pub fn collect_once(plugins: &[ScheduledPlugin]) -> CycleOutput {
    let mut out = CycleOutput::default();
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
                out.families.extend(families);
            }
            Err(e) => {
                tracing::error!(plugin = name, error = %e, "collection failed");
                success.sample(&[("collector", name)], 0.0);
                out.failures.push((name.to_owned(), e));
            }
        }
    }
    out.families.push(duration);
    out.families.push(success);
    out
}
