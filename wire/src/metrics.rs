//! The metric model a collector returns: families of samples, as Prometheus defines them.

use std::fmt;

/// The Prometheus type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// A value that only goes up (and resets to zero on restart).
    Counter,
    /// A value that can go up and down.
    Gauge,
    /// A value of unknown type (node_exporter uses it for vmstat and netstat fields).
    Untyped,
    /// Constant value 1 whose labels carry information; exposed as a gauge.
    Info,
}

impl MetricKind {
    /// The word used on a `# TYPE` line.
    pub fn type_name(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge | MetricKind::Info => "gauge",
            MetricKind::Untyped => "untyped",
        }
    }
}

/// One label of a sample.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    /// The label name, e.g. `cpu`.
    pub name: String,
    /// The label value, any UTF-8 string.
    pub value: String,
}

/// One series of a family: its labels (without the metric name) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The labels, in the order the collector added them.
    pub labels: Vec<Label>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// Returns the value of the label `name`, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.value.as_str())
    }
}

/// Whether [`MetricFamily`]'s builders check metric and label names (and panic on a bad one):
/// in native builds (a plugin's tests) and debug builds, where a typo should fail at once. A
/// release component leaves it to the host, which validates every output anyway and refuses an
/// invalid one with the family's name; checking every name of every cycle twice cost ~1% of a
/// cycle. Names built from kernel text are checked with `sonde_sdk::names`, in every build.
pub const CHECK_NAMES: bool = cfg!(any(debug_assertions, not(target_arch = "wasm32")));

/// All series of one metric name, with its HELP text and TYPE.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    /// The metric name, e.g. `node_cpu_seconds_total`.
    pub name: String,
    /// The HELP text.
    pub help: String,
    /// The TYPE.
    pub kind: MetricKind,
    /// The series.
    pub samples: Vec<Sample>,
}

impl MetricFamily {
    /// Starts a family. Panics if `name` is not a valid Prometheus metric name, so a typo fails
    /// the collector's first test rather than a scrape in production (see [`CHECK_NAMES`]).
    pub fn new(name: impl Into<String>, help: impl Into<String>, kind: MetricKind) -> Self {
        let name = name.into();
        if CHECK_NAMES && let Err(e) = check_metric_name(&name) {
            panic!("{e}");
        }
        MetricFamily {
            name,
            help: help.into(),
            kind,
            samples: Vec::new(),
        }
    }

    /// Starts a counter family.
    pub fn counter(name: impl Into<String>, help: impl Into<String>) -> Self {
        Self::new(name, help, MetricKind::Counter)
    }

    /// Starts a gauge family.
    pub fn gauge(name: impl Into<String>, help: impl Into<String>) -> Self {
        Self::new(name, help, MetricKind::Gauge)
    }

    /// Starts an untyped family.
    pub fn untyped(name: impl Into<String>, help: impl Into<String>) -> Self {
        Self::new(name, help, MetricKind::Untyped)
    }

    /// Starts an info family (samples of value 1, exposed as a gauge).
    pub fn info(name: impl Into<String>, help: impl Into<String>) -> Self {
        Self::new(name, help, MetricKind::Info)
    }

    /// Adds a sample with the given `(name, value)` labels. Panics on an invalid label name
    /// (see [`CHECK_NAMES`]).
    pub fn sample(&mut self, labels: &[(&str, &str)], value: f64) -> &mut Self {
        let labels = labels
            .iter()
            .map(|(name, value)| {
                if CHECK_NAMES && let Err(e) = check_label_name(name) {
                    panic!("{}: {e}", self.name);
                }
                Label {
                    name: (*name).to_owned(),
                    value: (*value).to_owned(),
                }
            })
            .collect();
        self.samples.push(Sample { labels, value });
        self
    }

