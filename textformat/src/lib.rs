//! # sonde-textformat: the Prometheus text format, parsed
//!
//! Owns the parser of the Prometheus text exposition format that sonde reads from files other
//! programs write: the `textfile` plugin (node_exporter's `--collector.textfile.directory`) and
//! the tests that compare sonde's output with node_exporter's. It is its own crate because it is
//! neither the plugin author's API (`sonde-sdk`) nor a kernel-file parser (`sonde-procfs`): it
//! follows client_golang's releases, not the kernel's. It depends only on `sonde-wire`, for the
//! metric-name rule, so a name it accepts is one the host accepts. (Writing the format is
//! `sonde_sdk::exposition`.)
//!
//! The Prometheus text exposition format (version 0.0.4), parsed as client_golang's
//! `expfmt.TextParser` parses it with legacy name validation, which is what node_exporter's
//! `textfile` collector uses: the same inputs are accepted and rejected, with the same messages
//! (`text format parsing error in line N: …`).
//!
//! Parsing is line by line: every line must end with a newline, `# HELP` and `# TYPE` come before
//! a family's samples, label values are double-quoted with the escapes `\\`, `\"` and `\n`, and a
//! sample may end with an integer timestamp in milliseconds. Summaries and histograms are grouped
//! as the Go parser groups them (`_sum`, `_count`, `_bucket` lines and the `quantile`/`le` labels
//! belong to the family of the `# TYPE` line). Duplicate series are kept; checking them is left to
//! the caller.

#![deny(missing_docs)]

mod cursor;
#[cfg(test)]
mod tests;

use cursor::{Cursor, is_blank, is_legacy_label_name, parse_float};
use sonde_wire::metrics::is_valid_metric_name;
use std::collections::HashMap;
use std::fmt;

/// The TYPE of a family (`untyped` when the input has no `# TYPE` line for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyType {
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `untyped`, or no TYPE line.
    Untyped,
    /// `summary`.
    Summary,
    /// `histogram`.
    Histogram,
    /// `gauge_histogram` (or OpenMetrics' `gaugehistogram`).
    GaugeHistogram,
}

impl FamilyType {
    fn from_type_line(text: &str) -> Option<FamilyType> {
        Some(match text.to_ascii_uppercase().as_str() {
            "COUNTER" => FamilyType::Counter,
            "GAUGE" => FamilyType::Gauge,
            "UNTYPED" => FamilyType::Untyped,
            "SUMMARY" => FamilyType::Summary,
            "HISTOGRAM" => FamilyType::Histogram,
            "GAUGE_HISTOGRAM" | "GAUGEHISTOGRAM" => FamilyType::GaugeHistogram,
            _ => return None,
        })
    }

    fn is_histogram(self) -> bool {
        matches!(self, FamilyType::Histogram | FamilyType::GaugeHistogram)
    }
}

/// A metric family: its name, HELP (if given), TYPE and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The metric name.
    pub name: String,
    /// The unescaped HELP text, `None` without a `# HELP` line.
    pub help: Option<String>,
    /// The TYPE.
    pub kind: FamilyType,
    /// The metrics, in input order (never empty).
    pub metrics: Vec<Metric>,
}

/// One metric of a family: its labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// The labels as `(name, value)`, in input order; for summaries and histograms without the
    /// `quantile` or `le` label.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: Value,
    /// The sample's timestamp in milliseconds, if it has one.
    pub timestamp_ms: Option<i64>,
}

/// The value of a metric.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A counter, gauge or untyped value.
    Single(f64),
    /// A summary.
    Summary(Summary),
    /// A histogram (or gauge histogram).
    Histogram(Histogram),
}

/// The parts of a summary.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    /// `_count` (truncated to an integer, as the Go parser does).
    pub count: u64,
    /// `_sum`.
    pub sum: f64,
    /// `(quantile, value)` pairs, in input order.
    pub quantiles: Vec<(f64, f64)>,
}

/// The parts of a histogram.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    /// `_count`.
    pub count: f64,
    /// `_sum`.
    pub sum: f64,
    /// `(upper bound, cumulative count)` pairs, in input order.
    pub buckets: Vec<(f64, f64)>,
}

