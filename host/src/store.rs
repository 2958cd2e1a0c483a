//! The latest values: each plugin's families from its last successful cycle (a failed cycle
//! removes them, as node_exporter shows nothing for a failed collector), plus the self-metrics,
//! rendered for `/metrics`.

use crate::stats::AgentStats;
use sonde_sdk::MetricFamily;
use sonde_sdk::exposition::{normalize, render_family};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// A source of self-metrics rendered on demand (a remote-write queue's counters).
pub type MetricsSource = Arc<dyn Fn() -> Vec<MetricFamily> + Send + Sync>;

/// The families of the last cycle of every plugin.
pub struct LatestValues {
    plugins: RwLock<BTreeMap<String, Latest>>,
    stats: Arc<AgentStats>,
    /// Extra self-metrics sources (remote-write queues), rendered on demand.
    extra: RwLock<Vec<MetricsSource>>,
}

impl LatestValues {
    /// An empty store reporting `stats` as self-metrics.
    pub fn new(stats: Arc<AgentStats>) -> Self {
        LatestValues {
            plugins: RwLock::new(BTreeMap::new()),
            stats,
            extra: RwLock::new(Vec::new()),
        }
    }

    /// Replaces `plugin`'s families and returns those replaced (for
    /// [`crate::plugin::Plugin::recycle`]). They are sorted as exposed when first rendered, not
    /// here: an agent that only remote-writes is never scraped.
    pub fn update(&self, plugin: &str, mut families: Vec<MetricFamily>) -> Vec<MetricFamily> {
        families.retain(|f| !f.is_empty());
        let latest = Latest {
            families,
            sorted: false,
        };
        let mut plugins = self.plugins.write().unwrap_or_else(|e| e.into_inner());
        match plugins.get_mut(plugin) {
            Some(slot) => std::mem::replace(slot, latest).families,
            None => {
                plugins.insert(plugin.to_owned(), latest);
                Vec::new()
            }
        }
    }

    /// Keeps only the plugins named (after a reload).
    pub fn retain(&self, plugins: &[String]) {
        self.plugins
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|name, _| plugins.contains(name));
    }

    /// Sets the extra self-metrics sources (replacing the previous ones).
    pub fn set_extra(&self, sources: Vec<MetricsSource>) {
        *self.extra.write().unwrap_or_else(|e| e.into_inner()) = sources;
    }

    /// Remote-write metadata (HELP, TYPE) of `plugin`'s latest families.
    pub fn metadata(&self, plugin: &str) -> Vec<crate::remote_write::proto::MetricMetadata> {
        let plugins = self.plugins.read().unwrap_or_else(|e| e.into_inner());
        plugins
            .get(plugin)
            .map(|latest| crate::pipeline::metadata(&latest.families))
            .unwrap_or_default()
    }

    /// True once any plugin finished a cycle.
    pub fn is_ready(&self) -> bool {
        !self
            .plugins
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// The self-metrics: per plugin, and from the extra sources.
    pub fn self_metrics(&self) -> Vec<MetricFamily> {
        let mut families = self.stats.families();
        for source in self.extra.read().unwrap_or_else(|e| e.into_inner()).iter() {
            families.extend(source());
        }
        families
    }

    /// Everything, in the Prometheus text format, families sorted by name.
    pub fn render(&self) -> String {
        let mut plugins = self.plugins.write().unwrap_or_else(|e| e.into_inner());
        for latest in plugins.values_mut().filter(|l| !l.sorted) {
            normalize(&mut latest.families);
            latest.sorted = true;
        }
        let mut own = self.self_metrics();
        normalize(&mut own);
        let mut all: Vec<&MetricFamily> = plugins
            .values()
            .flat_map(|l| &l.families)
            .chain(own.iter())
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out = String::with_capacity(all.iter().map(|f| 64 + 64 * f.samples.len()).sum());
        for family in all {
            render_family(&mut out, family);
        }
        out
    }
}

/// A plugin's families from its last cycle.
struct Latest {
    families: Vec<MetricFamily>,
    /// Whether they are sorted as exposed (done at the first render after an update).
    sorted: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_hands_back_the_families_it_replaced() {
        // The agent recycles them into the plugin's next collection.
        let store = LatestValues::new(Arc::new(AgentStats::default()));
        let first = vec![MetricFamily::gauge("node_load1", "1m load average.").with_value(0.5)];
        assert!(store.update("cpu", first.clone()).is_empty());
        let second = vec![MetricFamily::gauge("node_load1", "1m load average.").with_value(0.7)];
        assert_eq!(store.update("cpu", second), first);
        assert!(store.render().contains("node_load1 0.7\n"));
    }

    #[test]
    fn renders_plugins_and_self_metrics_sorted() {
        let stats = Arc::new(AgentStats::default());
        let counters = crate::plugin::Counters {
            memory: 1 << 20,
            kept_files: 3,
            refused_host_calls: 2,
            dropped_log_lines: 0,
        };
        stats.record("cpu", 0.001, Ok(1), counters);
        let store = LatestValues::new(stats);
        assert!(!store.is_ready());
        store.update(
            "cpu",
            vec![MetricFamily::gauge("node_load1", "1m load average.").with_value(0.5)],
        );
        store.update(
            "aaa",
            vec![MetricFamily::gauge("aaa_first", "A.").with_value(1.0)],
        );
        let text = store.render();
        assert!(store.is_ready());
        let first = text.find("aaa_first 1").unwrap();
        let load = text.find("node_load1 0.5").unwrap();
        let scrape = text
            .find("node_scrape_collector_success{collector=\"cpu\"} 1")
            .unwrap();
        let build = text.find("sonde_build_info{").unwrap();
        assert!(first < load && load < scrape && scrape < build, "{text}");
        assert!(text.contains("sonde_plugin_refused_host_calls_total{plugin=\"cpu\"} 2"));
        assert!(text.contains("sonde_plugin_kept_files{plugin=\"cpu\"} 3"));
        assert!(
            text.contains("sonde_plugin_memory_bytes{plugin=\"cpu\"} 1.048576e+06"),
            "{text}"
        );
        // Families and samples are sorted when rendered, however the plugin returned them.
        let mut cpu = MetricFamily::counter("node_cpu_seconds_total", "CPU.");
        cpu.sample(&[("mode", "user"), ("cpu", "1")], 2.0)
            .sample(&[("cpu", "0"), ("mode", "user")], 1.0);
        store.update(
            "cpu",
            vec![
                MetricFamily::gauge("node_load1", "1m load average.").with_value(0.5),
                cpu,
            ],
        );
        let text = store.render();
        let zero = text
            .find("node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 1\n")
            .unwrap();
        let one = text
            .find("node_cpu_seconds_total{cpu=\"1\",mode=\"user\"} 2\n")
            .unwrap();
        assert!(
            zero < one && one < text.find("node_load1").unwrap(),
            "{text}"
        );
        assert_eq!(store.render(), text);
        store.retain(&["cpu".to_owned()]);
        assert!(!store.render().contains("aaa_first"));
    }
}
