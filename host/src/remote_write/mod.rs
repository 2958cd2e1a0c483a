//! Prometheus remote write 1.0: encoding ([`encode`]), the HTTP client with retries
//! ([`client`]) and its health ([`health`]: outages logged once, with reminders and the
//! recovery), the queue per endpoint ([`queue`]) over its write-ahead log ([`wal`]), and their
//! self-metrics ([`stats`]).
//!
//! It uses only `units` (its settings' durations and sizes); what it sends comes from the
//! agent's collections, already relabeled by the pipeline.

pub mod client;
pub mod config;
pub mod encode;
pub mod health;
pub mod proto;
pub mod push;
pub mod queue;
pub mod stats;
pub mod wal;

pub use client::{Delivery, Endpoint};
pub use config::RemoteWriteConfig;
pub use encode::{STALE_NAN, SeriesSample};
pub use queue::RemoteWriteQueue;
