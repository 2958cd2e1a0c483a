//! Whether an endpoint is delivering, and the few log lines an operator needs when it is not:
//! the first failure, a reminder while the outage lasts, and the recovery with how long it took
//! and what was waiting. Retries themselves are logged at debug only: an outage of an hour at
//! one retry every five seconds must not write 720 warnings.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often an outage that goes on is logged again.
pub const REMINDER_INTERVAL: Duration = Duration::from_secs(300);

/// An endpoint's delivery state, logged on every change.
#[derive(Debug)]
pub struct Health {
    endpoint: String,
    state: Mutex<State>,
}

/// Delivering, or failing since some time.
#[derive(Debug, Default, Clone, PartialEq)]
enum State {
    #[default]
    Delivering,
    Failing {
        since: Instant,
        last_logged: Instant,
        attempts: u64,
    },
}

/// What a report changed, i.e. what is worth a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The first failure after deliveries (or at start).
    Failing,
    /// Still failing, and the last line about it is [`REMINDER_INTERVAL`] old.
    StillFailing {
        /// How long it has been failing.
        for_: Duration,
        /// Failed attempts since it started.
        attempts: u64,
    },
    /// Delivering again.
    Recovered {
        /// How long it failed.
        after: Duration,
        /// Failed attempts meanwhile.
        attempts: u64,
    },
}

impl State {
    /// A failed attempt at `now`.
    fn failed(&mut self, now: Instant) -> Option<Change> {
        match self {
            State::Delivering => {
                *self = State::Failing {
                    since: now,
                    last_logged: now,
                    attempts: 1,
                };
                Some(Change::Failing)
            }
            State::Failing {
                since,
                last_logged,
                attempts,
            } => {
                *attempts += 1;
                if now.duration_since(*last_logged) < REMINDER_INTERVAL {
                    return None;
                }
                *last_logged = now;
                Some(Change::StillFailing {
                    for_: now.duration_since(*since),
                    attempts: *attempts,
                })
            }
        }
    }

    /// A delivery at `now`.
    fn delivered(&mut self, now: Instant) -> Option<Change> {
        match std::mem::take(self) {
            State::Delivering => None,
            State::Failing {
                since, attempts, ..
            } => Some(Change::Recovered {
                after: now.duration_since(since),
                attempts,
            }),
        }
    }
}

impl Health {
    /// A healthy endpoint called `endpoint` in logs.
    pub fn new(endpoint: &str) -> Health {
        Health {
            endpoint: endpoint.to_owned(),
            state: Mutex::default(),
        }
    }

    /// An attempt failed with `reason`; `backlog` samples wait in the write-ahead log. Logs a
    /// warning at the first failure and every [`REMINDER_INTERVAL`] while they go on.
    pub fn failed(&self, reason: &str, backlog: u64) {
        let change = self.lock().failed(Instant::now());
        let endpoint = &self.endpoint;
        match change {
            Some(Change::Failing) => tracing::warn!(
                %endpoint, %reason, backlog,
                "remote write failing; samples are kept in the write-ahead log and retried"
            ),
            Some(Change::StillFailing { for_, attempts }) => tracing::warn!(
                %endpoint, %reason, backlog, failing_for = %humantime::format_duration(whole_seconds(for_)), attempts,
                "remote write still failing"
            ),
            _ => {}
        }
    }

    /// A batch was delivered (or rejected for good: the receiver answers); `backlog` samples are
    /// still waiting. Logs the recovery after a failure.
    pub fn delivered(&self, backlog: u64) {
        if let Some(Change::Recovered { after, attempts }) = self.lock().delivered(Instant::now()) {
            tracing::info!(
                endpoint = %self.endpoint, backlog, outage = %humantime::format_duration(whole_seconds(after)), failed_attempts = attempts,
                "remote write recovered; the backlog is being sent"
            );
        }
    }

    /// True while attempts fail.
    pub fn is_failing(&self) -> bool {
        matches!(*self.lock(), State::Failing { .. })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A duration rounded down to whole seconds, for logs.
fn whole_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_logs_its_start_a_reminder_per_interval_and_its_end() {
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        let mut state = State::default();
        assert_eq!(state.delivered(at(0)), None);
        assert_eq!(state.failed(at(1)), Some(Change::Failing));
        // A retry every 5 s for 12 minutes: two reminders, not 144 lines.
        let changes: Vec<Change> = (1..=144)
            .filter_map(|i| state.failed(at(1 + 5 * i)))
            .collect();
        assert_eq!(
            changes,
            [
                Change::StillFailing {
                    for_: Duration::from_secs(300),
                    attempts: 61
                },
                Change::StillFailing {
                    for_: Duration::from_secs(600),
                    attempts: 121
                },
            ]
        );
        assert_eq!(
            state.delivered(at(800)),
            Some(Change::Recovered {
                after: Duration::from_secs(799),
                attempts: 145
            })
        );
        assert_eq!(state.delivered(at(801)), None);
        assert_eq!(state.failed(at(802)), Some(Change::Failing));
    }
}
