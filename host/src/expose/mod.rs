//! What `/metrics` serves: the latest values of each plugin and the self-metrics (the store),
//! and the HTTP server with its connection limits.
//!
//! It uses the pipeline (metadata) and the remote-write types; the agent fills the store and
//! provides the self-metrics ([`SelfMetrics`]).

pub mod collect_filter;
pub mod gzip;
pub mod http;
pub mod store;
pub mod web_config;

/// What `/metrics` serves besides the plugins' latest values: the agent's own metrics, gathered
/// at each scrape.
pub trait SelfMetrics: Send + Sync {
    /// The self-metric families of the moment.
    fn families(&self) -> Vec<sonde_sdk::MetricFamily>;

    /// The collectors `node_scrape_collector_success` names now, which `collect[]` selects.
    fn collectors(&self) -> Vec<CollectorSource>;
}

/// A `collector` label of `node_scrape_collector_*` and one plugin part it stands for (a part
/// several built-ins share, `pressure`, has one source per plugin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorSource {
    /// The label: node_exporter's collector name, or `<plugin>/<part>` when another plugin
    /// took that name.
    pub label: String,
    /// The plugin whose families it covers.
    pub plugin: String,
    /// The part of the plugin, or `None` for a plugin that reports no parts (all its families).
    pub part: Option<String>,
}