    /// Adds a sample whose labels are already owned strings (no copy). Panics on an invalid
    /// label name (see [`CHECK_NAMES`]).
    pub fn sample_owned(&mut self, labels: Vec<Label>, value: f64) -> &mut Self {
        for label in labels.iter().filter(|_| CHECK_NAMES) {
            if let Err(e) = check_label_name(&label.name) {
                panic!("{}: {e}", self.name);
            }
        }
        self.samples.push(Sample { labels, value });
        self
    }

    /// Adds a sample without labels.
    pub fn value(&mut self, value: f64) -> &mut Self {
        self.samples.push(Sample {
            labels: Vec::new(),
            value,
        });
        self
    }

    /// Builder form of [`MetricFamily::value`].
    pub fn with_value(mut self, value: f64) -> Self {
        self.value(value);
        self
    }

    /// Builder form of [`MetricFamily::sample`].
    pub fn with_sample(mut self, labels: &[(&str, &str)], value: f64) -> Self {
        self.sample(labels, value);
        self
    }

    /// True when the family has no samples (it is then left out of the output).
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

/// Why a metric or label name is not valid in Prometheus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    /// What kind of name it was: `metric` or `label`.
    pub what: &'static str,
    /// The offending name.
    pub name: String,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.what {
            "metric" => write!(
                f,
                "invalid metric name {:?}: must match [a-zA-Z_:][a-zA-Z0-9_:]*",
                self.name
            ),
            _ => write!(
                f,
                "invalid label name {:?}: must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __",
                self.name
            ),
        }
    }
}

impl std::error::Error for NameError {}

/// True if `name` matches `[a-zA-Z_:][a-zA-Z0-9_:]*`. Usable in `const` context.
pub const fn is_valid_metric_name(name: &str) -> bool {
    let b = name.as_bytes();
    if b.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let ok = c.is_ascii_alphabetic() || c == b'_' || c == b':' || (i > 0 && c.is_ascii_digit());
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

/// True if `name` matches `[a-zA-Z_][a-zA-Z0-9_]*` and does not start with the reserved `__`.
/// Usable in `const` context.
pub const fn is_valid_label_name(name: &str) -> bool {
    let b = name.as_bytes();
    if b.is_empty() || (b.len() >= 2 && b[0] == b'_' && b[1] == b'_') {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let ok = c.is_ascii_alphabetic() || c == b'_' || (i > 0 && c.is_ascii_digit());
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

/// Checks a metric name, with an error that names it.
pub fn check_metric_name(name: &str) -> Result<(), NameError> {
    if is_valid_metric_name(name) {
        Ok(())
    } else {
        Err(NameError {
            what: "metric",
            name: name.to_owned(),
        })
    }
}

/// Checks a label name, with an error that names it.
pub fn check_label_name(name: &str) -> Result<(), NameError> {
    if is_valid_label_name(name) {
        Ok(())
    } else {
        Err(NameError {
            what: "label",
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        for ok in ["a", "node_cpu_seconds_total", "_x", "a:b", ":x", "A1"] {
            assert!(is_valid_metric_name(ok), "{ok}");
        }
        for bad in ["", "1a", "a-b", "a b", "é", "a.b"] {
            assert!(!is_valid_metric_name(bad), "{bad}");
        }
    }

    #[test]
    fn label_names() {
        for ok in ["cpu", "_x", "mode2", "A"] {
            assert!(is_valid_label_name(ok), "{ok}");
        }
        for bad in ["", "__name__", "__x", "1a", "a:b", "a-b"] {
            assert!(!is_valid_label_name(bad), "{bad}");
        }
    }

    #[test]
    #[should_panic(expected = "invalid metric name \"node-cpu\"")]
    fn invalid_family_name_panics() {
        MetricFamily::gauge("node-cpu", "x");
    }

    #[test]
    #[should_panic(expected = "invalid label name \"__x\"")]
    fn invalid_label_name_panics() {
        MetricFamily::gauge("node_x", "x").sample(&[("__x", "1")], 1.0);
    }

    #[test]
    fn info_is_a_gauge() {
        assert_eq!(MetricKind::Info.type_name(), "gauge");
        assert_eq!(MetricKind::Untyped.type_name(), "untyped");
    }
}
