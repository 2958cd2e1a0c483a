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

    /// Replaces `plugin`'s families with those `fill` writes over the previous cycle's (it may
    /// reuse their strings and lists, as [`crate::plugin::Collected::decode_into`] does), so
    /// that only one cycle's families are ever kept. `fill` runs under the store's lock: it
    /// should only decode. When it fails, the plugin's families are removed, as for a failed
    /// cycle. They are sorted as exposed when first rendered, not here: an agent that only
    /// remote-writes is never scraped.
    pub fn update_with<T, E>(
        &self,
        plugin: &str,
        fill: impl FnOnce(&mut Vec<MetricFamily>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut plugins = self.plugins.write().unwrap_or_else(|e| e.into_inner());
        if !plugins.contains_key(plugin) {
            plugins.insert(plugin.to_owned(), Latest::default());
        }
        let latest = plugins.get_mut(plugin).expect("inserted above");
        latest.sorted = false;
        let result = fill(&mut latest.families);
        match &result {
            Ok(_) => latest.families.retain(|f| !f.is_empty()),
            Err(_) => latest.families.clear(),
        }
        result
    }

    /// Removes `plugin`'s families (its cycle failed), keeping it known.
    pub fn fail(&self, plugin: &str) {
        let mut plugins = self.plugins.write().unwrap_or_else(|e| e.into_inner());
        plugins
            .entry(plugin.to_owned())
            .or_default()
            .families
            .clear();
    }

    /// Calls `read` with `plugin`'s latest families (none if it has not collected yet).
    pub fn read<R>(&self, plugin: &str, read: impl FnOnce(&[MetricFamily]) -> R) -> R {
        let plugins = self.plugins.read().unwrap_or_else(|e| e.into_inner());
        read(plugins.get(plugin).map_or(&[], |latest| &latest.families))
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
        self.read(plugin, crate::pipeline::metadata)
    }

    /// True once any plugin finished a cycle.
    pub fn is_ready(&self) -> bool {
        !self
            .plugins
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// The self-metrics: per plugin, and from the extra sources (the families of several
    /// sources, one per remote-write endpoint, merged by name: one HELP and TYPE each).
    pub fn self_metrics(&self) -> Vec<MetricFamily> {
        let mut families = self.stats.families();
        for source in self.extra.read().unwrap_or_else(|e| e.into_inner()).iter() {
            families.extend(source());
        }
        merge_by_name(families)
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

/// Families of the same name joined into one (the first's HELP and TYPE), in first-seen order.
fn merge_by_name(families: Vec<MetricFamily>) -> Vec<MetricFamily> {
    let mut merged: Vec<MetricFamily> = Vec::with_capacity(families.len());
    let mut index: std::collections::HashMap<String, usize> = Default::default();
    for family in families {
        match index.get(&family.name) {
            Some(&at) => merged[at].samples.extend(family.samples),
            None => {
                index.insert(family.name.clone(), merged.len());
                merged.push(family);
            }
        }
    }
    merged
}

/// A plugin's families from its last cycle.
#[derive(Default)]
struct Latest {
    families: Vec<MetricFamily>,
    /// Whether they are sorted as exposed (done at the first render after an update).
    sorted: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(store: &LatestValues, plugin: &str, families: Vec<MetricFamily>) {
        store
            .update_with(plugin, |slot| {
                *slot = families;
                Ok::<_, ()>(())
            })
            .unwrap();
    }

    #[test]
    fn an_update_fills_the_families_it_replaces_and_a_failure_removes_them() {
        // The agent decodes each cycle over the one before: the store hands it the old families.
        let store = LatestValues::new(Arc::new(AgentStats::default()));
        let first = vec![MetricFamily::gauge("node_load1", "1m load average.").with_value(0.5)];
        let filled = store.update_with("cpu", |families| {
            assert!(families.is_empty());
            families.clone_from(&first);
            Ok::<_, ()>(families.len())
        });
        assert_eq!(filled, Ok(1));
        store
            .update_with("cpu", |families| {
                assert_eq!(families, &first);
                families[0].samples[0].value = 0.7;
                Ok::<_, ()>(())
            })
            .unwrap();
        assert!(store.render().contains("node_load1 0.7\n"));
        assert_eq!(store.read("cpu", |families| families.len()), 1);
        assert_eq!(
            store.update_with("cpu", |_| Err::<(), _>("bad")),
            Err("bad")
        );
        assert_eq!(store.read("cpu", |families| families.len()), 0);
        store
            .update_with("cpu", |families| {
                families.clone_from(&first);
                Ok::<_, ()>(())
            })
            .unwrap();
        store.fail("cpu");
        assert!(!store.render().contains("node_load1"));
    }

    #[test]
    fn self_metrics_of_several_sources_share_one_family_per_name() {
        let store = LatestValues::new(Arc::new(AgentStats::default()));
        let source = |endpoint: &'static str| {
            Arc::new(move || {
                vec![
                    MetricFamily::counter("sonde_remote_write_bytes_sent_total", "Bytes.")
                        .with_sample(&[("endpoint", endpoint)], 1.0),
                ]
            }) as MetricsSource
        };
        store.set_extra(vec![source("a"), source("b")]);
        let text = store.render();
        assert_eq!(
            text.matches("# HELP sonde_remote_write_bytes_sent_total")
                .count(),
            1,
            "{text}"
        );
        assert!(text.contains("sonde_remote_write_bytes_sent_total{endpoint=\"a\"} 1\n"));
        assert!(text.contains("sonde_remote_write_bytes_sent_total{endpoint=\"b\"} 1\n"));
    }

    #[test]
    fn renders_plugins_and_self_metrics_sorted() {
        let stats = Arc::new(AgentStats::default());
        let counters = crate::plugin::Counters {
            memory: 1 << 20,
            kept_files: 3,
            refused_host_calls: 2,
            dropped_log_lines: 0,
            warnings: 0,
        };
        stats.record("cpu", 0.001, Ok(1), counters);
        let store = LatestValues::new(stats);
        assert!(!store.is_ready());
        set(
            &store,
            "cpu",
            vec![MetricFamily::gauge("node_load1", "1m load average.").with_value(0.5)],
        );
        set(
            &store,
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
        set(
            &store,
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