/// Why the input is not valid text format: the 1-based line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The line the problem is in.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "text format parsing error in line {}: {}",
            self.line, self.message
        )
    }
}

impl std::error::Error for ParseError {}

/// Parses text-format `input` into its families, in the order their names first appear.
/// Families that end up without samples (a lone `# HELP`) are left out.
pub fn parse(input: &[u8]) -> Result<Vec<Family>, ParseError> {
    let mut parser = Parser::default();
    let mut lines = input.split(|&b| b == b'\n').enumerate().peekable();
    while let Some((index, line)) = lines.next() {
        let error = |message: String| ParseError {
            line: index + 1,
            message,
        };
        if lines.peek().is_none() {
            // The text after the last newline: only blanks may be left.
            if line.iter().any(|&b| !is_blank(b)) {
                return Err(error("unexpected end of input stream".into()));
            }
            break;
        }
        parser.line(line).map_err(error)?;
    }
    Ok(parser
        .families
        .into_iter()
        .filter(|f| !f.metrics.is_empty())
        .map(|f| Family {
            name: f.name,
            help: f.help,
            kind: f.kind.unwrap_or(FamilyType::Untyped),
            metrics: f.metrics,
        })
        .collect())
}

/// A family while it is parsed: its TYPE is unknown until a TYPE line or a sample.
#[derive(Default)]
struct PartialFamily {
    name: String,
    help: Option<String>,
    kind: Option<FamilyType>,
    metrics: Vec<Metric>,
}

/// The labels of a sample line, without a summary's `quantile` or a histogram's `le`, which are
/// kept apart.
#[derive(Default)]
struct LabelSet {
    labels: Vec<(String, String)>,
    quantile: Option<f64>,
    bucket: Option<f64>,
}

/// What a sample line's name means for the family it belongs to.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    /// The family's own name (or a `_bucket` line of a histogram).
    Own,
    /// The `_count` line of a summary or histogram.
    Count,
    /// The `_sum` line of a summary or histogram.
    Sum,
}

#[derive(Default)]
struct Parser {
    families: Vec<PartialFamily>,
    by_name: HashMap<String, usize>,
    /// Summary and histogram metrics by family and labels, so their lines join one metric.
    compound: HashMap<(usize, Vec<(String, String)>), usize>,
}

impl Parser {
    fn line(&mut self, line: &[u8]) -> Result<(), String> {
        let mut c = Cursor::new(line);
        c.skip_blanks();
        match c.peek() {
            None => Ok(()),
            Some(b'#') => {
                c.advance();
                self.comment(&mut c)
            }
            Some(b'{') => {
                c.advance();
                self.sample(&mut c, None)
            }
            Some(_) => {
                let name = c.name(false)?;
                if name.is_empty() {
                    return Err("invalid metric name".into());
                }
                let target = self.resolve(&name)?;
                c.skip_blanks();
                self.sample(&mut c, Some(target))
            }
        }
    }

    /// A `#` line: `# HELP name text`, `# TYPE name type`, or any other comment.
    fn comment(&mut self, c: &mut Cursor) -> Result<(), String> {
        c.skip_blanks();
        let keyword = c.token();
        if c.at_end() || (keyword != b"HELP" && keyword != b"TYPE") {
            return Ok(());
        }
        c.skip_blanks();
        let name = c.name(false)?;
        if c.at_end() {
            return Ok(());
        }
        if !c.peek().is_some_and(is_blank) {
            return Err("invalid metric name in comment".into());
        }
        let (index, _) = self.resolve(&name)?;
        c.skip_blanks();
        if c.at_end() {
            return Ok(());
        }
        let family = &mut self.families[index];
        if keyword == b"HELP" {
            if family.help.is_some() {
                return Err(format!(
                    "second HELP line for metric name {:?}",
                    family.name
                ));
            }
            family.help = Some(String::from_utf8_lossy(&c.help_text()?).into_owned());
        } else {
            if family.kind.is_some() {
                return Err(format!(
                    "second TYPE line for metric name {:?}, or TYPE reported after samples",
                    family.name
                ));
            }
            let text = String::from_utf8_lossy(c.rest());
            family.kind = Some(
                FamilyType::from_type_line(&text)
                    .ok_or_else(|| format!("unknown metric type {text:?}"))?,
            );
        }
        Ok(())
    }

