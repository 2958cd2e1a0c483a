//! node_exporter's conversion of a parsed text-format family into metrics: label names some
//! samples lack are added with an empty value, and summaries and histograms are spelled out as
//! the series node_exporter exposes for them.

use sonde_sdk::exposition::write_float;
use sonde_sdk::{Label, MetricFamily, MetricKind};
use sonde_textformat::{Family, FamilyType, Value};

/// The families `family` is exposed as, with the HELP `help`.
///
/// sonde's metric model has no summary or histogram type, so a summary `x` becomes the untyped
/// families `x{quantile}`, `x_sum` and `x_count`, and a histogram `x` becomes `x_bucket{le}`
/// (with the `+Inf` bucket client_golang adds when missing), `x_sum` and `x_count`: the same
/// series and values as node_exporter's, under `untyped` TYPE lines. (Gauge histograms, on
/// which node_exporter panics, are spelled out like histograms.)
pub fn convert(family: &Family, help: &str) -> Vec<MetricFamily> {
    let name = family.name.as_str();
    let kind = match family.kind {
        FamilyType::Counter => MetricKind::Counter,
        FamilyType::Gauge => MetricKind::Gauge,
        _ => MetricKind::Untyped,
    };
    let mut main = MetricFamily::new(name, help, kind);
    let mut sum = MetricFamily::untyped(format!("{name}_sum"), help);
    let mut count = MetricFamily::untyped(format!("{name}_count"), help);
    let mut buckets = MetricFamily::untyped(format!("{name}_bucket"), help);
    let all_names = label_names(family);
    for metric in &family.metrics {
        let mut labels: Vec<Label> = metric
            .labels
            .iter()
            .map(|(name, value)| label(name, value))
            .collect();
        for name in &all_names {
            if !metric.labels.iter().any(|(n, _)| n == name) {
                labels.push(label(name, ""));
            }
        }
        match &metric.value {
            Value::Single(v) => {
                main.sample_owned(labels, *v);
            }
            Value::Summary(s) => {
                for (quantile, value) in last_per_key(&s.quantiles) {
                    main.sample_owned(with(&labels, "quantile", quantile), value);
                }
                sum.sample_owned(labels.clone(), s.sum);
                count.sample_owned(labels, s.count as f64);
            }
            Value::Histogram(h) => {
                let mut bounds = last_per_key(&h.buckets);
                if bounds.last().is_none_or(|&(le, _)| le != f64::INFINITY) {
                    bounds.push((f64::INFINITY, h.count));
                }
                for (le, cumulative) in bounds {
                    buckets.sample_owned(with(&labels, "le", le), cumulative);
                }
                sum.sample_owned(labels.clone(), h.sum);
                count.sample_owned(labels, h.count);
            }
        }
    }
    [main, buckets, sum, count]
        .into_iter()
        .filter(|f| !f.is_empty())
        .collect()
}

/// Every label name of the family's metrics, in order of first appearance.
fn label_names(family: &Family) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in family.metrics.iter().flat_map(|m| &m.labels) {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    names
}

fn label(name: &str, value: &str) -> Label {
    Label {
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

/// `labels` plus `name` with the number `value` written as client_golang writes it.
fn with(labels: &[Label], name: &str, value: f64) -> Vec<Label> {
    let mut text = String::new();
    write_float(&mut text, value);
    let mut out = labels.to_vec();
    out.push(label(name, &text));
    out
}

/// `(key, value)` pairs sorted by key, the last value of a repeated key kept (client_golang
/// builds const summaries and histograms from maps).
fn last_per_key(pairs: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(pairs.len());
    for &(key, value) in pairs {
        match out.iter_mut().find(|(k, _)| k.total_cmp(&key).is_eq()) {
            Some(slot) => slot.1 = value,
            None => out.push((key, value)),
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonde_sdk::exposition::render;
    use sonde_textformat::parse;

    fn text(input: &str) -> String {
        let families = parse(input.as_bytes()).unwrap();
        let mut out: Vec<MetricFamily> = families.iter().flat_map(|f| convert(f, "h")).collect();
        sonde_sdk::exposition::normalize(&mut out);
        render(&out)
    }

    #[test]
    fn missing_labels_are_empty_and_types_kept() {
        assert_eq!(
            text("# TYPE x counter\nx{a=\"1\"} 1\nx{b=\"2\"} 2\n"),
            "# HELP x h\n# TYPE x counter\nx{a=\"\",b=\"2\"} 2\nx{a=\"1\",b=\"\"} 1\n"
        );
    }

    #[test]
    fn summaries_and_histograms_are_spelled_out() {
        let out = text(
            "# TYPE s summary\ns{quantile=\"0.9\"} 3\ns{quantile=\"0.5\"} 2\ns{quantile=\"0.5\"} 4\n\
             s_sum 10\ns_count 4\n\
             # TYPE h histogram\nh_bucket{l=\"a\",le=\"0.5\"} 1\nh_bucket{l=\"a\",le=\"1\"} 2\n\
             h_sum{l=\"a\"} 1.5\nh_count{l=\"a\"} 3\n",
        );
        let expected = "\
# HELP h_bucket h\n# TYPE h_bucket untyped\n\
h_bucket{l=\"a\",le=\"+Inf\"} 3\nh_bucket{l=\"a\",le=\"0.5\"} 1\nh_bucket{l=\"a\",le=\"1\"} 2\n\
# HELP h_count h\n# TYPE h_count untyped\nh_count{l=\"a\"} 3\n\
# HELP h_sum h\n# TYPE h_sum untyped\nh_sum{l=\"a\"} 1.5\n\
# HELP s h\n# TYPE s untyped\ns{quantile=\"0.5\"} 4\ns{quantile=\"0.9\"} 3\n\
# HELP s_count h\n# TYPE s_count untyped\ns_count 4\n\
# HELP s_sum h\n# TYPE s_sum untyped\ns_sum 10\n";
        assert_eq!(out, expected);
    }
}
