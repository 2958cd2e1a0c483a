//! The WebAssembly runtime: one wasmtime [`Engine`] and one [`Linker`] for every plugin, and the
//! epoch ticker that enforces plugin deadlines.
//!
//! wasmtime's API, which changes with every wasmtime release, is used only inside
//! [`crate::wasm`].

use crate::sandbox::Sandbox;
use crate::wasm::bindings::{self, MemoryBudget, PluginState};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

/// How often the epoch advances; plugin deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The shared engine, linker and sandbox. Cheap to share behind an `Arc`.
pub struct Runtime {
    engine: Engine,
    linker: Linker<PluginState>,
    sandbox: Arc<Sandbox>,
    memory: Arc<MemoryBudget>,
    ticker: Arc<Ticker>,
    ticker_thread: Option<JoinHandle<()>>,
}

/// The default of `[global] plugins_memory_limit`: the linear memory of all plugins together.
pub const DEFAULT_PLUGINS_MEMORY_LIMIT: usize = 96 << 20;

/// Advances the engine's epoch every [`EPOCH_TICK`], but only while a plugin call is running:
/// an idle agent does not wake up 200 times a second for nothing.
#[derive(Default)]
struct Ticker {
    state: Mutex<TickerState>,
    wake: Condvar,
}

/// What the ticker and the calls share, under the ticker's lock.
#[derive(Default)]
struct TickerState {
    /// Plugin calls in progress.
    active: usize,
    /// The runtime is shutting down.
    stop: bool,
    /// The ticker waits for a call (rather than sleeping out a tick): only then does a call
    /// have to wake it, so back-to-back calls cost no futex wake each.
    waiting: bool,
}

/// Keeps the epoch ticking while alive; see [`Runtime::enter_call`].
pub struct ActiveCall<'a> {
    ticker: &'a Ticker,
}

impl Drop for ActiveCall<'_> {
    fn drop(&mut self) {
        let mut state = self.ticker.state.lock().unwrap_or_else(|e| e.into_inner());
        state.active -= 1;
    }
}

impl Runtime {
    /// Builds the engine ([`crate::wasm::engine_config`]; `SONDE_PERFMAP=1` writes `/tmp/perf-<pid>.map` so
    /// `perf report` can name JIT frames), links WASI with an
    /// empty context and the `sonde:collector/host` interface of each plugin API version, and starts
    /// the epoch ticker.
    pub fn new(sandbox: Sandbox) -> anyhow::Result<Runtime> {
        let mut config = crate::wasm::engine_config::config();
        if std::env::var_os("SONDE_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        // Each plugin API version's `host` interface, under its own name.
        bindings::v0_1::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;
        bindings::v0_2::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;
        bindings::v0_2_2::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;

        let ticker = Arc::new(Ticker::default());
        let weak = engine.weak();
        let thread_ticker = ticker.clone();
        let handle = std::thread::Builder::new()
            .name("sonde-epoch".into())
            .spawn(move || {
                loop {
                    {
                        let state = thread_ticker
                            .state
                            .lock()
                            .unwrap_or_else(|e| e.into_inner());
                        let mut state = thread_ticker
                            .wake
                            .wait_while(state, |state| {
                                state.waiting = state.active == 0 && !state.stop;
                                state.waiting
                            })
                            .unwrap_or_else(|e| e.into_inner());
                        state.waiting = false;
                        if state.stop {
                            break;
                        }
                    }
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })?;
        Ok(Runtime {
            engine,
            linker,
            sandbox: Arc::new(sandbox),
            memory: Arc::new(MemoryBudget::new(DEFAULT_PLUGINS_MEMORY_LIMIT)),
            ticker,
            ticker_thread: Some(handle),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker every plugin is instantiated with.
    pub fn linker(&self) -> &Linker<PluginState> {
        &self.linker
    }

    /// Marks a plugin call as running, so the epoch advances and its deadline can fire.
    pub fn enter_call(&self) -> ActiveCall<'_> {
        let mut state = self.ticker.state.lock().unwrap_or_else(|e| e.into_inner());
        state.active += 1;
        if state.waiting {
            self.ticker.wake.notify_one();
        }
        ActiveCall {
            ticker: &self.ticker,
        }
    }

    /// The roots plugins read from.
    pub fn sandbox(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    /// The linear memory all plugins' instances share (see [`MemoryBudget`]).
    pub fn memory_budget(&self) -> &Arc<MemoryBudget> {
        &self.memory
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stop = true;
        self.ticker.wake.notify_one();
        if let Some(handle) = self.ticker_thread.take() {
            let _ = handle.join();
        }
    }
}

/// Converts a timeout to epoch ticks, at least one.
pub fn ticks(timeout: Duration) -> u64 {
    (timeout.as_nanos() / EPOCH_TICK.as_nanos()).max(1) as u64
}
