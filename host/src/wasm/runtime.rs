//! The WebAssembly runtime: one wasmtime [`Engine`] and one [`Linker`] for every plugin, and the
//! watchdog that enforces plugin deadlines.
//!
//! wasmtime's API, which changes with every wasmtime release, is used only inside
//! [`crate::wasm`].

use crate::sandbox::Sandbox;
use crate::wasm::bindings::{self, MemoryBudget, PluginState};
use rustix::time::{
    ClockId, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec,
};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

/// The shared engine, linker and sandbox. Cheap to share behind an `Arc`.
pub struct Runtime {
    engine: Engine,
    linker: Linker<PluginState>,
    sandbox: Arc<Sandbox>,
    memory: Arc<MemoryBudget>,
    watchdog: Arc<Watchdog>,
    watchdog_thread: Option<JoinHandle<()>>,
}

/// The default of `[global] plugins_memory_limit`: the linear memory of all plugins together.
pub const DEFAULT_PLUGINS_MEMORY_LIMIT: usize = 96 << 20;

/// Interrupts plugin calls that run past their deadline, at no cost to the calls that do not.
///
/// Every store runs with an epoch deadline one tick ahead, and the engine's epoch advances only
/// when a running call's deadline has passed: a thread waits on a timer (`timerfd`, on
/// `CLOCK_MONOTONIC`) that the calls arm for the earliest deadline among them and disarm when
/// the last one ends. So a cycle whose calls end in time wakes no second thread at all (an
/// epoch advanced every few milliseconds while a call ran woke one twice per cycle). When the
/// epoch does advance, each running store asks [`expired`] about its own call: the one past
/// its deadline traps, the others carry on.
struct Watchdog {
    state: Mutex<WatchState>,
    timer: OwnedFd,
}

/// What the watchdog and the calls share, under its lock.
#[derive(Default)]
struct WatchState {
    /// The calls in progress: an id and the deadline, in [`monotonic_ns`].
    calls: Vec<(u64, u64)>,
    next_id: u64,
    /// When the timer is armed to fire, if it is.
    armed: Option<u64>,
    /// The runtime is shutting down.
    stop: bool,
}

impl Watchdog {
    fn new() -> std::io::Result<Watchdog> {
        let timer = rustix::time::timerfd_create(TimerfdClockId::Monotonic, TimerfdFlags::CLOEXEC)?;
        Ok(Watchdog {
            state: Mutex::new(WatchState::default()),
            timer,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WatchState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Arms the timer to fire at `at` ([`monotonic_ns`]), or disarms it (`None`).
    fn arm(&self, state: &mut WatchState, at: Option<u64>) {
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let value = at.map_or(zero, |ns| Timespec {
            tv_sec: (ns / 1_000_000_000) as i64,
            // At least 1 ns: an all-zero time would disarm the timer.
            tv_nsec: ((ns % 1_000_000_000) as i64).max(i64::from(ns == 0)),
        });
        let spec = Itimerspec {
            it_interval: zero,
            it_value: value,
        };
        // Fails only for a bad descriptor or time, neither of which this passes.
        if let Err(e) =
            rustix::time::timerfd_settime(&self.timer, TimerfdTimerFlags::ABSTIME, &spec)
        {
            tracing::error!(error = %e, "plugin deadline timer could not be set");
        }
        state.armed = at;
    }

    /// Registers a call with `timeout` to finish, arming the timer if its deadline is the
    /// earliest.
    fn enter(&self, timeout: Duration) -> ActiveCall<'_> {
        let timeout = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        let deadline = monotonic_ns().saturating_add(timeout);
        let mut state = self.lock();
        let id = state.next_id;
        state.next_id += 1;
        state.calls.push((id, deadline));
        if state.armed.is_none_or(|armed| armed > deadline) {
            self.arm(&mut state, Some(deadline));
        }
        ActiveCall {
            watchdog: self,
            id,
            deadline,
        }
    }

    /// The watchdog thread: waits for the timer; when it fires, advances the epoch if a call's
    /// deadline has passed and arms the timer for the next deadline still ahead.
    fn run(&self, engine: wasmtime::EngineWeak) {
        let mut expirations = [0u8; 8];
        loop {
            match rustix::io::read(&self.timer, &mut expirations) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => {
                    tracing::error!(error = %e, "plugin deadline timer failed; deadlines are no longer enforced");
                    return;
                }
            }
            let mut state = self.lock();
            if state.stop {
                return;
            }
            let now = monotonic_ns();
            if state.calls.iter().any(|&(_, deadline)| deadline <= now) {
                match engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => return,
                }
            }
            let next = state
                .calls
                .iter()
                .map(|&(_, deadline)| deadline)
                .filter(|&deadline| deadline > now)
                .min();
            self.arm(&mut state, next);
        }
    }
}

