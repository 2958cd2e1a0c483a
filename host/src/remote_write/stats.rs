//! Per-endpoint counters of the remote-write queue, exposed as `sonde_remote_write_*` metrics.

use sonde_sdk::MetricFamily;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// What happened to the samples of one endpoint.
#[derive(Debug)]
pub struct EndpointStats {
    name: String,
    sent: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    dropped: AtomicU64,
    bytes: AtomicU64,
    last_send_ms: AtomicI64,
}

impl EndpointStats {
    /// Zeroed counters for the endpoint `name`.
    pub fn new(name: &str) -> Self {
        EndpointStats {
            name: name.to_owned(),
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            last_send_ms: AtomicI64::new(0),
        }
    }

    /// A batch was accepted.
    pub fn sent(&self, samples: usize, bytes: usize) {
        self.sent.fetch_add(samples as u64, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.last_send_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// A batch was rejected for good by the receiver.
    pub fn failed(&self, samples: usize) {
        self.failed.fetch_add(samples as u64, Ordering::Relaxed);
    }

    /// A batch is being retried.
    pub fn retried(&self, samples: usize) {
        self.retried.fetch_add(samples as u64, Ordering::Relaxed);
    }

    /// Samples were dropped before sending (queue full, or unsent at shutdown).
    pub fn dropped(&self, samples: usize) {
        self.dropped.fetch_add(samples as u64, Ordering::Relaxed);
    }

    /// Samples accepted by the receiver so far.
    pub fn sent_total(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Samples rejected by the receiver so far.
    pub fn failed_total(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Retries so far (in samples).
    pub fn retried_total(&self) -> u64 {
        self.retried.load(Ordering::Relaxed)
    }

    /// The counters as metric families, labelled `endpoint`.
    pub fn families(&self) -> Vec<MetricFamily> {
        let l = [("endpoint", self.name.as_str())];
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        vec![
            MetricFamily::counter(
                "sonde_remote_write_samples_sent_total",
                "Samples the remote-write receiver accepted.",
            )
            .with_sample(&l, load(&self.sent)),
            MetricFamily::counter(
                "sonde_remote_write_samples_failed_total",
                "Samples the remote-write receiver rejected for good (4xx other than 429); not retried.",
            )
            .with_sample(&l, load(&self.failed)),
            MetricFamily::counter(
                "sonde_remote_write_samples_retried_total",
                "Samples whose send was retried after a network error, 5xx or 429.",
            )
            .with_sample(&l, load(&self.retried)),
            MetricFamily::counter(
                "sonde_remote_write_samples_dropped_total",
                "Samples dropped before they could be sent.",
            )
            .with_sample(&l, load(&self.dropped)),
            MetricFamily::counter(
                "sonde_remote_write_bytes_sent_total",
                "Compressed bytes of the requests the receiver accepted.",
            )
            .with_sample(&l, load(&self.bytes)),
            MetricFamily::gauge(
                "sonde_remote_write_last_send_timestamp_seconds",
                "When the receiver last accepted a batch, in seconds since the epoch.",
            )
            .with_sample(&l, self.last_send_ms.load(Ordering::Relaxed) as f64 / 1000.0),
        ]
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
