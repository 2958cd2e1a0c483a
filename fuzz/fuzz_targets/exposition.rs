//! The exposition renderer: every valid output renders to text that the text-format parser reads
//! back with the same series and values (label values with quotes, backslashes, newlines).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sonde_sdk::{Label, MetricFamily, MetricKind, Sample};
use sonde_textformat::Value;

fuzz_target!(
    |input: (String, String, Vec<(Vec<(String, String)>, f64)>)| {
        let (name, help, samples) = input;
        let family = MetricFamily {
            name,
            help,
            kind: MetricKind::Gauge,
            samples: samples
                .into_iter()
                .take(64)
                .map(|(labels, value)| Sample {
                    labels: labels
                        .into_iter()
                        .take(8)
                        .map(|(name, value)| Label { name, value })
                        .collect(),
                    value,
                })
                .collect(),
        };
        if sonde_wire::validate::validate(std::slice::from_ref(&family)).is_err()
            || family.samples.is_empty()
        {
            return;
        }
        let text = sonde_sdk::exposition::render(std::slice::from_ref(&family));
        let parsed =
            sonde_textformat::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e} in {text:?}"));
        assert_eq!(parsed.len(), 1, "{text:?}");
        assert_eq!(parsed[0].name, family.name);
        assert_eq!(parsed[0].metrics.len(), family.samples.len(), "{text:?}");
        for (metric, sample) in parsed[0].metrics.iter().zip(&family.samples) {
            let mut expected: Vec<(&str, &str)> = sample
                .labels
                .iter()
                .map(|l| (l.name.as_str(), l.value.as_str()))
                .collect();
            let mut got: Vec<(&str, &str)> = metric
                .labels
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            expected.sort_unstable();
            got.sort_unstable();
            assert_eq!(got, expected, "{text:?}");
            match metric.value {
                Value::Single(v) => assert!(
                    v == sample.value || (v.is_nan() && sample.value.is_nan()),
                    "{v} != {} in {text:?}",
                    sample.value
                ),
                ref other => panic!("{other:?}"),
            }
        }
    }
);