/// A plugin call in progress, under its deadline; see [`Runtime::enter_call`].
pub struct ActiveCall<'a> {
    watchdog: &'a Watchdog,
    id: u64,
    deadline: u64,
}

impl ActiveCall<'_> {
    /// When the call's time is up, in [`monotonic_ns`]: what [`expired`] compares with.
    pub fn deadline(&self) -> u64 {
        self.deadline
    }
}

impl Drop for ActiveCall<'_> {
    fn drop(&mut self) {
        let mut state = self.watchdog.lock();
        state.calls.retain(|&(id, _)| id != self.id);
        // The timer was armed for this call's deadline if it was the earliest: move it to the
        // next one (or disarm it after the last call) rather than wake the watchdog for nothing.
        if state.armed.is_some() && (state.calls.is_empty() || state.armed == Some(self.deadline)) {
            let next = state.calls.iter().map(|&(_, deadline)| deadline).min();
            if next != state.armed {
                self.watchdog.arm(&mut state, next);
            }
        }
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock plugin deadlines are counted on.
pub fn monotonic_ns() -> u64 {
    let now = rustix::time::clock_gettime(ClockId::Monotonic);
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// Whether a call with this [`ActiveCall::deadline`] has run out of time: asked by a store
/// when the watchdog advanced the epoch.
pub fn expired(deadline: u64) -> bool {
    monotonic_ns() >= deadline
}

impl Runtime {
    /// Builds the engine ([`crate::wasm::engine_config`]; `SONDE_PERFMAP=1` writes `/tmp/perf-<pid>.map` so
    /// `perf report` can name JIT frames), links WASI with an
    /// empty context and the `sonde:collector/host` interface of each plugin API version, and starts
    /// the deadline watchdog.
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

        let watchdog = Arc::new(Watchdog::new()?);
        let weak = engine.weak();
        let thread_watchdog = watchdog.clone();
        let handle = std::thread::Builder::new()
            .name("sonde-deadline".into())
            .spawn(move || thread_watchdog.run(weak))?;
        Ok(Runtime {
            engine,
            linker,
            sandbox: Arc::new(sandbox),
            memory: Arc::new(MemoryBudget::new(DEFAULT_PLUGINS_MEMORY_LIMIT)),
            watchdog,
            watchdog_thread: Some(handle),
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

    /// Marks a plugin call as running with `timeout` to finish: until the returned guard is
    /// dropped, the epoch advances once the deadline passes (and the store, asking [`expired`],
    /// traps).
    pub fn enter_call(&self, timeout: Duration) -> ActiveCall<'_> {
        self.watchdog.enter(timeout)
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
        {
            let mut state = self.watchdog.lock();
            state.stop = true;
            // Fires at once (an absolute time long past) and wakes the thread to see `stop`.
            self.watchdog.arm(&mut state, Some(0));
        }
        if let Some(handle) = self.watchdog_thread.take() {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// When the timer is set to fire, in [`monotonic_ns`]; `None` when disarmed.
    fn timer_expiry(watchdog: &Watchdog) -> Option<u64> {
        let spec = rustix::time::timerfd_gettime(&watchdog.timer).unwrap();
        let remaining = spec.it_value.tv_sec as u64 * 1_000_000_000 + spec.it_value.tv_nsec as u64;
        (remaining > 0).then(|| monotonic_ns() + remaining)
    }

    #[test]
    fn the_timer_follows_the_earliest_deadline_and_is_disarmed_when_calls_end() {
        let watchdog = Watchdog::new().unwrap();
        assert_eq!(timer_expiry(&watchdog), None);
        let long = watchdog.enter(Duration::from_secs(60));
        let at = timer_expiry(&watchdog).unwrap();
        assert!(
            at.abs_diff(long.deadline()) < 50_000_000,
            "armed for the call's deadline"
        );
        let short = watchdog.enter(Duration::from_secs(5));
        let at = timer_expiry(&watchdog).unwrap();
        assert!(
            at.abs_diff(short.deadline()) < 50_000_000,
            "re-armed for the earlier deadline"
        );
        // A later call does not move the timer.
        let later = watchdog.enter(Duration::from_secs(30));
        assert!(timer_expiry(&watchdog).unwrap().abs_diff(short.deadline()) < 50_000_000);
        drop(short);
        let at = timer_expiry(&watchdog).unwrap();
        assert!(
            at.abs_diff(later.deadline()) < 50_000_000,
            "moved to the next deadline when the earliest call ended"
        );
        drop(later);
        let at = timer_expiry(&watchdog).unwrap();
        assert!(at.abs_diff(long.deadline()) < 50_000_000);
        drop(long);
        // A cycle whose calls end in time leaves nothing to wake the watchdog.
        assert_eq!(timer_expiry(&watchdog), None);
    }

    #[test]
    fn a_deadline_is_expired_from_its_nanosecond_on() {
        let now = monotonic_ns();
        assert!(expired(now));
        assert!(!expired(now + 60_000_000_000));
    }
}
