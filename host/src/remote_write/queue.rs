//! The queue of one remote-write endpoint: every cycle's samples are spread over the shards by
//! series (a hash of the labels), encoded and appended to each shard's write-ahead log
//! ([`super::wal`]) at once — collection never waits for the network — and each shard's sender
//! reads its log in order, in requests of up to `max_samples_per_send`, advancing the log's
//! position only when the receiver accepted (or permanently rejected) a request. Shards send in
//! parallel; within a shard, oldest first, so every series stays in order, which receivers such
//! as Prometheus require. After an outage the backlog drains at `max_samples_per_second` per
//! shard (if set) and new samples follow as soon as it is through.

use super::client::{Delivery, Endpoint, Retrying};
use super::config::{RemoteWriteConfig, WalSync};
use super::encode::{SeriesSample, encode_batch};
use super::proto::MetricMetadata;
use super::stats::now_ms;
use super::wal::{Record, Wal};
use sonde_sdk::{Label, MetricFamily};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A running queue: its shards, each a log with its sender task, and the task that keeps the
/// logs within their bounds.
pub struct RemoteWriteQueue {
    config: RemoteWriteConfig,
    endpoint: Arc<Endpoint>,
    external_labels: Vec<Label>,
    shards: Vec<Shard>,
    figures: Arc<WalFigures>,
    shutdown: watch::Sender<Option<Instant>>,
    upkeep: JoinHandle<()>,
    scratch: Mutex<Vec<u8>>,
}

/// One shard: the series whose labels hash to it, in their own log, sent by their own task in
/// order (so a series stays in order while shards send in parallel).
struct Shard {
    wal: Arc<Mutex<Wal>>,
    wake: Arc<Notify>,
    sender: Mutex<Option<JoinHandle<()>>>,
}

/// Counters of the log, for self-metrics.
#[derive(Debug, Default)]
struct WalFigures {
    replayed: AtomicU64,
    dropped: AtomicU64,
    truncated_bytes: AtomicU64,
}

/// The log directory of an endpoint under `state_dir`: `wal/` and [`wal_dir_name`].
pub fn wal_dir(state_dir: &Path, config: &RemoteWriteConfig) -> PathBuf {
    state_dir.join("wal").join(wal_dir_name(config))
}

