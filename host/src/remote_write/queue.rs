//! The queue of one remote-write endpoint: samples are spread over shards by series (so the
//! samples of a series stay in order, as receivers such as Prometheus require), each shard
//! batches up to `max_samples_per_send` or `batch_send_deadline`, and sends with retries.

use super::client::{Delivery, Endpoint};
use super::config::RemoteWriteConfig;
use super::encode::{SeriesSample, encode_batch};
use sonde_sdk::Label;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A running queue: shards with their sender tasks.
pub struct RemoteWriteQueue {
    config: RemoteWriteConfig,
    endpoint: Arc<Endpoint>,
    external_labels: Vec<Label>,
    shards: std::sync::Mutex<Vec<mpsc::Sender<SeriesSample>>>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
    shutdown: Arc<tokio::sync::watch::Sender<Option<Instant>>>,
}

impl RemoteWriteQueue {
    /// Builds the endpoint and starts its shards on the current tokio runtime.
    pub fn start(config: &RemoteWriteConfig) -> anyhow::Result<RemoteWriteQueue> {
        let endpoint = Arc::new(Endpoint::new(config)?);
        let (shutdown, _) = tokio::sync::watch::channel(None);
        let shutdown = Arc::new(shutdown);
        let mut shards = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..config.queue.shards {
            let (tx, rx) = mpsc::channel(config.queue.capacity);
            shards.push(tx);
            tasks.push(tokio::spawn(run_shard(
                endpoint.clone(),
                rx,
                config.queue.max_samples_per_send,
                config.queue.batch_send_deadline.0,
                shutdown.subscribe(),
            )));
        }
        let mut external_labels: Vec<Label> = config
            .external_labels
            .iter()
            .map(|(name, value)| Label {
                name: name.clone(),
                value: value.clone(),
            })
            .collect();
        external_labels.sort();
        Ok(RemoteWriteQueue {
            config: config.clone(),
            endpoint,
            external_labels,
            shards: std::sync::Mutex::new(shards),
            tasks: std::sync::Mutex::new(tasks),
            shutdown,
        })
    }

    /// The config the queue was started with (a reload keeps a queue whose config is unchanged).
    pub fn config(&self) -> &RemoteWriteConfig {
        &self.config
    }

    /// The endpoint's counters.
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }

    /// Queues a cycle's samples without waiting: a sample whose shard is full is dropped and
    /// counted (collection never waits for the network).
    pub fn push(&self, samples: Vec<SeriesSample>) {
        let shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        if shards.is_empty() {
            self.endpoint.stats.dropped(samples.len());
            return;
        }
        for mut sample in samples {
            add_external_labels(&mut sample.labels, &self.external_labels);
            let shard = &shards[shard_of(&sample.labels, shards.len())];
            match shard.try_send(sample) {
                Ok(()) => self.endpoint.stats.pending_add(1),
                Err(_) => self.endpoint.stats.dropped(1),
            }
        }
    }

    /// Stops accepting samples and sends what is queued, giving up at `deadline`. Returns the
    /// number of samples that were not delivered.
    pub async fn shutdown(&self, deadline: Instant) -> u64 {
        let _ = self.shutdown.send(Some(deadline));
        drop(std::mem::take(
            &mut *self.shards.lock().unwrap_or_else(|e| e.into_inner()),
        ));
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            let _ = task.await;
        }
        self.endpoint.stats.pending_now()
    }
}

/// Adds the endpoint's external labels a sample does not already have, keeping labels sorted.
pub fn add_external_labels(labels: &mut Vec<Label>, external: &[Label]) {
    if external.is_empty() {
        return;
    }
    let mut added = false;
    for label in external {
        if !labels.iter().any(|l| l.name == label.name) {
            labels.push(label.clone());
            added = true;
        }
    }
    if added {
        labels.sort();
    }
}

/// The shard of a series: a hash of its labels.
fn shard_of(labels: &[Label], shards: usize) -> usize {
    if shards == 1 {
        return 0;
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    labels.hash(&mut hasher);
    (hasher.finish() % shards as u64) as usize
}

async fn run_shard(
    endpoint: Arc<Endpoint>,
    mut rx: mpsc::Receiver<SeriesSample>,
    max_samples: usize,
    batch_deadline: Duration,
    shutdown: tokio::sync::watch::Receiver<Option<Instant>>,
) {
    let mut batch: Vec<SeriesSample> = Vec::with_capacity(max_samples);
    let mut batch_started = Instant::now();
    loop {
        let flush_at = batch_started + batch_deadline;
        tokio::select! {
            sample = rx.recv() => match sample {
                Some(sample) => {
                    if batch.is_empty() {
                        batch_started = Instant::now();
                    }
                    batch.push(sample);
                    if batch.len() >= max_samples {
                        send(&endpoint, &mut batch, &shutdown).await;
                    }
                }
                None => break,
            },
            _ = tokio::time::sleep_until(flush_at), if !batch.is_empty() => {
                send(&endpoint, &mut batch, &shutdown).await;
            }
        }
    }
    // The queue is shutting down: send what is left, in batches, until the deadline.
    while !batch.is_empty() {
        let rest = if batch.len() > max_samples {
            batch.split_off(max_samples)
        } else {
            Vec::new()
        };
        send(&endpoint, &mut batch, &shutdown).await;
        if !batch.is_empty() {
            break; // gave up at the deadline
        }
        batch = rest;
    }
}

/// Sends and clears a batch. Retries until accepted or rejected; at shutdown, until the
/// shutdown deadline (then the batch stays, undelivered).
async fn send(
    endpoint: &Endpoint,
    batch: &mut Vec<SeriesSample>,
    shutdown: &tokio::sync::watch::Receiver<Option<Instant>>,
) {
    let body = encode_batch(batch, &[], &mut Vec::new());
    let deadline = shutdown
        .borrow()
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(86400 * 365));
    let samples = batch.len();
    match endpoint.send_with_retry(body, samples, deadline).await {
        Delivery::Sent { .. } | Delivery::Rejected(_) => {
            endpoint.stats.pending_add(-(samples as i64));
            batch.clear();
        }
        Delivery::GaveUp(reason) => {
            tracing::warn!(endpoint = %endpoint.name, samples, %reason, "giving up on a batch at shutdown");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(n: &str, v: &str) -> Label {
        Label {
            name: n.into(),
            value: v.into(),
        }
    }

    #[test]
    fn external_labels_do_not_override_and_stay_sorted() {
        let mut labels = vec![label("__name__", "up"), label("region", "local")];
        add_external_labels(
            &mut labels,
            &[label("cluster", "a"), label("region", "eu-1")],
        );
        assert_eq!(
            labels,
            [
                label("__name__", "up"),
                label("cluster", "a"),
                label("region", "local")
            ]
        );
    }

    #[test]
    fn a_series_always_lands_on_the_same_shard() {
        let a = vec![label("__name__", "x"), label("cpu", "1")];
        let b = vec![label("__name__", "x"), label("cpu", "2")];
        assert_eq!(shard_of(&a, 4), shard_of(&a.clone(), 4));
        assert_eq!(shard_of(&b, 1), 0);
    }
}
