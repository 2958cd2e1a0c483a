//! Families from several files merged as client_golang's registry merges what one collector
//! sends: the first HELP and TYPE of a name win; a family that disagrees, and a sample that
//! repeats a series, are dropped and logged (node_exporter logs them the same way and goes on).

use sonde_sdk::{Host, Level, MetricFamily, Sample};
use std::collections::{HashMap, HashSet};

/// A series: its labels as sorted `(name, value)` pairs.
type Series = Vec<(String, String)>;

/// The merged families.
#[derive(Default)]
pub struct Merged {
    families: Vec<MetricFamily>,
    /// Position in `families` and the series seen so far, by family name.
    index: HashMap<String, (usize, HashSet<Series>)>,
}

impl Merged {
    /// Adds `family`'s samples to the family of that name.
    pub fn add(&mut self, host: &Host, mut family: MetricFamily) {
        let samples = std::mem::take(&mut family.samples);
        let families = &mut self.families;
        let (position, seen) = self.index.entry(family.name.clone()).or_insert_with(|| {
            families.push(family.clone());
            (families.len() - 1, HashSet::new())
        });
        let existing = &mut families[*position];
        if existing.help != family.help || existing.kind != family.kind {
            host.log(
                Level::Warn,
                &format!(
                    "textfile: dropping {} samples of {}: its HELP or TYPE differs from the first",
                    samples.len(),
                    family.name
                ),
            );
            return;
        }
        let mut duplicates = 0;
        for sample in samples {
            if seen.insert(series(&sample)) {
                existing.samples.push(sample);
            } else {
                duplicates += 1;
            }
        }
        if duplicates > 0 {
            host.log(
                Level::Warn,
                &format!(
                    "textfile: dropping {duplicates} duplicate samples of {}",
                    family.name
                ),
            );
        }
    }

    /// The merged families.
    pub fn into_families(self) -> Vec<MetricFamily> {
        self.families
    }
}

/// A sample's labels as a set, to recognize the same series.
fn series(sample: &Sample) -> Series {
    let mut key: Series = sample
        .labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect();
    key.sort();
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonde_sdk::testing::Fixture;

    #[test]
    fn first_help_and_type_win_duplicates_dropped() {
        let host = Fixture::new().host();
        let mut merged = Merged::default();
        merged.add(
            &host,
            MetricFamily::gauge("x", "a").with_sample(&[("l", "1")], 1.0),
        );
        merged.add(
            &host,
            MetricFamily::gauge("x", "a").with_sample(&[("l", "2")], 2.0),
        );
        merged.add(
            &host,
            MetricFamily::gauge("x", "a").with_sample(&[("l", "1")], 3.0),
        );
        merged.add(
            &host,
            MetricFamily::gauge("x", "b").with_sample(&[("l", "3")], 4.0),
        );
        merged.add(
            &host,
            MetricFamily::counter("x", "a").with_sample(&[("l", "4")], 5.0),
        );
        let families = merged.into_families();
        assert_eq!(families.len(), 1);
        let values: Vec<f64> = families[0].samples.iter().map(|s| s.value).collect();
        assert_eq!(values, [1.0, 2.0]);
        assert_eq!(host.logged().len(), 3);
    }
}