    /// The labels, value and timestamp of a sample line. `target` is the family and role of the
    /// name before the braces; without it, the name must come inside them (`{"name",l="v"}`).
    fn sample(&mut self, c: &mut Cursor, mut target: Option<(usize, Role)>) -> Result<(), String> {
        let set = if target.is_none() || c.peek() == Some(b'{') {
            self.label_set(c, &mut target)?
        } else {
            LabelSet::default()
        };
        let Some((index, role)) = target else {
            return Err("invalid metric name".into());
        };
        let token = String::from_utf8_lossy(c.token()).into_owned();
        let value =
            parse_float(&token).map_err(|_| format!("expected float as value, got {token:?}"))?;
        let timestamp_ms = if c.at_end() {
            None
        } else {
            c.skip_blanks();
            let token = String::from_utf8_lossy(c.token()).into_owned();
            let ts = token
                .parse::<i64>()
                .map_err(|_| format!("expected integer as timestamp, got {token:?}"))?;
            if !c.at_end() {
                let rest = String::from_utf8_lossy(c.rest());
                return Err(format!("spurious string after timestamp: {rest:?}"));
            }
            Some(ts)
        };
        self.add(index, role, set, value, timestamp_ms)
    }

    /// The `{…}` of a sample line, from `{` (or just after it when the line starts with it)
    /// through the blanks after `}`. A name without `=` inside the braces is the metric name;
    /// it sets `target`.
    fn label_set(
        &mut self,
        c: &mut Cursor,
        target: &mut Option<(usize, Role)>,
    ) -> Result<LabelSet, String> {
        let in_braces = target.is_none();
        if !in_braces {
            c.advance();
        }
        let mut set = LabelSet::default();
        loop {
            c.skip_blanks();
            if c.peek() == Some(b'}') {
                break;
            }
            let name = c.name(true)?;
            if name.is_empty() {
                let family = self.family_name(*target);
                return Err(format!("invalid label name for metric {family:?}"));
            }
            c.skip_blanks();
            if c.peek() != Some(b'=') {
                if !in_braces {
                    let found = c.peek_char();
                    return Err(format!("expected '=' after label name, found {found:?}"));
                }
                if target.is_some() {
                    let family = self.family_name(*target);
                    return Err(format!("multiple metric names for metric {family:?}"));
                }
                match c.peek() {
                    Some(b',') => c.advance(),
                    Some(b'}') => {}
                    _ => {
                        let found = c.peek_char();
                        return Err(format!("unexpected end of metric name {found:?}"));
                    }
                }
                *target = Some(self.resolve(&name)?);
                continue;
            }
            c.advance();
            let value = self.label_value(c, &name)?;
            let kind = target.and_then(|(i, _)| self.families[i].kind);
            if kind == Some(FamilyType::Summary) && name == "quantile" {
                set.quantile = Some(parse_float(&value).map_err(|_| {
                    format!("expected float as value for 'quantile' label, got {value:?}")
                })?);
            } else if kind.is_some_and(FamilyType::is_histogram) && name == "le" {
                set.bucket = Some(parse_float(&value).map_err(|_| {
                    format!("expected float as value for 'le' label, got {value:?}")
                })?);
            } else if set.labels.iter().any(|(n, _)| *n == name) {
                let family = self.family_name(*target);
                return Err(format!("duplicate label names for metric {family:?}"));
            } else {
                set.labels.push((name, value.clone()));
            }
            c.skip_blanks();
            match c.peek() {
                Some(b',') => c.advance(),
                Some(b'}') => break,
                _ => return Err(format!("unexpected end of label value {value:?}")),
            }
        }
        c.advance();
        c.skip_blanks();
        Ok(set)
    }

