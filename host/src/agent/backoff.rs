//! Backing off a plugin that fails every cycle: a loop that runs into its 2 s timeout on a 2 s
//! interval would otherwise cost a full core for as long as the agent runs. After
//! [`FAILURES_BEFORE_BACKOFF`] failures in a row of the same kind, the plugin skips 1, then 2,
//! 4, … of its intervals between attempts, at most [`MAX_PAUSE`]; the first success puts it back
//! on its schedule. Each change of state is one log line, not one per cycle.

use std::time::Duration;

/// Failures of the same kind in a row before attempts are spaced out.
pub const FAILURES_BEFORE_BACKOFF: u32 = 3;
/// The longest pause between two attempts.
pub const MAX_PAUSE: Duration = Duration::from_secs(300);

/// One plugin's failure streak and the intervals it still skips.
#[derive(Debug, Default)]
pub struct Backoff {
    reason: Option<&'static str>,
    failures: u32,
    skip: u32,
    skipping_left: u32,
}

/// What a cycle's outcome changed, i.e. what is worth a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The first failure of a streak, or one of another kind than the last.
    Failing,
    /// The streak reached [`FAILURES_BEFORE_BACKOFF`]: attempts are spaced out from now on.
    BackingOff {
        /// Failures in a row.
        failures: u32,
    },
    /// A success after a streak of failures.
    Recovered {
        /// Failures in a row before it.
        failures: u32,
    },
}

impl Backoff {
    /// True when this cycle is to be skipped (and counts it).
    pub fn skip_this_cycle(&mut self) -> bool {
        if self.skipping_left > 0 {
            self.skipping_left -= 1;
            true
        } else {
            false
        }
    }

    /// True while attempts are spaced out.
    pub fn is_backing_off(&self) -> bool {
        self.skip > 0
    }

    /// A failed cycle of kind `reason`, for a plugin collecting every `interval`.
    pub fn failed(&mut self, reason: &'static str, interval: Duration) -> Option<Change> {
        if self.reason != Some(reason) {
            *self = Backoff {
                reason: Some(reason),
                failures: 1,
                ..Backoff::default()
            };
            return Some(Change::Failing);
        }
        self.failures += 1;
        if self.failures < FAILURES_BEFORE_BACKOFF {
            return None;
        }
        let most = (MAX_PAUSE.as_secs_f64() / interval.as_secs_f64())
            .floor()
            .max(1.0) as u32;
        let first = self.skip == 0;
        self.skip = if first { 1 } else { (self.skip * 2).min(most) };
        self.skipping_left = self.skip;
        first.then_some(Change::BackingOff {
            failures: self.failures,
        })
    }

    /// A successful cycle.
    pub fn succeeded(&mut self) -> Option<Change> {
        let failures = std::mem::take(self).failures;
        (failures > 0).then_some(Change::Recovered { failures })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `cycles` cycles of a plugin whose attempts fail as `outcome(attempt)` says; returns
    /// the cycles it was attempted in and the changes.
    fn run(
        cycles: u32,
        interval: Duration,
        outcome: impl Fn(u32) -> Option<&'static str>,
    ) -> (Vec<u32>, Vec<Change>) {
        let mut backoff = Backoff::default();
        let (mut attempted, mut changes) = (Vec::new(), Vec::new());
        for cycle in 0..cycles {
            if backoff.skip_this_cycle() {
                continue;
            }
            let change = match outcome(attempted.len() as u32) {
                Some(reason) => backoff.failed(reason, interval),
                None => backoff.succeeded(),
            };
            attempted.push(cycle);
            changes.extend(change);
        }
        (attempted, changes)
    }

    #[test]
    fn a_plugin_that_always_times_out_is_attempted_ever_more_rarely() {
        let (attempted, changes) = run(100, Duration::from_secs(2), |_| Some("timeout"));
        // Three in a row, then gaps of 1, 2, 4, 8, 16, 32 intervals.
        assert_eq!(attempted, [0, 1, 2, 4, 7, 12, 21, 38, 71]);
        assert_eq!(
            changes,
            [Change::Failing, Change::BackingOff { failures: 3 }]
        );
    }

    #[test]
    fn the_pause_is_capped_and_a_success_restores_the_schedule() {
        // At a 60 s interval the pause is at most 5 intervals (300 s).
        let (attempted, _) = run(40, Duration::from_secs(60), |_| Some("trap"));
        let gaps: Vec<u32> = attempted.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|g| *g <= 6), "{gaps:?}");
        assert_eq!(gaps[gaps.len() - 1], 6);
        // Fails 4 times, then works: back on every cycle.
        let (attempted, changes) = run(12, Duration::from_secs(1), |attempt| {
            (attempt < 4).then_some("timeout")
        });
        assert_eq!(attempted, [0, 1, 2, 4, 7, 8, 9, 10, 11]);
        assert_eq!(
            changes,
            [
                Change::Failing,
                Change::BackingOff { failures: 3 },
                Change::Recovered { failures: 4 }
            ]
        );
    }

    #[test]
    fn failures_of_another_kind_start_a_new_streak() {
        let kinds = ["timeout", "trap", "timeout", "trap"];
        let (attempted, changes) = run(8, Duration::from_secs(1), |attempt| {
            Some(kinds[attempt as usize % 4])
        });
        assert_eq!(attempted.len(), 8, "never backs off");
        assert!(changes.iter().all(|c| *c == Change::Failing));
    }
}
