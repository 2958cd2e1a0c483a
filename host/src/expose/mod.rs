//! What `/metrics` serves: the latest values of each plugin and the self-metrics (the store),
//! and the HTTP server with its connection limits.
//!
//! It uses the pipeline (metadata) and the remote-write types; the agent fills the store and
//! provides the self-metrics ([`SelfMetrics`]).

pub mod http;
pub mod store;

/// What `/metrics` serves besides the plugins' latest values: the agent's own metrics, gathered
/// at each scrape.
pub trait SelfMetrics: Send + Sync {
    /// The self-metric families of the moment.
    fn families(&self) -> Vec<sonde_sdk::MetricFamily>;
}
