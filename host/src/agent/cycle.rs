//! One collection of one plugin: the one path every sample takes, in the daemon's schedule and
//! in `collect --once` alike. The plugin is called, its families are decoded into the store over
//! its previous ones, its figures are recorded; when samples are remote-written, they are
//! relabeled, stamped with the collection's one timestamp, completed with staleness markers and
//! queued. The self-metrics take the same path as a plugin named `sonde`.

use crate::agent::backoff::{Backoff, Change as BackoffChange, MAX_PAUSE};
use crate::agent::stats::{AgentStats, failure_reason};
use crate::expose::store::LatestValues;
use crate::pipeline::Pipeline;
use crate::pipeline::staleness::StalenessTracker;
use crate::remote_write::proto::MetricMetadata;
use crate::remote_write::stats::now_ms;
use crate::remote_write::{RemoteWriteQueue, SeriesSample};
use crate::wasm::bindings::escape_control;
use crate::wasm::plugin::{CallError, Plugin};
use sonde_sdk::MetricFamily;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How often each plugin's metadata (HELP, TYPE) goes to endpoints with `send_metadata`, as
/// Prometheus sends it.
const METADATA_INTERVAL: Duration = Duration::from_secs(60);

/// A plugin and the config JSON it is called with.
pub struct ScheduledPlugin {
    /// The loaded plugin (shared: the agent may give it new code while it runs).
    pub plugin: Arc<Plugin>,
    /// Its config table as JSON.
    pub config_json: String,
    /// How often it collects (in the agent).
    pub interval: Duration,
}

/// Where collections put what they produce.
pub struct Sinks {
    /// The latest values, served on `/metrics`.
    pub store: Arc<LatestValues>,
    /// The plugins' figures, for the self-metrics.
    pub stats: Arc<AgentStats>,
    /// Target labels and relabeling for remote write; `None` when nothing is remote-written
    /// (then no series are made).
    pub pipeline: Option<Pipeline>,
    /// The daemon's remote-write queues ([`Sinks::send`]); `collect --once` pushes itself.
    pub queues: Vec<Arc<RemoteWriteQueue>>,
    /// Plugins whose first collection has not finished yet; when it reaches zero, start-up is
    /// over and its pages are released ([`crate::agent::memory::release_startup_pages`]).
    first_cycles_left: AtomicUsize,
}

impl Sinks {
    /// Sinks for the daemon: `first_cycles` plugins are starting (their first collections
    /// release the start-up pages when all are done).
    pub fn new(
        store: Arc<LatestValues>,
        stats: Arc<AgentStats>,
        pipeline: Option<Pipeline>,
        queues: Vec<Arc<RemoteWriteQueue>>,
        first_cycles: usize,
    ) -> Sinks {
        Sinks {
            store,
            stats,
            pipeline,
            queues,
            first_cycles_left: first_cycles.into(),
        }
    }

    /// Sends a tick's samples to every queue: one write-ahead-log record and one wake-up of
    /// each sender per tick.
    pub fn send(&self, outgoing: Outgoing) {
        let Outgoing { series, metadata } = outgoing;
        if let Some((last, rest)) = self.queues.split_last() {
            for queue in rest {
                queue.push(series.clone(), &metadata);
            }
            last.push(series, &metadata);
        }
    }

    /// Counts down the plugins' first collections.
    fn first_cycle_done(&self) {
        let left = self
            .first_cycles_left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if left == Ok(1) {
            crate::agent::memory::release_startup_pages();
        }
    }
}

/// The samples and metadata collections send to remote write.
#[derive(Debug, Default)]
pub struct Outgoing {
    /// Relabeled series, stamped.
    pub series: Vec<SeriesSample>,
    /// HELP and TYPE of the families, when due.
    pub metadata: Vec<MetricMetadata>,
}

/// How one collection went.
#[derive(Debug, Clone, Copy)]
pub struct Collected {
    /// How long it took.
    pub took: Duration,
    /// Whether it timed out.
    pub timed_out: bool,
    /// Whether it failed (trap, timeout, limits, an error of the plugin, a panic of the host).
    pub failed: bool,
}

