//! The agent's self-metrics: node_exporter's per-collector `node_scrape_collector_*` and sonde's
//! own `sonde_*` (plugin failures by reason, memory, build info), exposed like any plugin.
//!
//! `node_scrape_collector_success` and `node_scrape_collector_duration_seconds` are reported
//! per part for a plugin that reports the collectors it bundles (plugin API 0.2.1,
//! `host.part-finished`): `collector="meminfo"`, `collector="vmstat"`, … as node_exporter
//! reports them; and once, `collector="<plugin>"`, for a plugin that reports none. A part is
//! successful when it said so and its plugin's collection succeeded: its metrics are exposed.
//! When a collection fails (a trap, a timeout, the memory cap, refused output, the plugin's
//! error), none of its metrics are, so every part of the plugin's last collection is reported
//! with success 0, under the same series an operator watches; the time from the last part that
//! finished to the end of the failed call is the duration of the part that was running then
//! (the first of the known parts that did not finish: a timed-out part shows its timeout). A
//! plugin that fails before any part is known reports `collector="<plugin>"` 0.
//!
//! Two plugins never report the same `collector`: plugins are taken in name order, and a later
//! one whose part (or own name) an earlier one took is reported as `<plugin>/<part>`; but a part
//! several built-in plugins share (node_exporter's `pressure`, whose files cpu, disk and mem each
//! read) is one collector, successful when every share succeeded, timed as their sum.

use crate::expose::CollectorSource;
use crate::wasm::plugin::{CallError, CallParts, Counters};
use sonde_sdk::MetricFamily;
use std::collections::{BTreeMap, HashSet};
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

/// One part's last figures.
#[derive(Debug, Clone, PartialEq)]
struct PartFigures {
    name: String,
    success: bool,
    duration: f64,
}

#[derive(Debug, Default, Clone)]
struct PluginFigures {
    /// The parts of the last collection; empty when the plugin reports none (then the plugin's
    /// own figures are reported).
    parts: Vec<PartFigures>,
    last_duration: f64,
    last_success: bool,
    cycles: u64,
    failures: BTreeMap<&'static str, u64>,
    samples: usize,
    counters: Counters,
    skipped: u64,
    backing_off: bool,
}

/// The parts to report after a failed collection: those of the previous collection, then any
/// new ones this one reported, all unsuccessful (none of the plugin's metrics are exposed);
/// each takes the time this call gave it, and the first that did not finish, the one that was
/// running, the time from the last part's end to the end of the call.
fn failed_parts(previous: &[PartFigures], call: CallParts) -> Vec<PartFigures> {
    let mut rest = Some(call.rest);
    let mut parts: Vec<PartFigures> = previous
        .iter()
        .map(|known| {
            let took = match call.finished.iter().find(|p| p.name == known.name) {
                Some(finished) => finished.duration,
                None => rest.take().unwrap_or_default(),
            };
            PartFigures {
                name: known.name.clone(),
                success: false,
                duration: took.as_secs_f64(),
            }
        })
        .collect();
    for finished in call.finished {
        if !previous.iter().any(|known| known.name == finished.name) {
            parts.push(PartFigures {
                name: finished.name,
                success: false,
                duration: finished.duration.as_secs_f64(),
            });
        }
    }
    parts
}

/// The `collector` label of `part` of `plugin` (its name, or the plugin's own name for a plugin
/// without parts), unless an earlier plugin took it: then `<plugin>/<part>`. `None` when that is
/// taken too (a plugin named with a `/`), so no two series are the same.
fn collector_label(taken: &mut HashSet<String>, plugin: &str, part: &str) -> Option<String> {
    [part.to_owned(), format!("{plugin}/{part}")]
        .into_iter()
        .find(|label| taken.insert(label.clone()))
}

/// One `collector` of `node_scrape_collector_*`: its figures and the parts it stands for.
struct Scrape {
    label: String,
    success: bool,
    duration: f64,
    /// (plugin, part): the part is `None` for a plugin that reports no parts.
    sources: Vec<(String, Option<String>)>,
}

