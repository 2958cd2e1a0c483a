//! The host's validation of plugin output: never a panic, and what it accepts has no duplicate
//! series (its duplicate check hashes label sets; this checks it against a plain set).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sonde_sdk::{Label, MetricFamily, MetricKind, Sample};
use std::collections::HashSet;

fuzz_target!(|families: Vec<(String, Vec<Vec<(String, String)>>)>| {
    let families: Vec<MetricFamily> = families
        .into_iter()
        .take(8)
        .map(|(name, samples)| MetricFamily {
            name,
            help: String::new(),
            kind: MetricKind::Untyped,
            samples: samples
                .into_iter()
                .take(64)
                .map(|labels| Sample {
                    labels: labels
                        .into_iter()
                        .take(8)
                        .map(|(name, value)| Label { name, value })
                        .collect(),
                    value: 0.0,
                })
                .collect(),
        })
        .collect();
    if sonde_wire::validate::validate(&families).is_ok() {
        for family in &families {
            let mut seen = HashSet::new();
            for sample in &family.samples {
                let mut key: Vec<(&str, &str)> = sample
                    .labels
                    .iter()
                    .map(|l| (l.name.as_str(), l.value.as_str()))
                    .collect();
                key.sort_unstable();
                assert!(
                    seen.insert(key),
                    "duplicate series accepted in {}",
                    family.name
                );
            }
        }
    }
});
