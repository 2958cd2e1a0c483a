//! Families assembled sample by sample, as node_exporter's registry assembles them. Collectors
//! that derive metric names or label values from file names can map two files to the same series
//! (hwmon's `temp1_crit-alarm` and `temp1_crit_alarm`, edac's `mc0` and `mc0x`) or the same name
//! with another HELP. node_exporter keeps the first and drops the other; so does this, instead of
//! returning output the host would reject as a whole.

use sonde_sdk::{Label, MetricFamily, MetricKind};
use std::collections::{BTreeMap, HashSet};

/// Families under construction, by name.
#[derive(Default)]
pub struct Families {
    families: BTreeMap<String, MetricFamily>,
    series: HashSet<(String, Vec<Label>)>,
}

impl Families {
    /// Adds one sample of the gauge `name`.
    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add(MetricKind::Gauge, name, help, labels, value);
    }

    /// Adds one sample of the counter `name`.
    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add(MetricKind::Counter, name, help, labels, value);
    }

    /// Adds one sample, unless its family already exists with another HELP or TYPE, or the
    /// series was added before.
    fn add(
        &mut self,
        kind: MetricKind,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        let family = self
            .families
            .entry(name.to_owned())
            .or_insert_with(|| MetricFamily::new(name, help, kind));
        if family.help != help || family.kind != kind {
            return;
        }
        let mut key: Vec<Label> = labels
            .iter()
            .map(|(name, value)| Label {
                name: (*name).to_owned(),
                value: (*value).to_owned(),
            })
            .collect();
        key.sort();
        if self.series.insert((name.to_owned(), key)) {
            family.sample(labels, value);
        }
    }

    /// The families, each with at least one sample.
    pub fn into_vec(self) -> Vec<MetricFamily> {
        self.families.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_series_and_first_help_win() {
        let mut f = Families::default();
        f.gauge("node_x", "X.", &[("chip", "a"), ("sensor", "s")], 1.0);
        f.gauge("node_x", "X.", &[("sensor", "s"), ("chip", "a")], 2.0);
        f.gauge("node_x", "Other.", &[("chip", "b"), ("sensor", "s")], 3.0);
        f.counter("node_x", "X.", &[("chip", "c"), ("sensor", "s")], 4.0);
        f.gauge("node_x", "X.", &[("chip", "d"), ("sensor", "s")], 5.0);
        let out = f.into_vec();
        assert_eq!(out.len(), 1);
        let values: Vec<f64> = out[0].samples.iter().map(|s| s.value).collect();
        assert_eq!(values, [1.0, 5.0]);
    }
}
