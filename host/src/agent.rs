//! `sonde run`: the daemon. Each enabled plugin collects on its own interval (start times
//! spread over the interval so plugins do not fire together), on its own thread, under its
//! time, memory and sample limits; results go through relabeling into the remote-write queues and
//! into the latest values served on `/metrics`. SIGHUP reloads the config (a bad one keeps the
//! running one), SIGTERM and SIGINT stop collection and flush the queues within a deadline.

use crate::compile_cache::CompileCache;
use crate::config::Config;
use crate::cycle::ScheduledPlugin;
use crate::instance;
use crate::loader;
use crate::pipeline::Pipeline;
use crate::remote_write::proto::MetricMetadata;
use crate::remote_write::stats::now_ms;
use crate::remote_write::{RemoteWriteConfig, RemoteWriteQueue, SeriesSample};
use crate::runtime::Runtime;
use crate::sandbox::{DEFAULT_READ_CAP, PathOverrides, RootPaths, Sandbox};
use crate::staleness::StalenessTracker;
use crate::stats::AgentStats;
use crate::store::{LatestValues, MetricsSource};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How often each plugin's metadata (HELP, TYPE) goes to endpoints with `send_metadata`.
const METADATA_INTERVAL: Duration = Duration::from_secs(60);

/// How long SIGTERM waits for the queues to drain.
pub const SHUTDOWN_FLUSH_DEADLINE: Duration = Duration::from_secs(10);

/// What every plugin loop shares: where samples go.
struct Sinks {
    pipeline: Pipeline,
    queues: Vec<Arc<RemoteWriteQueue>>,
    store: Arc<LatestValues>,
    stats: Arc<AgentStats>,
    /// Plugins whose first collection has not finished yet; when it reaches zero, start-up is
    /// over and its pages are released ([`crate::memory::release_startup_pages`]).
    first_cycles_left: std::sync::atomic::AtomicUsize,
}

/// The running configuration: plugins with their loops, queues, and what produced them.
struct Generation {
    config: Config,
    roots: RootPaths,
    runtime: Arc<Runtime>,
    queues: Vec<Arc<RemoteWriteQueue>>,
    /// One per plugin; dropping them stops the plugins' collection.
    plugin_threads: Vec<PluginThread>,
    self_metrics: JoinHandle<()>,
}

impl Generation {
    /// Stops collecting: plugin threads end at their next wait (a collection under way finishes
    /// and is discarded), the self-metrics loop at once.
    fn stop_collection(&mut self) {
        self.plugin_threads.clear();
        self.self_metrics.abort();
    }
}

/// The daemon, from `sonde run`.
pub struct Agent {
    config_path: PathBuf,
    overrides: PathOverrides,
    stats: Arc<AgentStats>,
    store: Arc<LatestValues>,
}

impl Agent {
    /// An agent for the config file at `config_path`, with `--path.*` overrides.
    pub fn new(config_path: PathBuf, overrides: PathOverrides) -> Agent {
        let stats = Arc::new(AgentStats::default());
        Agent {
            config_path,
            overrides,
            store: Arc::new(LatestValues::new(stats.clone())),
            stats,
        }
    }

    /// Runs until SIGTERM or SIGINT with an already loaded `config`; returns after the flush.
    pub async fn run(self, config: Config) -> anyhow::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangup = signal(SignalKind::hangup())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let (http_stop, http_stopped) = tokio::sync::watch::channel(false);
        let mut http = self.start_http(&config, http_stopped.clone()).await?;
        let mut current = self.start(config, None).await?;
        // The compiled plugins are mapped now.
        crate::memory::map_files_on_demand();
        tracing::info!(plugins = current.plugin_threads.len(), "sonde is running");
        loop {
            tokio::select! {
                _ = hangup.recv() => {
                    match Config::load(&self.config_path) {
                        Ok(config) => {
                            let listen_changed = config.http.listen != current.config.http.listen;
                            match self.start(config, Some(&mut current)).await {
                                Ok(next) => {
                                    current = next;
                                    tracing::info!(path = %self.config_path.display(), plugins = current.plugin_threads.len(), "config reloaded");
                                    if listen_changed {
                                        let _ = http_stop.send(true);
                                        if let Some(task) = http.take() { let _ = task.await; }
                                        let _ = http_stop.send(false);
                                        http = self.start_http(&current.config, http_stop.subscribe()).await.unwrap_or_else(|e| {
                                            tracing::error!(error = %e, "cannot serve /metrics with the new [http] settings");
                                            None
                                        });
                                    }
                                }
                                Err(e) => tracing::error!(error = %format!("{e:#}"), "reload failed; the running config stays"),
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "reload failed; the running config stays"),
                    }
                }
                _ = terminate.recv() => break,
                _ = interrupt.recv() => break,
            }
        }
        tracing::info!("stopping: collection ends, queues are flushed");
        current.stop_collection();
        let deadline = Instant::now() + SHUTDOWN_FLUSH_DEADLINE;
        for queue in &current.queues {
            let undelivered = queue.shutdown(deadline).await;
            if undelivered > 0 {
                tracing::warn!(endpoint = %queue.endpoint().name, undelivered, "samples left undelivered at shutdown");
            }
        }
        let _ = http_stop.send(true);
        if let Some(task) = http {
            let _ = task.await;
        }
        Ok(())
    }

