//! The agent's own metrics, gathered when they are wanted (a scrape of `/metrics`, the
//! self-metrics' remote-write tick) from where they are counted: the plugins' figures
//! ([`AgentStats`]), each remote-write queue's, and the process's.

use crate::agent::stats::AgentStats;
use crate::remote_write::RemoteWriteQueue;
use sonde_sdk::MetricFamily;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Where the agent's self-metrics are counted.
pub struct SelfMetrics {
    stats: Arc<AgentStats>,
    queues: RwLock<Vec<Arc<RemoteWriteQueue>>>,
    process: bool,
}

impl SelfMetrics {
    /// The daemon's: the plugins' figures, the queues (set with [`Self::set_queues`]) and the
    /// process's `process_*` families.
    pub fn daemon(stats: Arc<AgentStats>) -> Self {
        SelfMetrics {
            stats,
            queues: RwLock::default(),
            process: true,
        }
    }

    /// `collect --once`'s: the plugins' figures only.
    pub fn once(stats: Arc<AgentStats>) -> Self {
        SelfMetrics {
            stats,
            queues: RwLock::default(),
            process: false,
        }
    }

    /// The plugins' figures.
    pub fn stats(&self) -> &Arc<AgentStats> {
        &self.stats
    }

    /// The queues whose figures are reported (replacing the previous ones, after a reload).
    pub fn set_queues(&self, queues: Vec<Arc<RemoteWriteQueue>>) {
        *self.queues.write().unwrap_or_else(|e| e.into_inner()) = queues;
    }

    /// The self-metric families of the moment; the families of several queues are merged by
    /// name (one HELP and TYPE each).
    pub fn families(&self) -> Vec<MetricFamily> {
        let mut families = self.stats.families();
        for queue in self.queues.read().unwrap_or_else(|e| e.into_inner()).iter() {
            families.extend(queue.families());
        }
        if self.process {
            families.extend(crate::agent::process_metrics::families());
        }
        merge_by_name(families)
    }
}

impl crate::expose::SelfMetrics for SelfMetrics {
    fn families(&self) -> Vec<MetricFamily> {
        SelfMetrics::families(self)
    }

    fn collectors(&self) -> Vec<crate::expose::CollectorSource> {
        self.stats.collectors()
    }
}

/// Families of the same name joined into one (the first's HELP and TYPE), in first-seen order.
fn merge_by_name(families: Vec<MetricFamily>) -> Vec<MetricFamily> {
    let mut merged: Vec<MetricFamily> = Vec::with_capacity(families.len());
    let mut index: HashMap<String, usize> = Default::default();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expose::store::LatestValues;

    #[test]
    fn families_of_several_sources_share_one_family_per_name() {
        let source = |endpoint: &'static str| {
            MetricFamily::counter("sonde_remote_write_bytes_sent_total", "Bytes.")
                .with_sample(&[("endpoint", endpoint)], 1.0)
        };
        let mut families = merge_by_name(vec![source("a"), source("b")]);
        sonde_sdk::exposition::normalize(&mut families);
        let text = sonde_sdk::exposition::render(&families);
        assert_eq!(
            text.matches("# HELP sonde_remote_write_bytes_sent_total")
                .count(),
            1,
            "{text}"
        );
        assert!(text.contains("sonde_remote_write_bytes_sent_total{endpoint=\"a\"} 1\n"));
        assert!(text.contains("sonde_remote_write_bytes_sent_total{endpoint=\"b\"} 1\n"));
    }

    fn set(store: &LatestValues, plugin: &str, families: Vec<MetricFamily>) {
        store
            .update_with(plugin, |slot| {
                *slot = families;
                Ok::<_, ()>(())
            })
            .unwrap();
    }

    #[test]
    fn metrics_page_renders_plugins_and_self_metrics_sorted() {
        let stats = AgentStats::default();
        let counters = crate::wasm::plugin::Counters {
            memory: 1 << 20,
            kept_files: 3,
            refused_host_calls: 2,
            dropped_log_lines: 0,
            warnings: 0,
        };
        stats.record("cpu", 0.001, Ok(1), counters, Default::default());
        let store = LatestValues::new();
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
        let text = store.render(stats.families());
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
        let text = store.render(stats.families());
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
        assert_eq!(store.render(stats.families()), text);
        store.retain(&["cpu".to_owned()]);
        assert!(!store.render(stats.families()).contains("aaa_first"));
    }
}