/// A plugin with what its collections remember between cycles: staleness, back-off, metadata.
pub struct PluginCycle {
    name: String,
    plugin: ScheduledPlugin,
    staleness: StalenessTracker,
    backoff: Backoff,
    first_cycle: bool,
    last_metadata: Option<Instant>,
}

impl PluginCycle {
    /// The first cycle of `plugin`.
    pub fn new(plugin: ScheduledPlugin) -> PluginCycle {
        PluginCycle {
            name: plugin.plugin.name().to_owned(),
            plugin,
            staleness: StalenessTracker::new(),
            backoff: Backoff::default(),
            first_cycle: true,
            last_metadata: None,
        }
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Collects once: the families go to the store, the figures to the stats, and, when
    /// remote-written, the series and due metadata to `outgoing`. A plugin backing off skips
    /// the cycle. When `stopped` turns true during the call, its result is discarded (`None`).
    pub fn collect(
        &mut self,
        sinks: &Sinks,
        stopped: &dyn Fn() -> bool,
        outgoing: &mut Outgoing,
    ) -> Option<Collected> {
        if self.backoff.skip_this_cycle() {
            sinks.stats.skipped(&self.name);
            return Some(Collected {
                took: Duration::ZERO,
                timed_out: false,
                failed: false,
            });
        }
        let timestamp_ms = now_ms();
        let started = Instant::now();
        // A panic in the host's own code fails this cycle, not the thread.
        let name = &self.name;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let collected = self.plugin.plugin.call_collect(&self.plugin.config_json);
            if stopped() {
                return None;
            }
            // Decoded into the store's own families, the previous cycle's, under its lock: only
            // one cycle's families are ever kept.
            let decoded = collected.and_then(|collected| {
                sinks.store.update_with(name, |families| {
                    collected.decode_into(families)?;
                    Ok(families.iter().map(|f| f.samples.len()).sum::<usize>())
                })
            });
            self.plugin.plugin.after_decode(&decoded);
            Some(decoded)
        }));
        let took = started.elapsed();
        let result = result.transpose()?;
        let timed_out = matches!(result, Ok(Err(CallError::Timeout(_))));
        self.after_collect(sinks, &result, took);
        let name = &self.name;
        let mut series: Vec<SeriesSample> = Vec::new();
        match result {
            Ok(Ok(_)) => {
                // Relabeling and staleness only matter to remote write.
                if let Some(pipeline) = &sinks.pipeline {
                    sinks.store.read(name, |families| {
                        pipeline.process(name, families, timestamp_ms, &mut series)
                    });
                    let markers = self.staleness.update(&series, timestamp_ms);
                    series.extend(markers);
                }
            }
            Ok(Err(_)) | Err(_) => {
                sinks.store.fail(name);
                series = self.staleness.fail(timestamp_ms);
            }
        }
        if std::mem::take(&mut self.first_cycle) {
            sinks.first_cycle_done();
        }
        if sinks.pipeline.is_some() {
            if due(&mut self.last_metadata) {
                outgoing.metadata.extend(sinks.store.metadata(name));
            }
            outgoing.series.append(&mut series);
        }
        Some(Collected {
            took,
            timed_out,
            failed: !matches!(result, Ok(Ok(_))),
        })
    }

    /// Records the collection's figures and its back-off, and logs what changed.
    fn after_collect(
        &mut self,
        sinks: &Sinks,
        result: &Result<Result<usize, CallError>, Box<dyn std::any::Any + Send>>,
        took: Duration,
    ) {
        let name = &self.name;
        let interval = self.plugin.interval;
        let change = match result {
            Ok(Ok(_)) => self.backoff.succeeded(),
            Ok(Err(error)) => self.backoff.failed(failure_reason(error), interval),
            Err(_) => self.backoff.failed("panic", interval),
        };
        sinks
            .stats
            .set_backing_off(name, self.backoff.is_backing_off());
        let seconds = took.as_secs_f64();
        let counters = self.plugin.plugin.counters();
        let parts = self.plugin.plugin.take_parts();
        match result {
            Ok(Ok(samples)) => sinks
                .stats
                .record(name, seconds, Ok(*samples), counters, parts),
            Ok(Err(error)) => {
                sinks
                    .stats
                    .record(name, seconds, Err(error), counters, parts);
                let error = escape_control(&error.to_string()).into_owned();
                if matches!(change, Some(BackoffChange::Failing)) {
                    tracing::warn!(plugin = %name, %error, "collection failed")
                } else {
                    tracing::debug!(plugin = %name, %error, "collection failed again")
                }
            }
            Err(_) => tracing::error!(plugin = %name, "collection panicked"),
        }
        match change {
            Some(BackoffChange::BackingOff { failures }) => tracing::warn!(
                plugin = %name, failures, ?interval, max_pause = ?MAX_PAUSE,
                "plugin fails every cycle; backing off: attempts are spaced out until one succeeds"
            ),
            Some(BackoffChange::Recovered { failures }) => {
                tracing::info!(plugin = %name, failures, "plugin collects again after failing")
            }
            _ => {}
        }
    }
}

