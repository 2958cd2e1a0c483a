//! The daemon's schedule: a thread per collection interval whose plugins collect one after
//! another at each tick ([`PluginCycle`]), a slow plugin moved to a thread of its own, and the
//! self-metrics' tick.

use crate::agent::cycle::{Outgoing, PluginCycle, ScheduledPlugin, SelfMetricsCycle, Sinks};
use crate::agent::self_metrics::SelfMetrics;
use std::sync::Arc;
use std::time::Duration;

/// A collection thread: the plugins of one interval, collected one after another at every
/// tick, or a single plugin moved out of its group. Dropping it stops the thread at its next wait.
/// Collecting a group back to back costs one wake-up per tick and runs the host's and the
/// kernel's shared paths warm (docs/design.md, "Daemon", has the measurements).
pub(super) struct CollectionThread {
    stop: Arc<StopSignal>,
}

impl CollectionThread {
    /// Starts collecting `members` every `interval`, the first time at once (so the first
    /// samples are there as soon as possible), or at `first` when given.
    fn start(
        interval: Duration,
        members: Vec<PluginCycle>,
        first: Option<std::time::Instant>,
        sinks: Arc<Sinks>,
    ) -> std::io::Result<CollectionThread> {
        let stop = Arc::new(StopSignal::default());
        let signal = stop.clone();
        let name = match &members[..] {
            [one] => format!("sonde-{}", one.name()),
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

/// Starts one thread per interval: its plugins collect together. A plugin granted `systemd`
/// starts on a thread of its own: its host call waits on the system bus (up to the bus
/// deadline when the bus hangs), which must never hold another plugin back, not even once.
pub(super) fn start_threads(
    plugins: Vec<ScheduledPlugin>,
    sinks: &Arc<Sinks>,
) -> std::io::Result<Vec<CollectionThread>> {
    let mut groups: std::collections::BTreeMap<Duration, Vec<PluginCycle>> = Default::default();
    let mut alone = Vec::new();
    for plugin in plugins {
        if plugin.plugin.grants().has(sonde_sdk::Capability::Systemd) {
            alone.push((plugin.interval, vec![PluginCycle::new(plugin)]));
            continue;
        }
        groups
            .entry(plugin.interval)
            .or_default()
            .push(PluginCycle::new(plugin));
    }
    groups
        .into_iter()
        .chain(alone)
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
    mut members: Vec<PluginCycle>,
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
            let stopped = || stop.is_stopped();
            let Some(slow) = members[index].collect(sinks, &stopped, &mut outgoing) else {
                return;
            };
            if shared && (slow.timed_out || slow.took > interval.mul_f64(SLOW_SHARE)) {
                let member = members.remove(index);
                tracing::warn!(plugin = %member.name(), took = ?slow.took, "plugin is slow; it collects on a thread of its own from now on");
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
        sinks.send(outgoing);
        if members.is_empty() {
            // Everything moved out: this thread keeps their threads until it is stopped.
            while !stop.sleep_until(std::time::Instant::now() + Duration::from_secs(3600)) {}
            return;
        }
    }
}

/// The share of its interval a plugin may take before it leaves its group.
const SLOW_SHARE: f64 = 0.25;

/// The self-metrics, sent through remote write like a plugin's, every global interval.
pub async fn self_metrics_loop(
    interval: Duration,
    sinks: Arc<Sinks>,
    self_metrics: Arc<SelfMetrics>,
) {
    let Some(pipeline) = &sinks.pipeline else {
        return;
    };
    let mut cycle = SelfMetricsCycle::default();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        let mut outgoing = Outgoing::default();
        cycle.collect(&self_metrics.families(), pipeline, &mut outgoing);
        sinks.send(outgoing);
    }
}