/// node_exporter's collectors, each once, from every plugin's last figures: labels are given in
/// plugin name order ([`collector_label`]), and a part several built-ins share is merged.
fn scrapes(plugins: &BTreeMap<String, PluginFigures>) -> Vec<Scrape> {
    let mut collectors: HashSet<String> = HashSet::new();
    let mut scrapes: Vec<Scrape> = Vec::new();
    // The labels built-in parts took, which later built-in parts of that name join.
    let mut shared_parts: HashSet<String> = HashSet::new();
    for (name, f) in plugins {
        let own = [PartFigures {
            name: name.clone(),
            success: f.last_success,
            duration: f.last_duration,
        }];
        let parts = if f.parts.is_empty() {
            &own[..]
        } else {
            &f.parts[..]
        };
        let built_in = crate::wasm::builtin::is_builtin(name);
        for part in parts {
            let source = (
                name.clone(),
                (!f.parts.is_empty()).then(|| part.name.clone()),
            );
            // A node_exporter collector the built-ins share (pressure: cpu, mem and disk each
            // read its files) is one collector, as in node_exporter.
            let shared = built_in && !f.parts.is_empty();
            if shared
                && shared_parts.contains(&part.name)
                && let Some(merged) = scrapes.iter_mut().find(|s| s.label == part.name)
            {
                merged.success &= part.success;
                merged.duration += part.duration;
                merged.sources.push(source);
                continue;
            }
            let Some(label) = collector_label(&mut collectors, name, &part.name) else {
                continue;
            };
            if shared && label == part.name {
                shared_parts.insert(part.name.clone());
            }
            scrapes.push(Scrape {
                label,
                success: part.success,
                duration: part.duration,
                sources: vec![source],
            });
        }
    }
    scrapes
}

/// Figures of every plugin, updated after each of its cycles.
#[derive(Debug, Default)]
pub struct AgentStats {
    plugins: Mutex<BTreeMap<String, PluginFigures>>,
}

