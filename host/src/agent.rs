//! `sonde run`: the daemon. Each enabled plugin collects on its own interval, under its time,
//! memory and sample limits; plugins of the same interval collect one after another on one
//! thread (a slow one moves to a thread of its own); results go through relabeling into the
//! remote-write queues and into the latest values served on `/metrics`. SIGHUP reloads the
//! config (a bad one keeps the running one), SIGTERM and SIGINT stop collection and flush the
//! queues within a deadline.

use crate::backoff::Change as BackoffChange;
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
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How often each plugin's metadata (HELP, TYPE) goes to endpoints with `send_metadata`.
const METADATA_INTERVAL: Duration = Duration::from_secs(60);

/// How long SIGTERM waits for the queues to drain: a send still in flight then is abandoned and
/// no retry starts after it (what was not delivered stays in the write-ahead log), so the agent
/// stops within this, whatever the receiver does.
pub const SHUTDOWN_FLUSH_DEADLINE: Duration = Duration::from_secs(5);

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
    plugin_count: usize,
    /// One per interval (and per plugin moved out of its group); dropping them stops the
    /// plugins' collection.
    threads: Vec<CollectionThread>,
    self_metrics: JoinHandle<()>,
    /// The compile cache the plugins were loaded through, if any.
    cache: Option<CompileCache>,
    /// The plugins the threads run.
    plugins: Vec<Arc<crate::plugin::Plugin>>,
}