    /// A label's `"value"` after its `=`, checked as the Go parser checks it.
    fn label_value(&self, c: &mut Cursor, name: &str) -> Result<String, String> {
        if name == "__name__" {
            return Err("label name \"__name__\" is reserved".into());
        }
        if !is_legacy_label_name(name) {
            return Err(format!("invalid label name {name:?}"));
        }
        c.skip_blanks();
        if c.peek() != Some(b'"') {
            let found = c.peek_char();
            return Err(format!(
                "expected '\"' at start of label value, found {found:?}"
            ));
        }
        c.advance();
        String::from_utf8(c.label_value()?)
            .map_err(|e| format!("invalid label value \"{}\"", e.as_bytes().escape_ascii()))
    }

    /// The name of the family in `target`, or "" (for messages).
    fn family_name(&self, target: Option<(usize, Role)>) -> String {
        target.map_or(String::new(), |(i, _)| self.families[i].name.clone())
    }

    /// Records a sample's value in its family.
    fn add(
        &mut self,
        index: usize,
        role: Role,
        set: LabelSet,
        value: f64,
        timestamp_ms: Option<i64>,
    ) -> Result<(), String> {
        let family = &mut self.families[index];
        let kind = *family.kind.get_or_insert(FamilyType::Untyped);
        let empty = match kind {
            FamilyType::Summary => Value::Summary(Summary::default()),
            FamilyType::Histogram | FamilyType::GaugeHistogram => {
                Value::Histogram(Histogram::default())
            }
            _ => Value::Single(value),
        };
        let new = Metric {
            labels: set.labels,
            value: empty,
            timestamp_ms,
        };
        let slot = if matches!(new.value, Value::Single(_)) {
            family.metrics.push(new);
            family.metrics.len() - 1
        } else {
            let mut key = new.labels.clone();
            key.sort();
            *self.compound.entry((index, key)).or_insert_with(|| {
                family.metrics.push(new);
                family.metrics.len() - 1
            })
        };
        let metric = &mut family.metrics[slot];
        if timestamp_ms.is_some() {
            metric.timestamp_ms = timestamp_ms;
        }
        match &mut metric.value {
            Value::Single(_) => {}
            Value::Summary(s) => match (role, set.quantile) {
                (Role::Count, _) => s.count = value as u64,
                (Role::Sum, _) => s.sum = value,
                (Role::Own, Some(q)) => s.quantiles.push((q, value)),
                (Role::Own, None) => {}
            },
            Value::Histogram(h) => {
                let negative =
                    |what: &str| format!("negative {what} for histogram {:?}", family.name);
                match (role, set.bucket) {
                    (Role::Count, _) if value < 0.0 => return Err(negative("count")),
                    (Role::Count, _) => h.count = value,
                    (Role::Sum, _) => h.sum = value,
                    (Role::Own, Some(_)) if value < 0.0 => {
                        return Err(negative("bucket population"));
                    }
                    (Role::Own, Some(le)) => h.buckets.push((le, value)),
                    (Role::Own, None) => {}
                }
            }
        }
        Ok(())
    }

    /// The family a name belongs to, created if new: a summary's or histogram's `_sum`,
    /// `_count` (and `_bucket`) lines belong to it unless a family of that exact name exists.
    fn resolve(&mut self, name: &str) -> Result<(usize, Role), String> {
        if !is_valid_metric_name(name) {
            return Err(format!("invalid metric name {name:?}"));
        }
        if let Some(&index) = self.by_name.get(name) {
            return Ok((index, Role::Own));
        }
        for (suffix, role) in [
            ("_count", Role::Count),
            ("_sum", Role::Sum),
            ("_bucket", Role::Own),
        ] {
            let Some(base) = name.strip_suffix(suffix).filter(|b| !b.is_empty()) else {
                continue;
            };
            if let Some(&index) = self.by_name.get(base) {
                let kind = self.families[index].kind;
                let summary_part = kind == Some(FamilyType::Summary) && role != Role::Own;
                if summary_part || kind.is_some_and(FamilyType::is_histogram) {
                    return Ok((index, role));
                }
            }
        }
        self.families.push(PartialFamily {
            name: name.to_owned(),
            ..PartialFamily::default()
        });
        self.by_name
            .insert(name.to_owned(), self.families.len() - 1);
        Ok((self.families.len() - 1, Role::Own))
    }
}