impl AgentStats {
    /// Records a cycle of `plugin`: how long it took, how many samples it returned or why it
    /// failed, its counters afterwards, and the parts it reported ([`Plugin::take_parts`]).
    ///
    /// [`Plugin::take_parts`]: crate::wasm::plugin::Plugin::take_parts
    pub fn record(
        &self,
        plugin: &str,
        seconds: f64,
        result: Result<usize, &CallError>,
        counters: Counters,
        parts: CallParts,
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
                figures.parts = parts
                    .finished
                    .into_iter()
                    .map(|p| PartFigures {
                        name: p.name,
                        success: p.success,
                        duration: p.duration.as_secs_f64(),
                    })
                    .collect();
            }
            Err(error) => {
                figures.last_success = false;
                *figures.failures.entry(failure_reason(error)).or_default() += 1;
                figures.parts = failed_parts(&figures.parts, parts);
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

    /// The collectors `node_scrape_collector_*` reports now, each with the plugin part (or the
    /// plugin) it stands for: a part several built-ins share is one label with several sources.
    pub fn collectors(&self) -> Vec<CollectorSource> {
        let plugins = self.plugins.lock().unwrap_or_else(|e| e.into_inner());
        scrapes(&plugins)
            .into_iter()
            .flat_map(|scrape| {
                let label = scrape.label;
                scrape
                    .sources
                    .into_iter()
                    .map(move |(plugin, part)| CollectorSource {
                        label: label.clone(),
                        plugin,
                        part,
                    })
            })
            .collect()
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
            "Host calls of a plugin that were refused: paths leaving a root, ungranted roots or capabilities, statfs outside the mount table, part reports with a bad name or past 64 a collection.",
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
            "Warnings and errors a plugin logged: a part of a bundled plugin that failed while the others collected, kernel lines skipped.",
        );
        for (name, f) in &plugins {
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
        for scrape in scrapes(&plugins) {
            let collector = [("collector", scrape.label.as_str())];
            duration.sample(&collector, scrape.duration);
            success.sample(&collector, if scrape.success { 1.0 } else { 0.0 });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wasm::plugin::PartReport;
    use std::time::Duration;

    fn parts(list: &[(&str, bool, u64)], rest_ms: u64) -> CallParts {
        CallParts {
            finished: list
                .iter()
                .map(|&(name, success, ms)| PartReport {
                    name: name.to_owned(),
                    success,
                    duration: Duration::from_millis(ms),
                })
                .collect(),
            rest: Duration::from_millis(rest_ms),
        }
    }

    /// The `node_scrape_collector_*` lines of the exposition.
    fn scrape_lines(stats: &AgentStats) -> Vec<String> {
        let mut families = stats.families();
        sonde_sdk::exposition::normalize(&mut families);
        sonde_sdk::exposition::render(&families)
            .lines()
            .filter(|l| l.starts_with("node_scrape_collector_"))
            .map(str::to_owned)
            .collect()
    }

    fn ok(stats: &AgentStats, plugin: &str, seconds: f64, call: CallParts) {
        stats.record(plugin, seconds, Ok(1), Counters::default(), call);
    }

    #[test]
    fn plugins_that_report_parts_are_reported_per_part() {
        let stats = AgentStats::default();
        ok(
            &stats,
            "mem",
            0.5,
            parts(&[("meminfo", true, 100), ("vmstat", false, 250)], 1),
        );
        ok(&stats, "textfile", 0.25, CallParts::default());
        assert_eq!(
            scrape_lines(&stats),
            [
                "node_scrape_collector_duration_seconds{collector=\"meminfo\"} 0.1",
                "node_scrape_collector_duration_seconds{collector=\"textfile\"} 0.25",
                "node_scrape_collector_duration_seconds{collector=\"vmstat\"} 0.25",
                "node_scrape_collector_success{collector=\"meminfo\"} 1",
                "node_scrape_collector_success{collector=\"textfile\"} 1",
                "node_scrape_collector_success{collector=\"vmstat\"} 0",
            ]
        );
    }

    #[test]
    fn a_failed_collection_fails_every_known_part_and_times_the_running_one() {
        let stats = AgentStats::default();
        let trap = CallError::Trap("unreachable".into());
        let timeout = CallError::Timeout(Duration::from_secs(5));
        // Failing before any part is known: the plugin's own series.
        stats.record("mem", 0.3, Err(&trap), Counters::default(), parts(&[], 300));
        assert_eq!(
            scrape_lines(&stats),
            [
                "node_scrape_collector_duration_seconds{collector=\"mem\"} 0.3",
                "node_scrape_collector_success{collector=\"mem\"} 0",
            ]
        );
        let three = [
            ("meminfo", true, 100),
            ("vmstat", true, 200),
            ("pressure", true, 300),
        ];
        ok(&stats, "mem", 0.6, parts(&three, 0));
        // Timed out in vmstat: meminfo took 100 ms and succeeded, but none of mem's metrics are
        // exposed; vmstat ran for the rest of the call; pressure never ran.
        stats.record(
            "mem",
            5.0,
            Err(&timeout),
            Counters::default(),
            parts(&[("meminfo", true, 100)], 4900),
        );
        assert_eq!(
            scrape_lines(&stats),
            [
                "node_scrape_collector_duration_seconds{collector=\"meminfo\"} 0.1",
                "node_scrape_collector_duration_seconds{collector=\"pressure\"} 0",
                "node_scrape_collector_duration_seconds{collector=\"vmstat\"} 4.9",
                "node_scrape_collector_success{collector=\"meminfo\"} 0",
                "node_scrape_collector_success{collector=\"pressure\"} 0",
                "node_scrape_collector_success{collector=\"vmstat\"} 0",
            ]
        );
        // Failing again keeps the parts; a success reports what it reported.
        stats.record("mem", 0.1, Err(&trap), Counters::default(), parts(&[], 100));
        assert_eq!(scrape_lines(&stats).len(), 6);
        ok(&stats, "mem", 0.1, parts(&[("meminfo", true, 100)], 0));
        assert_eq!(
            scrape_lines(&stats),
            [
                "node_scrape_collector_duration_seconds{collector=\"meminfo\"} 0.1",
                "node_scrape_collector_success{collector=\"meminfo\"} 1",
            ]
        );
    }

    #[test]
    fn two_plugins_never_report_the_same_collector() {
        let stats = AgentStats::default();
        ok(
            &stats,
            "alpha",
            0.1,
            parts(&[("alpha", true, 1), ("pressure", true, 2)], 0),
        );
        ok(&stats, "beta", 0.1, parts(&[("pressure", false, 3)], 0));
        ok(
            &stats,
            "gamma",
            0.1,
            parts(&[("pressure", true, 4), ("beta", true, 5)], 0),
        );
        // A plugin without parts whose name an earlier plugin's part took.
        ok(&stats, "meminfo", 0.1, CallParts::default());
        ok(&stats, "aaa", 0.1, parts(&[("meminfo", true, 6)], 0));
        let lines = scrape_lines(&stats);
        let success: Vec<&str> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("node_scrape_collector_success"))
            .collect();
        assert_eq!(
            success,
            [
                "{collector=\"alpha\"} 1",
                "{collector=\"beta\"} 1",
                "{collector=\"beta/pressure\"} 0",
                "{collector=\"gamma/pressure\"} 1",
                "{collector=\"meminfo\"} 1",
                "{collector=\"meminfo/meminfo\"} 1",
                "{collector=\"pressure\"} 1",
            ]
        );
        assert!(lines.contains(
            &"node_scrape_collector_duration_seconds{collector=\"meminfo\"} 0.006".to_owned()
        ));
        let mut families = stats.families();
        sonde_sdk::exposition::normalize(&mut families);
        sonde_wire::validate::validate(&families).unwrap();
    }

    #[test]
    fn a_collector_the_built_ins_share_is_one_series() {
        // node_exporter's pressure collector: cpu, disk and mem each read its files.
        let stats = AgentStats::default();
        ok(
            &stats,
            "cpu",
            0.1,
            parts(&[("cpu", true, 1), ("pressure", true, 2)], 0),
        );
        ok(&stats, "disk", 0.1, parts(&[("pressure", false, 3)], 0));
        ok(&stats, "mem", 0.1, parts(&[("pressure", true, 4)], 0));
        // A third-party plugin's part of that name is not merged into it.
        ok(&stats, "zzz", 0.1, parts(&[("pressure", true, 5)], 0));
        let lines = scrape_lines(&stats);
        for line in [
            "node_scrape_collector_success{collector=\"pressure\"} 0",
            "node_scrape_collector_duration_seconds{collector=\"pressure\"} 0.009000000000000001",
            "node_scrape_collector_success{collector=\"zzz/pressure\"} 1",
        ] {
            assert!(lines.contains(&line.to_owned()), "{line}: {lines:?}");
        }
        assert_eq!(lines.len(), 6, "{lines:?}");
        // What `collect[]` selects: each label with the parts it stands for.
        ok(&stats, "textfile", 0.1, CallParts::default());
        let source = |label: &str, plugin: &str, part: Option<&str>| CollectorSource {
            label: label.to_owned(),
            plugin: plugin.to_owned(),
            part: part.map(str::to_owned),
        };
        assert_eq!(
            stats.collectors(),
            [
                source("cpu", "cpu", Some("cpu")),
                source("pressure", "cpu", Some("pressure")),
                source("pressure", "disk", Some("pressure")),
                source("pressure", "mem", Some("pressure")),
                source("textfile", "textfile", None),
                source("zzz/pressure", "zzz", Some("pressure")),
            ]
        );
    }
}