    async fn start_http(
        &self,
        config: &Config,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> anyhow::Result<Option<JoinHandle<()>>> {
        match &config.http.listen {
            Some(listen) => {
                let address = listen.parse()?;
                Ok(Some(
                    crate::http::serve(address, self.store.clone(), stop).await?,
                ))
            }
            None => Ok(None),
        }
    }

    /// Loads the plugins of `config` and starts their loops. With `previous`, this is a reload:
    /// the new plugins are loaded first (a failure leaves the old ones running), then the old
    /// loops stop; queues whose config is unchanged are kept with what they hold, the others
    /// are flushed in the background.
    async fn start(
        &self,
        config: Config,
        previous: Option<&mut Generation>,
    ) -> anyhow::Result<Generation> {
        let roots = self.overrides.resolve(&config);
        let runtime = match &previous {
            Some(p) if p.roots == roots => p.runtime.clone(),
            _ => Arc::new(Runtime::new(Sandbox::open(
                roots.clone(),
                DEFAULT_READ_CAP,
            ))?),
        };
        let cache = match CompileCache::open(&config.global.cache_dir()) {
            Ok(cache) => Some(cache),
            Err(e) => {
                tracing::warn!(error = %e, "compiling plugins without a cache");
                None
            }
        };
        let load_runtime = runtime.clone();
        let load_config = config.clone();
        let plugins = tokio::task::spawn_blocking(move || {
            loader::load_enabled(&load_runtime, &load_config, cache.as_ref())
        })
        .await??
        .plugins;

        let mut kept: Vec<Arc<RemoteWriteQueue>> = Vec::new();
        let mut retired: Vec<Arc<RemoteWriteQueue>> = Vec::new();
        if let Some(p) = &previous {
            for queue in &p.queues {
                if config
                    .remote_write
                    .iter()
                    .any(|c| c.get_ref() == queue.config())
                {
                    kept.push(queue.clone());
                } else {
                    retired.push(queue.clone());
                }
            }
        }
        let mut queues = Vec::new();
        for endpoint in &config.remote_write {
            let endpoint: &RemoteWriteConfig = endpoint.get_ref();
            match kept.iter().find(|q| q.config() == endpoint) {
                Some(queue) => queues.push(queue.clone()),
                None => queues.push(Arc::new(RemoteWriteQueue::start(
                    endpoint,
                    &config.global.state_dir(),
                )?)),
            }
        }
        let sources: Vec<MetricsSource> = queues
            .iter()
            .map(|q| {
                let queue = q.clone();
                Arc::new(move || {
                    let mut families = queue.endpoint().stats.families();
                    families.extend(queue.wal_families());
                    families
                }) as MetricsSource
            })
            .collect();

        if let Some(p) = previous {
            p.stop_collection();
            for queue in retired {
                tokio::spawn(async move {
                    queue
                        .shutdown(Instant::now() + SHUTDOWN_FLUSH_DEADLINE)
                        .await;
                });
            }
        }
        let names: Vec<String> = plugins.iter().map(|p| p.plugin.name().to_owned()).collect();
        self.store.retain(&names);
        self.stats.retain(&names);
        self.store.set_extra(sources);

        let instance = instance::resolve(&config.global.instance, runtime.sandbox());
        let sinks = Arc::new(Sinks {
            pipeline: Pipeline::new(&config, instance),
            queues: queues.clone(),
            store: self.store.clone(),
            stats: self.stats.clone(),
            first_cycles_left: plugins.len().into(),
        });
        let plugin_threads = plugins
            .into_iter()
            .map(|plugin| PluginThread::start(plugin, sinks.clone()))
            .collect::<std::io::Result<_>>()?;
        let self_metrics = tokio::spawn(self_metrics_loop(config.global.interval.0, sinks));
        Ok(Generation {
            config,
            roots,
            runtime,
            queues,
            plugin_threads,
            self_metrics,
        })
    }
}

/// Where in its interval a plugin starts: a stable spread by name, so plugins do not all fire
/// at once and restarts keep the same rhythm.
fn start_offset(name: &str, interval: Duration) -> Duration {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut hasher);
    let millis = interval.as_millis().max(1) as u64;
    Duration::from_millis(hasher.finish() % millis)
}

/// A plugin's collection thread. A thread of its own rather than a task that hands each
/// collection to tokio's blocking pool: a cycle then costs one wake-up instead of three thread
/// switches (timer, blocking thread, back to the task), which at a few dozen switches per second
/// was a fifth of the agent's CPU. Dropping it stops the thread at its next wait.
struct PluginThread {
    stop: Arc<StopSignal>,
}

impl PluginThread {
    fn start(plugin: ScheduledPlugin, sinks: Arc<Sinks>) -> std::io::Result<PluginThread> {
        let stop = Arc::new(StopSignal::default());
        let signal = stop.clone();
        std::thread::Builder::new()
            .name(format!("sonde-{}", plugin.plugin.name()))
            .spawn(move || plugin_loop(plugin, &sinks, &signal))?;
        Ok(PluginThread { stop })
    }
}

