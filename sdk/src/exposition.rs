//! The Prometheus text exposition format (version 0.0.4), written as client_golang writes it, so
//! sonde's output diffs cleanly against node_exporter's.

use crate::metrics::{Label, MetricFamily, Sample};
use std::fmt::Write;

/// Sorts families by name and, within each, labels by name and samples by label values, the order
/// client_golang (and so node_exporter) uses.
pub fn normalize(families: &mut [MetricFamily]) {
    families.sort_by(|a, b| a.name.cmp(&b.name));
    for family in families.iter_mut() {
        for sample in &mut family.samples {
            sample.labels.sort_by(|a, b| a.name.cmp(&b.name));
        }
        family.samples.sort_by(compare_label_values);
    }
}

fn compare_label_values(a: &Sample, b: &Sample) -> std::cmp::Ordering {
    fn key(l: &Label) -> (&str, &str) {
        (l.name.as_str(), l.value.as_str())
    }
    a.labels.iter().map(key).cmp(b.labels.iter().map(key))
}

/// Renders families in the text format, in the order given. Families without samples are left out.
pub fn render(families: &[MetricFamily]) -> String {
    let mut out = String::with_capacity(families.iter().map(|f| 64 + f.samples.len() * 64).sum());
    for family in families {
        render_family(&mut out, family);
    }
    out
}

/// Appends one family (HELP, TYPE and samples) to `out`; nothing if it has no samples.
pub fn render_family(out: &mut String, family: &MetricFamily) {
    if family.samples.is_empty() {
        return;
    }
    out.push_str("# HELP ");
    out.push_str(&family.name);
    out.push(' ');
    escape_into(out, &family.help, false);
    out.push_str("\n# TYPE ");
    out.push_str(&family.name);
    out.push(' ');
    out.push_str(family.kind.type_name());
    out.push('\n');
    for sample in &family.samples {
        out.push_str(&family.name);
        if !sample.labels.is_empty() {
            out.push('{');
            for (i, label) in sample.labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&label.name);
                out.push_str("=\"");
                escape_into(out, &label.value, true);
                out.push('"');
            }
            out.push('}');
        }
        out.push(' ');
        write_float(out, sample.value);
        out.push('\n');
    }
}

/// Escapes `\` and newline (and `"` in label values), the only escapes the format has.
fn escape_into(out: &mut String, text: &str, quote: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Writes a float as client_golang does: Go's `strconv.FormatFloat(v, 'g', -1, 64)`, the shortest
/// digits that round-trip, in exponent form (`1.6042172416e+10`) when the decimal exponent is
/// below -4 or at least 6, and `+Inf`, `-Inf`, `NaN`.
pub fn write_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. "1.6042172416e10", "-5e-7".
    let mut sci = String::with_capacity(32);
    let _ = write!(sci, "{v:e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    out.push_str(sign);
    // Go's 'g' with the shortest precision switches to exponent form at exp < -4 || exp >= 6.
    if !(-4..6).contains(&exp) {
        out.push_str(mantissa);
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
        return;
    }
    if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::MetricFamily;

    fn f(v: f64) -> String {
        let mut s = String::new();
        write_float(&mut s, v);
        s
    }

    #[test]
    fn floats_as_go_formats_them() {
        // Expected values are what Go's strconv.FormatFloat(v, 'g', -1, 64) prints.
        assert_eq!(f(0.0), "0");
        assert_eq!(f(1.0), "1");
        assert_eq!(f(-1.0), "-1");
        assert_eq!(f(10870.69), "10870.69");
        assert_eq!(f(123456.0), "123456");
        assert_eq!(f(1234567.0), "1.234567e+06");
        assert_eq!(f(1e6), "1e+06");
        assert_eq!(f(1.6042172416e10), "1.6042172416e+10");
        assert_eq!(f(0.0001), "0.0001");
        assert_eq!(f(0.00001), "1e-05");
        assert_eq!(f(0.21), "0.21");
        assert_eq!(f(-2.5e-7), "-2.5e-07");
        assert_eq!(f(1.5e300), "1.5e+300");
        assert_eq!(f(f64::NAN), "NaN");
        assert_eq!(f(f64::INFINITY), "+Inf");
        assert_eq!(f(f64::NEG_INFINITY), "-Inf");
        assert_eq!(f(4294967295.0), "4.294967295e+09");
        assert_eq!(f(100000.0), "100000");
        assert_eq!(f(999999.0), "999999");
    }

    #[test]
    fn renders_and_escapes() {
        let mut fam = MetricFamily::gauge("node_x", "Help with \\ and\nnewline.");
        fam.sample(&[("a", "q\"uo\\te\n")], 1.5);
        let mut info = MetricFamily::info("node_y_info", "Info.");
        info.value(1.0);
        let empty = MetricFamily::counter("node_z_total", "Nothing.");
        let text = render(&[fam, info, empty]);
        assert_eq!(
            text,
            "# HELP node_x Help with \\\\ and\\nnewline.\n# TYPE node_x gauge\n\
             node_x{a=\"q\\\"uo\\\\te\\n\"} 1.5\n\
             # HELP node_y_info Info.\n# TYPE node_y_info gauge\nnode_y_info 1\n"
        );
    }

    #[test]
    fn normalize_sorts_like_client_golang() {
        let mut a = MetricFamily::counter("b_total", "b");
        a.sample(&[("mode", "user"), ("cpu", "1")], 1.0);
        a.sample(&[("mode", "idle"), ("cpu", "10")], 2.0);
        a.sample(&[("mode", "idle"), ("cpu", "1")], 3.0);
        let b = MetricFamily::gauge("a", "a").with_value(1.0);
        let mut fams = vec![a, b];
        normalize(&mut fams);
        assert_eq!(fams[0].name, "a");
        let order: Vec<_> = fams[1]
            .samples
            .iter()
            .map(|s| format!("{}/{}", s.labels[0].value, s.labels[1].value))
            .collect();
        assert_eq!(order, ["1/idle", "1/user", "10/idle"]);
    }
}
