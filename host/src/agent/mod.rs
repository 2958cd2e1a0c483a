//! `sonde run`: the daemon. Each enabled plugin collects on its own interval, under its time,
//! memory and sample limits; plugins of the same interval collect one after another on one
//! thread (a slow one moves to a thread of its own); results go through relabeling into the
//! remote-write queues and into the latest values served on `/metrics`. SIGHUP reloads the
//! config (a bad one keeps the running one), SIGTERM and SIGINT stop collection and flush the
//! queues within a deadline.
//!
//! It uses everything below it: the config, the runtime, the pipeline, the store, the queues.

pub mod backoff;
pub mod cycle;
pub mod loader;
pub mod memory;
pub mod process_metrics;
mod schedule;
pub mod self_metrics;
pub mod stats;

use crate::agent::cycle::Sinks;
use crate::agent::self_metrics::SelfMetrics;
use crate::config::{Config, PathOverrides};
use crate::expose::store::LatestValues;
use crate::expose::web_config::WebConfig;
use crate::pipeline::instance;
use crate::remote_write::{RemoteWriteConfig, RemoteWriteQueue};
use crate::sandbox::{DEFAULT_READ_CAP, RootPaths, Sandbox};
use crate::wasm::compile_cache::CompileCache;
use crate::wasm::runtime::Runtime;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long SIGTERM waits for the queues to drain: a send still in flight then is abandoned and
/// no retry starts after it (what was not delivered stays in the write-ahead log), so the agent
/// stops within this, whatever the receiver does.
pub const SHUTDOWN_FLUSH_DEADLINE: Duration = Duration::from_secs(5);

/// The running configuration: plugins with their loops, queues, and what produced them.
struct Generation {
    config: Config,
    roots: RootPaths,
    runtime: Arc<Runtime>,
    queues: Vec<Arc<RemoteWriteQueue>>,
    plugin_count: usize,
    /// One per interval (and per plugin moved out of its group); dropping them stops the
    /// plugins' collection.
    threads: Vec<schedule::CollectionThread>,
    self_metrics: JoinHandle<()>,
    /// The compile cache the plugins were loaded through, if any.
    cache: Option<CompileCache>,
    /// The plugins the threads run.
    plugins: Vec<Arc<crate::wasm::plugin::Plugin>>,
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
    /// `--web.config.file`, which replaces `[http] web_config_file`.
    web_config_file: Option<PathBuf>,
    store: Arc<LatestValues>,
    self_metrics: Arc<SelfMetrics>,
}

impl Agent {
    /// An agent for the config file at `config_path`, with `--path.*` overrides.
    pub fn new(config_path: PathBuf, overrides: PathOverrides) -> Agent {
        Agent {
            config_path,
            overrides,
            web_config_file: None,
            store: Arc::new(LatestValues::new()),
            self_metrics: Arc::new(SelfMetrics::daemon(Arc::default())),
        }
    }

    /// The agent with `path` (`--web.config.file`) as its web config file, whatever the
    /// config's `[http] web_config_file` says.
    pub fn with_web_config_file(mut self, path: Option<PathBuf>) -> Agent {
        self.web_config_file = path;
        self
    }

    /// The web config the endpoint serves with under `config` (read now, certificates
    /// included), or `None` when there is no web config file.
    fn web_config(&self, config: &Config) -> anyhow::Result<Option<Arc<WebConfig>>> {
        let path = self
            .web_config_file
            .as_ref()
            .or(config.http.web_config_file.as_ref());
        path.map(|path| WebConfig::load(path).map(Arc::new))
            .transpose()
            .map_err(|e| anyhow::anyhow!("web config: {e}"))
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
        let (web_config, web_config_now) =
            tokio::sync::watch::channel(self.web_config(&current.config)?);
        let mut http = self
            .start_http(
                &current.config,
                web_config_now.clone(),
                http_stopped.clone(),
            )
            .await?;
        // The compiled plugins are mapped now.
        crate::agent::memory::map_files_on_demand();
        tracing::info!(plugins = current.plugin_count, "sonde is running");
        loop {
            tokio::select! {
                _ = hangup.recv() => {
                    // The web config file and its certificates are read again too; a bad
                    // one fails the reload, like a bad config.
                    let loaded = Config::load(&self.config_path)
                        .map_err(anyhow::Error::from)
                        .and_then(|config| Ok((self.web_config(&config)?, config)));
                    match loaded {
                        Ok((web, config)) => {
                            let listen_changed = config.http != current.config.http;
                            match self.start(config, Some(&mut current)).await {
                                Ok(next) => {
                                    current = next;
                                    web_config.send_replace(web);
                                    compile_natively_later(&current);
                                    tracing::info!(path = %self.config_path.display(), plugins = current.plugin_count, "config reloaded");
                                    if listen_changed {
                                        let _ = http_stop.send(true);
                                        if let Some(task) = http.take() { let _ = task.await; }
                                        let _ = http_stop.send(false);
                                        http = self.start_http(&current.config, web_config.subscribe(), http_stop.subscribe()).await.unwrap_or_else(|e| {
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
        web: tokio::sync::watch::Receiver<Option<Arc<WebConfig>>>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> anyhow::Result<Option<JoinHandle<()>>> {
        match &config.http.listen {
            Some(listen) => {
                let address = listen.parse()?;
                Ok(Some(
                    crate::expose::http::serve(
                        address,
                        self.store.clone(),
                        self.self_metrics.clone(),
                        config.http.limits(),
                        web,
                        stop,
                    )
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
        self.self_metrics.stats().retain(&names);
        self.self_metrics.set_queues(queues.clone());

        let instance = instance::resolve(&config.global.instance, runtime.sandbox());
        let pipeline = (!queues.is_empty()).then(|| config.pipeline(instance));
        let sinks = Arc::new(Sinks::new(
            self.store.clone(),
            self.self_metrics.stats().clone(),
            pipeline,
            queues.clone(),
            plugins.len(),
        ));
        let plugin_count = plugins.len();
        let loaded = plugins.iter().map(|p| p.plugin.clone()).collect();
        let threads = schedule::start_threads(plugins, &sinks)?;
        let self_metrics = tokio::spawn(schedule::self_metrics_loop(
            config.global.interval.0,
            sinks,
            self.self_metrics.clone(),
        ));
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
        let builtins = crate::wasm::builtin::Builtins::new();
        for plugin in &plugins {
            // Only built-ins start on precompiled code; a `path` under a built-in's name is
            // matched by its bytes, so it is never given the built-in's code.
            let Some(wasm) = builtins.component(plugin.name()) else {
                continue;
            };
            if let Some((_, component)) = compiled.iter().find(|(w, _)| *w == wasm) {
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
