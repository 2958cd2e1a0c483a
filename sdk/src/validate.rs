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

/// Validates families as Prometheus would accept them: metric and label names, no reserved
/// (`__`) labels, no label twice in a sample, no family twice, no series twice.
pub fn validate(families: &[MetricFamily]) -> Result<(), InvalidOutput> {
    let mut names = HashSet::with_capacity(families.len());
    for family in families {
        let invalid = |problem: String| InvalidOutput {
            family: family.name.clone(),
            problem,
        };
        check_metric_name(&family.name).map_err(|e| invalid(e.to_string()))?;
        if !names.insert(family.name.as_str()) {
            return Err(invalid("the family is returned twice".into()));
        }
        let mut series: HashSet<Vec<(&str, &str)>> = HashSet::with_capacity(family.samples.len());
        for sample in &family.samples {
            let mut key = Vec::with_capacity(sample.labels.len());
            for label in &sample.labels {
                check_label_name(&label.name).map_err(|e| invalid(e.to_string()))?;
                key.push((label.name.as_str(), label.value.as_str()));
            }
            key.sort_unstable();
            if key.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(invalid(format!("a sample has a label twice: {key:?}")));
            }
            if series.contains(&key) {
                return Err(invalid(format!("duplicate series {key:?}")));
            }
            series.insert(key);
        }
    }
    Ok(())
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
                "label twice",
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
        for (families, expected) in cases {
            let err = validate(&families).unwrap_err().to_string();
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
    }
}
