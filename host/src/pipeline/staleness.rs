//! Staleness markers, as Prometheus writes them: when a series that a plugin reported in its last
//! cycle is missing from this one (an interface removed, a process group gone), or the plugin's
//! cycle failed, one sample with the special NaN [`STALE_NAN`] tells the receiver that the series
//! ended, instead of letting it linger for five minutes.

use crate::remote_write::{STALE_NAN, SeriesSample};
use sonde_sdk::Label;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

/// The series one plugin reported last cycle.
#[derive(Debug, Default)]
pub struct StalenessTracker {
    hasher: RandomState,
    last: HashMap<u64, Vec<Label>>,
}

impl StalenessTracker {
    /// A tracker that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records this cycle's series and returns a staleness marker, stamped `timestamp_ms`, for
    /// each series of the last cycle that is not in `current`. Allocates only for new series.
    pub fn update(&mut self, current: &[SeriesSample], timestamp_ms: i64) -> Vec<SeriesSample> {
        let mut next = HashMap::with_capacity(current.len());
        for sample in current {
            let key = self.hasher.hash_one(&sample.labels);
            let labels = self
                .last
                .remove(&key)
                .unwrap_or_else(|| sample.labels.clone());
            next.insert(key, labels);
        }
        let gone = std::mem::replace(&mut self.last, next);
        markers(gone, timestamp_ms)
    }

    /// The plugin's cycle failed: every series it reported ends (as on a failed scrape).
    pub fn fail(&mut self, timestamp_ms: i64) -> Vec<SeriesSample> {
        markers(std::mem::take(&mut self.last), timestamp_ms)
    }
}

fn markers(gone: HashMap<u64, Vec<Label>>, timestamp_ms: i64) -> Vec<SeriesSample> {
    let mut markers: Vec<SeriesSample> = gone
        .into_values()
        .map(|labels| SeriesSample {
            labels,
            value: STALE_NAN,
            timestamp_ms,
        })
        .collect();
    markers.sort_by(|a, b| a.labels.cmp(&b.labels));
    markers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_write::encode::is_stale_marker;

    fn series(device: &str, ts: i64) -> SeriesSample {
        SeriesSample {
            labels: vec![
                Label {
                    name: "__name__".into(),
                    value: "node_network_up".into(),
                },
                Label {
                    name: "device".into(),
                    value: device.into(),
                },
            ],
            value: 1.0,
            timestamp_ms: ts,
        }
    }

    #[test]
    fn a_vanished_series_gets_one_marker() {
        let mut t = StalenessTracker::new();
        assert!(
            t.update(&[series("eth0", 0), series("veth1", 0)], 0)
                .is_empty()
        );
        let markers = t.update(&[series("eth0", 10)], 10);
        assert_eq!(markers.len(), 1);
        assert_eq!(markers[0].labels[1].value, "veth1");
        assert!(is_stale_marker(markers[0].value));
        assert_eq!(markers[0].timestamp_ms, 10);
        // Only once.
        assert!(t.update(&[series("eth0", 20)], 20).is_empty());
        // A series that comes back is tracked again.
        assert!(
            t.update(&[series("eth0", 30), series("veth1", 30)], 30)
                .is_empty()
        );
    }

    #[test]
    fn a_failed_cycle_ends_every_series() {
        let mut t = StalenessTracker::new();
        t.update(&[series("a", 0), series("b", 0)], 0);
        let markers = t.fail(5);
        assert_eq!(markers.len(), 2);
        assert!(t.fail(6).is_empty());
    }
}
