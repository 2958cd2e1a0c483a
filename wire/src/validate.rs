//! Checks of a collector's output that the host applies to every plugin (and the test harness to
//! every collector): valid names, no duplicate families, labels or series.

use crate::metrics::{MetricFamily, check_label_name, check_metric_name};
use std::collections::HashSet;
use std::fmt;

/// What is wrong with a collector's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidOutput {
    /// The family the problem is in.
    pub family: String,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for InvalidOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid output in family {:?}: {}",
            self.family, self.problem
        )
    }
}

impl std::error::Error for InvalidOutput {}

/// The longest label value accepted, in bytes: a megabyte label value is a plugin flooding the
/// agent (and every receiver), not information.
pub const MAX_LABEL_VALUE_BYTES: usize = 16 << 10;
/// The most labels one sample may have.
pub const MAX_LABELS_PER_SAMPLE: usize = 128;
/// The longest HELP text accepted, in bytes.
pub const MAX_HELP_BYTES: usize = 16 << 10;

/// Validates families as Prometheus would accept them: metric and label names, no reserved
/// (`__`) labels, no label twice in a sample, no family twice, no series twice; and within
/// sonde's size limits ([`MAX_LABEL_VALUE_BYTES`], [`MAX_LABELS_PER_SAMPLE`],
/// [`MAX_HELP_BYTES`]).
///
/// Runs on every plugin output, so it allocates little: a series is keyed by an
/// order-independent hash of its labels, and only equal hashes are compared label by label.
pub fn validate(families: &[MetricFamily]) -> Result<(), InvalidOutput> {
    let mut names = HashSet::with_capacity(families.len());
    let mut keys: Vec<(u64, usize)> = Vec::new();
    for family in families {
        let invalid = |problem: String| InvalidOutput {
            family: family.name.clone(),
            problem,
        };
        check_metric_name(&family.name).map_err(|e| invalid(e.to_string()))?;
        if !names.insert(family.name.as_str()) {
            return Err(invalid("the family is returned twice".into()));
        }
        if family.help.len() > MAX_HELP_BYTES {
            return Err(invalid(format!(
                "HELP of {} bytes, more than {MAX_HELP_BYTES}",
                family.help.len()
            )));
        }
        keys.clear();
        for (i, sample) in family.samples.iter().enumerate() {
            if sample.labels.len() > MAX_LABELS_PER_SAMPLE {
                return Err(invalid(format!(
                    "a sample has {} labels, more than {MAX_LABELS_PER_SAMPLE}",
                    sample.labels.len()
                )));
            }
            let mut key = 0u64;
            for (j, label) in sample.labels.iter().enumerate() {
                check_label_name(&label.name).map_err(|e| invalid(e.to_string()))?;
                if label.value.len() > MAX_LABEL_VALUE_BYTES {
                    return Err(invalid(format!(
                        "the value of label {:?} has {} bytes, more than {MAX_LABEL_VALUE_BYTES}",
                        label.name,
                        label.value.len()
                    )));
                }
                if sample.labels[..j].iter().any(|l| l.name == label.name) {
                    return Err(invalid(format!(
                        "a sample has the label {:?} twice",
                        label.name
                    )));
                }
                key = key.wrapping_add(label_hash(label));
            }
            keys.push((key, i));
        }
        keys.sort_unstable();
        for pair in keys.windows(2) {
            let (a, b) = (&family.samples[pair[0].1], &family.samples[pair[1].1]);
            if pair[0].0 == pair[1].0 && same_labels(a, b) {
                let mut labels: Vec<(&str, &str)> = a
                    .labels
                    .iter()
                    .map(|l| (l.name.as_str(), l.value.as_str()))
                    .collect();
                labels.sort_unstable();
                return Err(invalid(format!("duplicate series {labels:?}")));
            }
        }
    }
    Ok(())
}

/// A well-mixed hash of one label (FNV-1a over name, a separator and value, then a finalizer),
/// summed over a sample's labels so their order does not matter.
fn label_hash(label: &crate::metrics::Label) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in label.name.bytes().chain([0xff]).chain(label.value.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

fn same_labels(a: &crate::metrics::Sample, b: &crate::metrics::Sample) -> bool {
    a.labels.len() == b.labels.len()
        && a.labels.iter().all(|l| {
            b.labels
                .iter()
                .any(|m| m.name == l.name && m.value == l.value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Label, MetricKind, Sample};

    fn fam(name: &str, samples: Vec<Vec<(&str, &str)>>) -> MetricFamily {
        MetricFamily {
            name: name.into(),
            help: String::new(),
            kind: MetricKind::Gauge,
            samples: samples
                .into_iter()
                .map(|labels| Sample {
                    labels: labels
                        .into_iter()
                        .map(|(n, v)| Label {
                            name: n.into(),
                            value: v.into(),
                        })
                        .collect(),
                    value: 1.0,
                })
                .collect(),
        }
    }

    #[test]
    fn accepts_valid_output() {
        let f = fam(
            "a",
            vec![vec![("x", "1"), ("y", "2")], vec![("y", "2"), ("x", "2")]],
        );
        assert_eq!(validate(&[f, fam("b", vec![vec![]])]), Ok(()));
        let at_limit = "v".repeat(MAX_LABEL_VALUE_BYTES);
        assert_eq!(validate(&[fam("c", vec![vec![("x", &at_limit)]])]), Ok(()));
    }

    #[test]
    fn rejects_each_problem() {
        let cases = [
            (vec![fam("bad-name", vec![])], "invalid metric name"),
            (vec![fam("a", vec![]), fam("a", vec![])], "returned twice"),
            (
                vec![fam("a", vec![vec![("__name__", "x")]])],
                "invalid label name",
            ),
            (
                vec![fam("a", vec![vec![("1x", "x")]])],
                "invalid label name",
            ),
            (
                vec![fam("a", vec![vec![("x", "1"), ("x", "2")]])],
                "the label \"x\" twice",
            ),
            (
                vec![fam(
                    "a",
                    vec![vec![("x", "1"), ("y", "1")], vec![("y", "1"), ("x", "1")]],
                )],
                "duplicate series",
            ),
            (vec![fam("a", vec![vec![], vec![]])], "duplicate series"),
        ];
        let long_value = "v".repeat(MAX_LABEL_VALUE_BYTES + 1);
        let many_labels: Vec<String> = (0..=MAX_LABELS_PER_SAMPLE)
            .map(|i| format!("l{i}"))
            .collect();
        let mut long_help = fam("a", vec![]);
        long_help.help = "h".repeat(MAX_HELP_BYTES + 1);
        let cases = cases.into_iter().chain([
            (
                vec![fam("a", vec![vec![("x", long_value.as_str())]])],
                "has 16385 bytes, more than 16384",
            ),
            (
                vec![fam(
                    "a",
                    vec![many_labels.iter().map(|l| (l.as_str(), "1")).collect()],
                )],
                "129 labels, more than 128",
            ),
            (vec![long_help], "HELP of 16385 bytes"),
        ]);
        for (families, expected) in cases {
            let err = validate(&families).unwrap_err().to_string();
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
    }
}
