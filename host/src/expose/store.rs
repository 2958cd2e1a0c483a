//! The latest values: each plugin's families from its last successful cycle (a failed cycle
//! removes them, as node_exporter shows nothing for a failed collector), rendered for `/metrics`
//! with the self-metrics of the moment.

use crate::expose::collect_filter::Selection;
use sonde_sdk::MetricFamily;
use sonde_sdk::exposition::{normalize, render_family};
use std::collections::BTreeMap;
use std::sync::RwLock;

/// The families of the last cycle of every plugin.
#[derive(Default)]
pub struct LatestValues {
    plugins: RwLock<BTreeMap<String, Latest>>,
}

impl LatestValues {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces `plugin`'s families with those `fill` writes over the previous cycle's (it may
    /// reuse their strings and lists, as a plugin's decoder does), so
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

    /// Every plugin's families and `own` (the self-metrics of the moment) in the Prometheus text
    /// format, families sorted by name.
    pub fn render(&self, own: Vec<MetricFamily>) -> String {
        self.render_selected(own, None)
    }

    /// As [`Self::render`], with only the families of the collectors `selection` names (and
    /// their `node_scrape_collector_*` series) when there is one: `/metrics?collect[]=…`.
    pub fn render_selected(
        &self,
        mut own: Vec<MetricFamily>,
        selection: Option<&Selection>,
    ) -> String {
        let mut plugins = self.plugins.write().unwrap_or_else(|e| e.into_inner());
        for latest in plugins.values_mut().filter(|l| !l.sorted) {
            normalize(&mut latest.families);
            latest.sorted = true;
        }
        if let Some(selection) = selection {
            selection.retain_meta(&mut own);
        }
        normalize(&mut own);
        let mut all: Vec<&MetricFamily> = plugins
            .iter()
            .flat_map(|(plugin, l)| {
                l.families
                    .iter()
                    .filter(move |f| selection.is_none_or(|s| s.keeps(plugin, &f.name)))
            })
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
#[derive(Default)]
struct Latest {
    families: Vec<MetricFamily>,
    /// Whether they are sorted as exposed (done at the first render after an update).
    sorted: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_fills_the_families_it_replaces_and_a_failure_removes_them() {
        // The agent decodes each cycle over the one before: the store hands it the old families.
        let store = LatestValues::new();
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
        assert!(store.render(Vec::new()).contains("node_load1 0.7\n"));
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
        assert!(!store.render(Vec::new()).contains("node_load1"));
    }
}