impl Drop for PluginThread {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// Tells a plugin thread to stop, waking it if it sleeps.
#[derive(Default)]
struct StopSignal {
    stopped: std::sync::Mutex<bool>,
    wake: std::sync::Condvar,
}

impl StopSignal {
    fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_all();
    }

    fn is_stopped(&self) -> bool {
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sleeps until `deadline` or a stop; true when stopped.
    fn sleep_until(&self, deadline: std::time::Instant) -> bool {
        let stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        let timeout = deadline.saturating_duration_since(std::time::Instant::now());
        let (stopped, _) = self
            .wake
            .wait_timeout_while(stopped, timeout, |stopped| {
                !*stopped && std::time::Instant::now() < deadline
            })
            .unwrap_or_else(|e| e.into_inner());
        *stopped
    }
}

/// One plugin's schedule: a first collection at once (so the first sample is there as soon as
/// possible), then every interval at the plugin's own offset (a late cycle is skipped, never
/// queued up); each result is recorded, exposed and sent, unless collection was stopped
/// meanwhile.
fn plugin_loop(plugin: ScheduledPlugin, sinks: &Sinks, stop: &StopSignal) {
    let name = plugin.plugin.name().to_owned();
    let interval = plugin.interval;
    let mut next = std::time::Instant::now();
    let mut staleness = StalenessTracker::new();
    let mut first = true;
    let mut first_cycle = true;
    let mut last_metadata: Option<std::time::Instant> = None;
    loop {
        if stop.sleep_until(next) {
            return;
        }
        next += if first {
            interval + start_offset(&name, interval)
        } else {
            interval
        };
        first = false;
        let now = std::time::Instant::now();
        if next < now {
            next = now + interval;
        }
        let timestamp_ms = now_ms();
        // A panic in the host's own code fails this cycle, not the plugin's thread.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            plugin.plugin.collect(&plugin.config_json)
        }));
        let seconds = now.elapsed().as_secs_f64();
        if stop.is_stopped() {
            return;
        }
        let counters = plugin.plugin.counters();
        let mut series: Vec<SeriesSample> = Vec::new();
        match result {
            Ok(Ok(families)) => {
                let samples = families.iter().map(|f| f.samples.len()).sum();
                sinks.stats.record(&name, seconds, Ok(samples), counters);
                // Relabeling and staleness only matter to remote write.
                if !sinks.queues.is_empty() {
                    sinks
                        .pipeline
                        .process(&name, &families, timestamp_ms, &mut series);
                    let markers = staleness.update(&series, timestamp_ms);
                    series.extend(markers);
                }
                sinks.store.update(&name, families);
            }
            Ok(Err(error)) => {
                tracing::warn!(plugin = %name, %error, "collection failed");
                sinks.stats.record(&name, seconds, Err(&error), counters);
                sinks.store.update(&name, Vec::new());
                series = staleness.fail(timestamp_ms);
            }
            Err(_) => {
                tracing::error!(plugin = %name, "collection panicked");
                series = staleness.fail(timestamp_ms);
            }
        }
        if std::mem::take(&mut first_cycle)
            && sinks.first_cycles_left.fetch_sub(1, Ordering::AcqRel) == 1
        {
            crate::memory::release_startup_pages();
        }
        if sinks.queues.is_empty() {
            continue;
        }
        // HELP and TYPE once a minute, as Prometheus sends metadata (for endpoints that want it).
        let metadata = if last_metadata.is_none_or(|t| t.elapsed() >= METADATA_INTERVAL) {
            last_metadata = Some(std::time::Instant::now());
            sinks.store.metadata(&name)
        } else {
            Vec::new()
        };
        send(sinks, series, &metadata);
    }
}

/// The self-metrics, sent through remote write like a plugin's, every global interval.
async fn self_metrics_loop(interval: Duration, sinks: Arc<Sinks>) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        if sinks.queues.is_empty() {
            continue;
        }
        let mut series = Vec::new();
        sinks
            .pipeline
            .process("sonde", &sinks.store.self_metrics(), now_ms(), &mut series);
        send(&sinks, series, &[]);
    }
}

fn send(sinks: &Sinks, series: Vec<SeriesSample>, metadata: &[MetricMetadata]) {
    if let Some((last, rest)) = sinks.queues.split_last() {
        for queue in rest {
            queue.push(series.clone(), metadata);
        }
        last.push(series, metadata);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_offsets_spread_and_stay_within_the_interval() {
        let interval = Duration::from_secs(10);
        let offsets: Vec<Duration> = ["cpu", "mem", "disk", "net", "process", "system"]
            .iter()
            .map(|n| start_offset(n, interval))
            .collect();
        assert!(offsets.iter().all(|o| *o < interval));
        let distinct: std::collections::BTreeSet<_> = offsets.iter().collect();
        assert!(distinct.len() >= 5, "{offsets:?}");
        assert_eq!(start_offset("cpu", interval), offsets[0], "stable");
    }
}