/// The name of an endpoint's log directory: its name, made safe, and a hash of the URL. Two
/// endpoints must not share one (the config refuses it): their senders would move one position.
pub fn wal_dir_name(config: &RemoteWriteConfig) -> String {
    use sha2::{Digest, Sha256};
    let safe: String = config
        .display_name()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(48)
        .collect();
    let hash = Sha256::digest(config.url.as_bytes());
    let hash: String = hash[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("{safe}-{hash}")
}

impl RemoteWriteQueue {
    /// Opens the endpoint's log under `state_dir` (replaying what it holds) and starts the
    /// sender on the current tokio runtime.
    pub fn start(config: &RemoteWriteConfig, state_dir: &Path) -> anyhow::Result<RemoteWriteQueue> {
        let endpoint = Arc::new(Endpoint::new(config)?);
        let dir = wal_dir(state_dir, config);
        // Logs of shards beyond the configured count (from a run with more shards) are still
        // drained; only the configured shards take new samples.
        let existing = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().starts_with("shard-"))
                    .count()
            })
            .unwrap_or(0);
        let figures = Arc::new(WalFigures::default());
        let (shutdown, _) = watch::channel(None);
        let mut shards = Vec::new();
        for index in 0..config.queue.shards.max(existing) {
            let shard_dir = dir.join(format!("shard-{index}"));
            let (wal, recovery) = Wal::open(
                &shard_dir,
                config.wal.max_size.0 / config.queue.shards as u64,
                config.wal.sync == WalSync::Batch,
            )
            .map_err(|e| anyhow::anyhow!("write-ahead log {}: {e}", shard_dir.display()))?;
            if recovery.records > 0 {
                tracing::info!(endpoint = %endpoint.name, shard = index, samples = recovery.samples, "replaying undelivered samples from the write-ahead log");
            }
            figures
                .replayed
                .fetch_add(recovery.samples, Ordering::Relaxed);
            figures
                .truncated_bytes
                .fetch_add(recovery.truncated_bytes, Ordering::Relaxed);
            let wal = Arc::new(Mutex::new(wal));
            let wake = Arc::new(Notify::new());
            let sender = tokio::spawn(run_sender(
                endpoint.clone(),
                wal.clone(),
                wake.clone(),
                config.clone(),
                shutdown.subscribe(),
            ));
            shards.push(Shard {
                wal,
                wake,
                sender: Mutex::new(Some(sender)),
            });
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
        let upkeep = tokio::spawn(keep_logs_bounded(
            shards.iter().map(|s| s.wal.clone()).collect(),
            endpoint.clone(),
            figures.clone(),
            config.wal.clone(),
        ));
        Ok(RemoteWriteQueue {
            config: config.clone(),
            endpoint,
            external_labels,
            shards,
            figures,
            shutdown,
            upkeep,
            scratch: Mutex::new(Vec::new()),
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

    /// Appends a cycle's samples to the log (with the endpoint's external labels) and wakes the
    /// sender. Never waits for the network. `metadata` (HELP and TYPE) is sent along when the
    /// endpoint has `send_metadata`.
    pub fn push(&self, samples: Vec<SeriesSample>, metadata: &[MetricMetadata]) {
        let metadata = if self.config.send_metadata {
            metadata
        } else {
            &[]
        };
        if samples.is_empty() && metadata.is_empty() {
            return;
        }
        let shards = self.config.queue.shards;
        let mut parts: Vec<Vec<SeriesSample>> = (0..shards).map(|_| Vec::new()).collect();
        for mut sample in samples {
            add_external_labels(&mut sample.labels, &self.external_labels);
            parts[shard_of(&sample.labels, shards)].push(sample);
        }
        let mut scratch = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        for (index, part) in parts.into_iter().enumerate() {
            // Metadata rides with shard 0.
            let metadata = if index == 0 { metadata } else { &[] };
            if part.is_empty() && metadata.is_empty() {
                continue;
            }
            let newest = part.iter().map(|s| s.timestamp_ms).max().unwrap_or(0);
            let body = encode_batch(&part, metadata, &mut scratch);
            let shard = &self.shards[index];
            let appended = shard.wal.lock().unwrap_or_else(|e| e.into_inner()).append(
                part.len() as u32,
                newest,
                &body,
            );
            match appended {
                Ok(dropped) => {
                    self.figures.dropped.fetch_add(dropped, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::error!(endpoint = %self.endpoint.name, error = %e, "cannot append to the write-ahead log; samples dropped");
                    self.endpoint.stats.dropped(part.len());
                }
            }
            shard.wake.notify_one();
        }
    }

    /// Stops the senders after they delivered what the logs hold, or at `deadline`, whichever
    /// comes first: a send in flight at the deadline is abandoned, and no retry starts after it.
    /// Whatever is left stays in the log for the next start. Returns the samples left.
    pub async fn shutdown(&self, deadline: Instant) -> u64 {
        let _ = self.shutdown.send(Some(deadline));
        for shard in &self.shards {
            shard.wake.notify_one();
        }
        for shard in &self.shards {
            let sender = shard
                .sender
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(sender) = sender {
                let _ = sender.await;
            }
        }
        self.upkeep.abort();
        for shard in &self.shards {
            let _ = shard.wal.lock().unwrap_or_else(|e| e.into_inner()).sync();
        }
        self.pending_samples()
    }

    /// Samples accepted into the logs and not yet delivered (nor dropped).
    pub fn pending_samples(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| {
                s.wal
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pending_samples()
            })
            .sum()
    }

    /// The queue's self-metrics, labelled `endpoint`: what was sent and how
    /// ([`super::stats`]), then the write-ahead log's ([`Self::wal_families`]).
    pub fn families(&self) -> Vec<MetricFamily> {
        let mut families = self.endpoint.stats.families();
        families.extend(self.wal_families());
        families
    }

    /// The logs' self-metrics (all shards together), labelled `endpoint`.
    pub fn wal_families(&self) -> Vec<MetricFamily> {
        let (mut bytes, mut segments, mut oldest, mut pending, mut syncs) =
            (0, 0, None::<i64>, 0, 0);
        for shard in &self.shards {
            let wal = shard.wal.lock().unwrap_or_else(|e| e.into_inner());
            bytes += wal.bytes();
            segments += wal.segments();
            pending += wal.pending_samples();
            syncs += wal.syncs();
            if let Some(ms) = wal.oldest_unsent_ms() {
                oldest = Some(oldest.map_or(ms, |o| o.min(ms)));
            }
        }
        let mut families =
            wal_families(&self.endpoint.name, bytes, segments, oldest, &self.figures);
        let l = [("endpoint", self.endpoint.name.as_str())];
        families.push(
            MetricFamily::gauge(
                "sonde_remote_write_samples_pending",
                "Samples queued and not yet accepted by the receiver.",
            )
            .with_sample(&l, pending as f64),
        );
        families.push(
            MetricFamily::counter(
                "sonde_wal_syncs_total",
                "fsyncs of the remote-write write-ahead log (once a second with sync = \"interval\" while there is something to flush, at every append with \"batch\").",
            )
            .with_sample(&l, syncs as f64),
        );
        families
    }
}

/// The shard of a series: a hash of its labels.
fn shard_of(labels: &[Label], shards: usize) -> usize {
    if shards <= 1 {
        return 0;
    }
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    labels.hash(&mut hasher);
    (hasher.finish() % shards as u64) as usize
}

fn wal_families(
    name: &str,
    bytes: u64,
    segments: usize,
    oldest_unsent_ms: Option<i64>,
    figures: &WalFigures,
) -> Vec<MetricFamily> {
    let l = [("endpoint", name)];
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
    vec![
        MetricFamily::gauge("sonde_wal_bytes", "Bytes of the remote-write write-ahead log on disk.")
            .with_sample(&l, bytes as f64),
        MetricFamily::gauge("sonde_wal_segments", "Segments of the remote-write write-ahead log.")
            .with_sample(&l, segments as f64),
        MetricFamily::gauge(
            "sonde_wal_oldest_unsent_timestamp_seconds",
            "Newest sample time of the oldest undelivered segment (0 when everything was delivered).",
        )
        .with_sample(&l, oldest_unsent_ms.unwrap_or(0) as f64 / 1000.0),
        MetricFamily::counter(
            "sonde_wal_replayed_samples_total",
            "Undelivered samples found in the write-ahead log at start, sent since.",
        )
        .with_sample(&l, load(&figures.replayed)),
        MetricFamily::counter(
            "sonde_wal_dropped_samples_total",
            "Samples dropped from the write-ahead log to stay within max_size and max_age.",
        )
        .with_sample(&l, load(&figures.dropped)),
        MetricFamily::counter(
            "sonde_wal_truncated_bytes_total",
            "Bytes of a torn or corrupt log tail cut off at start.",
        )
        .with_sample(&l, load(&figures.truncated_bytes)),
    ]
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

/// Joins records' bodies into one request: protobuf messages of one type concatenate into one
/// (repeated fields append), so the bodies are decompressed, appended and compressed again.
fn combine(records: &[Record]) -> Vec<u8> {
    if let [one] = records {
        return one.payload.clone();
    }
    let mut protobuf = Vec::new();
    for record in records {
        match snap::raw::Decoder::new().decompress_vec(&record.payload) {
            Ok(bytes) => protobuf.extend_from_slice(&bytes),
            Err(e) => tracing::error!(error = %e, "undecodable write-ahead log record skipped"),
        }
    }
    snap::raw::Encoder::new()
        .compress_vec(&protobuf)
        .expect("snappy accepts any input below 4 GiB")
}

/// Keeps the logs within their bounds on a schedule of its own, whatever the senders do (a
/// sender may retry one batch for hours during an outage, exactly when the logs grow): syncs
/// them once a second under the `interval` policy, and drops segments older than `max_age`.
async fn keep_logs_bounded(
    wals: Vec<Arc<Mutex<Wal>>>,
    endpoint: Arc<Endpoint>,
    figures: Arc<WalFigures>,
    config: super::config::WalConfig,
) {
    let mut ticker = tokio::time::interval(UPKEEP_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        let cutoff = now_ms() - config.max_age.0.as_millis() as i64;
        for wal in &wals {
            let mut wal = wal.lock().unwrap_or_else(|e| e.into_inner());
            if config.sync == WalSync::Interval
                && let Err(e) = wal.sync()
            {
                tracing::error!(endpoint = %endpoint.name, error = %e, "cannot sync the write-ahead log");
            }
            match wal.drop_older_than(cutoff) {
                Ok(dropped) => {
                    figures.dropped.fetch_add(dropped, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::error!(endpoint = %endpoint.name, error = %e, "cannot drop old write-ahead log segments")
                }
            }
        }
    }
}

/// How often the logs are synced and checked against `max_age`.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Sends the log in order: waits for a full batch or the batch deadline, sends it, and moves
/// the log's position when the receiver answered. While a batch is retried, the log keeps
/// growing and being bounded ([`keep_logs_bounded`]); a batch the log dropped meanwhile is
/// abandoned. At shutdown it sends until the log is drained or the deadline passes.
async fn run_sender(
    endpoint: Arc<Endpoint>,
    wal: Arc<Mutex<Wal>>,
    wake: Arc<Notify>,
    config: RemoteWriteConfig,
    shutdown: watch::Receiver<Option<Instant>>,
) {
    let max_samples = config.queue.max_samples_per_send;
    let lock = || wal.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let stopping = shutdown.borrow().is_some();
        let records = lock().read_from_position(max_samples).unwrap_or_else(|e| {
            tracing::error!(endpoint = %endpoint.name, error = %e, "reading the write-ahead log");
            Vec::new()
        });
        let samples: usize = records.iter().map(|r| r.samples as usize).sum();
        // Wait for a full batch, unless the oldest record has waited long enough (or we stop).
        let oldest_ms = records.iter().map(|r| r.newest_ms).min().unwrap_or(0);
        let waited = Duration::from_millis((now_ms() - oldest_ms).max(0) as u64);
        let ready = !records.is_empty()
            && (samples >= max_samples || waited >= config.queue.batch_send_deadline.0 || stopping);
        if !ready {
            if records.is_empty() && stopping {
                return;
            }
            let wait = if records.is_empty() {
                Duration::from_secs(1)
            } else {
                config
                    .queue
                    .batch_send_deadline
                    .0
                    .saturating_sub(waited)
                    .min(Duration::from_secs(1))
            };
            let mut changed = shutdown.clone();
            tokio::select! {
                _ = tokio::time::timeout(wait, wake.notified()) => {}
                _ = changed.changed() => {}
            }
            continue;
        }
        let body = combine(&records);
        let last = records.last().expect("not empty").next;
        let delivery = endpoint
            .send(
                body,
                samples,
                Retrying {
                    deadline: Instant::now() + Duration::from_secs(86400 * 365),
                    shutdown: Some(shutdown.clone()),
                    abandoned: &|| lock().position() >= last,
                    backlog: &|| lock().pending_samples(),
                },
            )
            .await;
        match delivery {
            Delivery::Sent { .. } | Delivery::Rejected(_) => {
                if let Err(e) = lock().acknowledge(&records) {
                    tracing::error!(endpoint = %endpoint.name, error = %e, "cannot record the send position");
                }
            }
            Delivery::GaveUp(reason) => {
                if shutdown.borrow().is_some() {
                    tracing::warn!(endpoint = %endpoint.name, samples = lock().pending_samples(), %reason, "stopping with samples left in the write-ahead log; they are sent at the next start");
                    return;
                }
                // The batch was dropped from the log while it was retried: go on with what is
                // there now.
                continue;
            }
        }
        // Pace a backlog, if asked to.
        if config.queue.max_samples_per_second > 0 && samples >= max_samples {
            let pause = Duration::from_secs_f64(
                samples as f64 / config.queue.max_samples_per_second as f64,
            );
            tokio::time::sleep(pause).await;
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
    fn combined_records_decode_as_one_request() {
        let sample = |name: &str| SeriesSample {
            labels: vec![label("__name__", name)],
            value: 1.0,
            timestamp_ms: 5,
        };
        let record = |name: &str| Record {
            at: Default::default(),
            next: Default::default(),
            samples: 1,
            newest_ms: 5,
            payload: encode_batch(&[sample(name)], &[], &mut Vec::new()),
        };
        let body = combine(&[record("a"), record("b")]);
        let request = super::super::encode::decode(&body).unwrap();
        let names: Vec<&str> = request
            .timeseries
            .iter()
            .map(|t| t.labels[0].value.as_str())
            .collect();
        assert_eq!(names, ["a", "b"]);
    }
}