/// The self-metrics' cycle: they go through the pipeline as the families of a plugin named
/// `sonde`, stamped when gathered, with their metadata once a minute.
#[derive(Debug, Default)]
pub struct SelfMetricsCycle {
    last_metadata: Option<Instant>,
}

impl SelfMetricsCycle {
    /// Adds the series (and, when due, the metadata) of `families` to `outgoing`.
    pub fn collect(
        &mut self,
        families: &[MetricFamily],
        pipeline: &Pipeline,
        outgoing: &mut Outgoing,
    ) {
        pipeline.process("sonde", families, now_ms(), &mut outgoing.series);
        if due(&mut self.last_metadata) {
            outgoing
                .metadata
                .extend(crate::pipeline::metadata(families));
        }
    }
}

/// Whether metadata sent at `last` is due again (then `last` becomes now).
fn due(last: &mut Option<Instant>) -> bool {
    let due = last.is_none_or(|t| t.elapsed() >= METADATA_INTERVAL);
    if due {
        *last = Some(Instant::now());
    }
    due
}

/// Every plugin of a set collected once, one after another, through [`PluginCycle`]: what
/// `collect --once` runs, and benchmarks and tests that want the agent's path without its
/// schedule. Collected again, each plugin's families are decoded over its previous ones.
pub struct Round {
    cycles: Vec<PluginCycle>,
    sinks: Sinks,
}

impl Round {
    /// A round of `plugins` into `sinks`.
    pub fn new(plugins: Vec<ScheduledPlugin>, sinks: Sinks) -> Round {
        Round {
            cycles: plugins.into_iter().map(PluginCycle::new).collect(),
            sinks,
        }
    }

    /// A round that keeps the families and the figures only (no remote write).
    pub fn local(plugins: Vec<ScheduledPlugin>) -> Round {
        let sinks = Sinks::new(Arc::default(), Arc::default(), None, Vec::new(), 0);
        Round::new(plugins, sinks)
    }

    /// Collects every plugin once; what remote write needs goes to `outgoing`. Returns the
    /// names of the plugins that failed.
    pub fn run(&mut self, outgoing: &mut Outgoing) -> Vec<String> {
        let mut failed = Vec::new();
        for cycle in &mut self.cycles {
            let collected = cycle.collect(&self.sinks, &|| false, outgoing);
            if collected.is_some_and(|c| c.failed) {
                failed.push(cycle.name.clone());
            }
        }
        failed
    }

    /// Where the round's results are.
    pub fn sinks(&self) -> &Sinks {
        &self.sinks
    }

    /// The samples of the plugins' latest families.
    pub fn samples(&self) -> usize {
        self.cycles
            .iter()
            .map(|c| {
                self.sinks.store.read(&c.name, |families| {
                    families.iter().map(|f| f.samples.len()).sum::<usize>()
                })
            })
            .sum()
    }
}