impl Generation {
    /// Stops collecting: plugin threads end at their next wait (a collection under way finishes
    /// and is discarded), the self-metrics loop at once.
    fn stop_collection(&mut self) {
        self.threads.clear();
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
        // The plugins load first: a config that does not fully load never binds anything.
        let mut current = self.start(config, None).await?;
        compile_natively_later(&current);
        let (http_stop, http_stopped) = tokio::sync::watch::channel(false);
        let mut http = self
            .start_http(&current.config, http_stopped.clone())
            .await?;
        // The compiled plugins are mapped now.
        crate::memory::map_files_on_demand();
        tracing::info!(plugins = current.plugin_count, "sonde is running");
        loop {
            tokio::select! {
                _ = hangup.recv() => {
                    match Config::load(&self.config_path) {
                        Ok(config) => {
                            let listen_changed = config.http != current.config.http;
                            match self.start(config, Some(&mut current)).await {
                                Ok(next) => {
                                    current = next;
                                    compile_natively_later(&current);
                                    tracing::info!(path = %self.config_path.display(), plugins = current.plugin_count, "config reloaded");
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
            let stats = &queue.endpoint().stats;
            let (sent, failed) = (stats.sent_total(), stats.failed_total());
            if undelivered > 0 {
                tracing::warn!(endpoint = %queue.endpoint().name, sent, failed, undelivered, "samples left undelivered at shutdown");
            } else {
                tracing::info!(endpoint = %queue.endpoint().name, sent, failed, "queue flushed");
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
                    crate::http::serve(address, self.store.clone(), config.http.limits(), stop)
                        .await?,
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
        runtime
            .memory_budget()
            .set_limit(config.global.plugins_memory_limit.0 as usize);
        let cache = match CompileCache::open(&config.global.cache_dir()) {
            Ok(cache) => Some(cache.compiling_in_child()),
            Err(e) => {
                tracing::warn!(error = %e, "compiling plugins without a cache");
                None
            }
        };
        let load_runtime = runtime.clone();
        let load_config = config.clone();
        let load_cache = cache.clone();
        let plugins = tokio::task::spawn_blocking(move || {
            loader::load_enabled(&load_runtime, &load_config, load_cache.as_ref())
        })
        .await??;

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
            .chain([Arc::new(crate::process_metrics::families) as MetricsSource])
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
        let plugin_count = plugins.len();
        let loaded = plugins.iter().map(|p| p.plugin.clone()).collect();
        let threads = start_threads(plugins, &sinks)?;
        let self_metrics = tokio::spawn(self_metrics_loop(config.global.interval.0, sinks));
        Ok(Generation {
            config,
            roots,
            runtime,
            queues,
            plugin_count,
            threads,
            self_metrics,
            cache,
            plugins: loaded,
        })
    }
}

/// When plugins of `generation` started on the built-ins' precompiled baseline code, compiles
/// their code for this CPU in the background (child processes, one after another) and gives it
/// to them: the first samples come at once, and a few seconds later the plugins run code that
/// uses the CPU's features (~9% less CPU per cycle here; see docs/design.md). Each takes its new
/// code at its next call, on a fresh instance, on its schedule.
fn compile_natively_later(generation: &Generation) {
    let Some(cache) = generation.cache.clone().filter(CompileCache::has_baseline) else {
        return;
    };
    let engine = generation.runtime.engine().clone();
    let plugins = generation.plugins.clone();
    tokio::task::spawn_blocking(move || {
        let compiled = cache.compile_natively(&engine);
        let mut replaced = 0;
        for plugin in &plugins {
            // Only built-ins start on precompiled code; a `path` under a built-in's name is
            // matched by its bytes, so it is never given the built-in's code.
            let Some(wasm) = crate::builtin::builtin(plugin.name()) else {
                continue;
            };
            if let Some((_, component)) = compiled.iter().find(|(w, _)| w == wasm) {
                match plugin.replace_code(component) {
                    Ok(()) => replaced += 1,
                    Err(e) => {
                        tracing::warn!(plugin = %plugin.name(), error = %format!("{e:#}"), "keeping the precompiled code")
                    }
                }
            }
        }
        tracing::info!(
            plugins = replaced,
            "the built-in plugins now run code compiled for this CPU"
        );
    });
}

/// A collection thread: the plugins of one interval, collected one after another at every
/// tick, or a single plugin moved out of its group. Dropping it stops the thread at its next wait.
///
/// Why threads of our own and why groups: a tokio task per plugin that handed each collection
/// to the blocking pool cost three thread switches per plugin and cycle, and plugins spread
/// over the interval each ran with cold caches. Collecting a group back to back costs one
/// wake-up per tick and runs the host's and kernel's shared paths warm (measured at a 1 s
/// interval, 60 s side by side: 9.5 ms of CPU per cycle for tasks, 7.1 ms for a thread per
/// plugin, 6.0 ms aligned).
struct CollectionThread {
    stop: Arc<StopSignal>,
}

impl CollectionThread {
    /// Starts collecting `members` every `interval`, the first time at once (so the first
    /// samples are there as soon as possible), or at `first` when given.
    fn start(
        interval: Duration,
        members: Vec<Member>,
        first: Option<std::time::Instant>,
        sinks: Arc<Sinks>,
    ) -> std::io::Result<CollectionThread> {
        let stop = Arc::new(StopSignal::default());
        let signal = stop.clone();
        let name = match &members[..] {
            [one] => format!("sonde-{}", one.name),
            _ => format!("sonde-{}s", interval.as_secs_f64()),
        };
        std::thread::Builder::new().name(name).spawn(move || {
            let first = first.unwrap_or_else(std::time::Instant::now);
            collection_loop(interval, members, first, &sinks, &signal)
        })?;
        Ok(CollectionThread { stop })
    }
}

impl Drop for CollectionThread {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// Starts one thread per interval: its plugins collect together.
fn start_threads(
    plugins: Vec<ScheduledPlugin>,
    sinks: &Arc<Sinks>,
) -> std::io::Result<Vec<CollectionThread>> {
    let mut groups: std::collections::BTreeMap<Duration, Vec<Member>> = Default::default();
    for plugin in plugins {
        groups
            .entry(plugin.interval)
            .or_default()
            .push(Member::new(plugin));
    }
    groups
        .into_iter()
        .map(|(interval, members)| CollectionThread::start(interval, members, None, sinks.clone()))
        .collect()
}

/// Tells a collection thread to stop, waking it if it sleeps.
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

/// A collection thread's schedule: every interval from `first` (a late tick is skipped, never
/// queued up), each member collected in turn. A member that takes more than
/// [`SLOW_SHARE`] of the interval, or times out, would hold the others back: it moves to a
/// thread of its own, on the same schedule.
fn collection_loop(
    interval: Duration,
    mut members: Vec<Member>,
    first: std::time::Instant,
    sinks: &Arc<Sinks>,
    stop: &StopSignal,
) {
    let mut next = first;
    let mut moved_out = Vec::new();
    loop {
        if stop.sleep_until(next) {
            return;
        }
        next += interval;
        let now = std::time::Instant::now();
        if next < now {
            next = now + interval;
        }
        let shared = members.len() > 1;
        // What the tick's plugins send goes to the queues in one push: one write-ahead-log
        // record and one wake-up of each sender per tick, not one per plugin.
        let mut outgoing = Outgoing::default();
        let mut index = 0;
        while index < members.len() {
            let Some(slow) = members[index].collect(sinks, stop, &mut outgoing) else {
                return;
            };
            if shared && (slow.timed_out || slow.took > interval.mul_f64(SLOW_SHARE)) {
                let member = members.remove(index);
                tracing::warn!(plugin = %member.name, took = ?slow.took, "plugin is slow; it collects on a thread of its own from now on");
                match CollectionThread::start(interval, vec![member], Some(next), sinks.clone()) {
                    Ok(thread) => moved_out.push(thread),
                    Err(e) => tracing::error!(error = %e, "cannot start a collection thread"),
                }
                continue;
            }
            index += 1;
        }
        // Stopped while the tick's plugins ran: the queues are flushing, the tick is discarded
        // (a push now would land after the flush, left for the next start).
        if stop.is_stopped() {
            return;
        }
        send(sinks, outgoing);
        if members.is_empty() {
            // Everything moved out: this thread keeps their threads until it is stopped.
            while !stop.sleep_until(std::time::Instant::now() + Duration::from_secs(3600)) {}
            return;
        }
    }
}

/// The share of its interval a plugin may take before it leaves its group.
const SLOW_SHARE: f64 = 0.25;

/// The samples and metadata a tick sends to the remote-write queues.
#[derive(Default)]
struct Outgoing {
    series: Vec<SeriesSample>,
    metadata: Vec<MetricMetadata>,
}

/// How long one collection took, and whether it timed out.
struct CollectionTime {
    took: Duration,
    timed_out: bool,
}

/// A plugin with what its loop remembers between cycles.
struct Member {
    name: String,
    plugin: ScheduledPlugin,
    staleness: StalenessTracker,
    backoff: crate::backoff::Backoff,
    first_cycle: bool,
    last_metadata: Option<std::time::Instant>,
}

impl Member {
    fn new(plugin: ScheduledPlugin) -> Member {
        Member {
            name: plugin.plugin.name().to_owned(),
            plugin,
            staleness: StalenessTracker::new(),
            backoff: Default::default(),
            first_cycle: true,
            last_metadata: None,
        }
    }

    /// Collects once, records and exposes the result and adds what remote write needs to
    /// `outgoing`, unless collection was stopped meanwhile (then `None`).
    fn collect(
        &mut self,
        sinks: &Sinks,
        stop: &StopSignal,
        outgoing: &mut Outgoing,
    ) -> Option<CollectionTime> {
        let name = &self.name;
        if self.backoff.skip_this_cycle() {
            sinks.stats.skipped(name);
            return Some(CollectionTime {
                took: Duration::ZERO,
                timed_out: false,
            });
        }
        let timestamp_ms = now_ms();
        let started = std::time::Instant::now();
        // A panic in the host's own code fails this cycle, not the thread.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let collected = self.plugin.plugin.call_collect(&self.plugin.config_json);
            if stop.is_stopped() {
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
        let timed_out = matches!(result, Ok(Err(crate::plugin::CallError::Timeout(_))));
        let counters = self.plugin.plugin.counters();
        let seconds = took.as_secs_f64();
        let mut series: Vec<SeriesSample> = Vec::new();
        let change = match &result {
            Ok(Ok(_)) => self.backoff.succeeded(),
            Ok(Err(error)) => self
                .backoff
                .failed(crate::stats::failure_reason(error), self.plugin.interval),
            Err(_) => self.backoff.failed("panic", self.plugin.interval),
        };
        sinks
            .stats
            .set_backing_off(name, self.backoff.is_backing_off());
        match (&result, change) {
            (Ok(Err(error)), Some(BackoffChange::Failing)) => {
                tracing::warn!(plugin = %name, error = %crate::bindings::escape_control(&error.to_string()), "collection failed")
            }
            (Ok(Err(error)), _) => {
                tracing::debug!(plugin = %name, error = %crate::bindings::escape_control(&error.to_string()), "collection failed again")
            }
            _ => {}
        }
        match change {
            Some(BackoffChange::BackingOff { failures }) => tracing::warn!(
                plugin = %name, failures, interval = ?self.plugin.interval, max_pause = ?crate::backoff::MAX_PAUSE,
                "plugin fails every cycle; backing off: attempts are spaced out until one succeeds"
            ),
            Some(BackoffChange::Recovered { failures }) => {
                tracing::info!(plugin = %name, failures, "plugin collects again after failing")
            }
            _ => {}
        }
        match result {
            Ok(Ok(samples)) => {
                sinks.stats.record(name, seconds, Ok(samples), counters);
                // Relabeling and staleness only matter to remote write.
                if !sinks.queues.is_empty() {
                    sinks.store.read(name, |families| {
                        sinks
                            .pipeline
                            .process(name, families, timestamp_ms, &mut series)
                    });
                    let markers = self.staleness.update(&series, timestamp_ms);
                    series.extend(markers);
                }
            }
            Ok(Err(error)) => {
                sinks.stats.record(name, seconds, Err(&error), counters);
                sinks.store.fail(name);
                series = self.staleness.fail(timestamp_ms);
            }
            Err(_) => {
                tracing::error!(plugin = %name, "collection panicked");
                sinks.store.fail(name);
                series = self.staleness.fail(timestamp_ms);
            }
        }
        if std::mem::take(&mut self.first_cycle)
            && sinks.first_cycles_left.fetch_sub(1, Ordering::AcqRel) == 1
        {
            crate::memory::release_startup_pages();
        }
        if !sinks.queues.is_empty() {
            // HELP and TYPE once a minute, as Prometheus sends metadata (for endpoints that
            // want it).
            if self
                .last_metadata
                .is_none_or(|t| t.elapsed() >= METADATA_INTERVAL)
            {
                self.last_metadata = Some(std::time::Instant::now());
                outgoing.metadata.extend(sinks.store.metadata(name));
            }
            outgoing.series.append(&mut series);
        }
        Some(CollectionTime { took, timed_out })
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
        send(
            &sinks,
            Outgoing {
                series,
                metadata: Vec::new(),
            },
        );
    }
}

fn send(sinks: &Sinks, outgoing: Outgoing) {
    let Outgoing { series, metadata } = outgoing;
    if let Some((last, rest)) = sinks.queues.split_last() {
        for queue in rest {
            queue.push(series.clone(), &metadata);
        }
        last.push(series, &metadata);
    }
}
