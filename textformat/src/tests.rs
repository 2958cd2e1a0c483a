//! Tests of the text-format parser, including the error cases of client_golang's own tests.

use super::*;

fn error(input: &str) -> String {
    parse(input.as_bytes()).unwrap_err().to_string()
}

#[test]
fn parses_families_help_type_and_labels() {
    let families = parse(
        b"# A comment\n# HELP x Some \\\\ help\\n text\n# TYPE x counter\n\
          x{a=\"1\",b=\"q\\\"\\\\\\n\"} 3.5\nx {a=\"2\",} -Inf\n\n  y 1e3 1700000000000\n\
          # HELP lonely nothing\n",
    )
    .unwrap();
    assert_eq!(families.len(), 2, "a family without samples is left out");
    let x = &families[0];
    assert_eq!((x.name.as_str(), x.kind), ("x", FamilyType::Counter));
    assert_eq!(x.help.as_deref(), Some("Some \\ help\n text"));
    assert_eq!(x.metrics[0].labels[1], ("b".into(), "q\"\\\n".into()));
    assert_eq!(x.metrics[0].value, Value::Single(3.5));
    assert_eq!(x.metrics[1].value, Value::Single(f64::NEG_INFINITY));
    let y = &families[1];
    assert_eq!((y.kind, y.help.as_deref()), (FamilyType::Untyped, None));
    assert_eq!(y.metrics[0].timestamp_ms, Some(1700000000000));
}

#[test]
fn groups_summaries_and_histograms() {
    let families = parse(
        b"# TYPE s summary\ns{a=\"1\",quantile=\"0.5\"} 2\ns_sum{a=\"1\"} 10\n\
          s_count{a=\"1\"} 4.7\ns{a=\"1\",quantile=\"0.9\"} 3\n\
          # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 3\nh_sum 7\n\
          h_count 3\nh_total 5\n",
    )
    .unwrap();
    let s = &families[0];
    assert_eq!(s.metrics.len(), 1);
    assert_eq!(s.metrics[0].labels, [("a".to_owned(), "1".to_owned())]);
    let Value::Summary(summary) = &s.metrics[0].value else {
        panic!("not a summary")
    };
    assert_eq!(summary.count, 4, "counts are truncated, as in Go");
    assert_eq!(summary.sum, 10.0);
    assert_eq!(summary.quantiles, [(0.5, 2.0), (0.9, 3.0)]);
    let Value::Histogram(h) = &families[1].metrics[0].value else {
        panic!("not a histogram")
    };
    assert_eq!((h.count, h.sum), (3.0, 7.0));
    assert_eq!(h.buckets, [(1.0, 1.0), (f64::INFINITY, 3.0)]);
    assert_eq!(
        families[2].name, "h_total",
        "other suffixes are families of their own"
    );
}

#[test]
fn names_inside_braces() {
    let families = parse(b"{\"x\",a=\"b\"} 1\n{a=\"c\", y} 2\n").unwrap();
    assert_eq!(families[0].name, "x");
    assert_eq!(families[1].metrics[0].labels, [("a".into(), "c".into())]);
    assert_eq!(
        error("{\"one.name\",\"another.name\"} 3.14\n"),
        "text format parsing error in line 1: invalid metric name \"one.name\""
    );
}

/// The error cases of client_golang's own parser tests.
#[test]
fn rejects_what_the_go_parser_rejects() {
    for (input, message) in [
        (
            "\nbla 3.14\nblubber 42",
            "line 3: unexpected end of input stream",
        ),
        (
            "metric{label=\"\\t\"} 3.14\n",
            "line 1: invalid escape sequence '\\t'",
        ),
        (
            "\nmetric{label=\"new\nline\"} 3.14\n",
            "line 2: label value \"new\" contains unescaped new-line",
        ),
        (
            "metric{@=\"bla\"} 3.14\n",
            "line 1: invalid label name for metric \"metric\"",
        ),
        (
            "metric{__name__=\"bla\"} 3.14\n",
            "line 1: label name \"__name__\" is reserved",
        ),
        (
            "metric{label+=\"bla\"} 3.14\n",
            "line 1: expected '=' after label name, found '+'",
        ),
        (
            "metric{label=bla} 3.14\n",
            "line 1: expected '\"' at start of label value, found 'b'",
        ),
        (
            "# TYPE metric summary\nmetric{quantile=\"bla\"} 3.14\n",
            "line 2: expected float as value for 'quantile' label, got \"bla\"",
        ),
        (
            "metric{label=\"bla\"+} 3.14\n",
            "line 1: unexpected end of label value \"bla\"",
        ),
        (
            "metric{label=\"bla\"} 3.14 2.72\n",
            "line 1: expected integer as timestamp, got \"2.72\"",
        ),
        (
            "metric{label=\"bla\"} 3.14 2 3\n",
            "line 1: spurious string after timestamp: \" 3\"",
        ),
        (
            "metric{label=\"bla\"} blubb\n",
            "line 1: expected float as value, got \"blubb\"",
        ),
        (
            "# HELP metric one\n# HELP metric two\n",
            "line 2: second HELP line for metric name \"metric\"",
        ),
        (
            "# TYPE metric counter\n# TYPE metric untyped\n",
            "line 2: second TYPE line for metric name \"metric\", or TYPE reported after samples",
        ),
        (
            "metric 4.12\n# TYPE metric counter\n",
            "line 2: second TYPE line",
        ),
        ("# TYPE metric bla\n", "line 1: unknown metric type \"bla\""),
        ("# TYPE met-ric\n", "line 1: invalid metric name in comment"),
        (
            "@invalidmetric{label=\"bla\"} 3.14 2\n",
            "line 1: invalid metric name",
        ),
        ("{label=\"bla\"} 3.14 2\n", "line 1: invalid metric name"),
        ("{} 3.14\n", "line 1: invalid metric name"),
        (
            "# TYPE metric histogram\nmetric_bucket{le=\"0x1p-3\"} 3.14\n",
            "line 2: expected float as value for 'le' label",
        ),
        (
            "metric{l=\"\\xbd\"} 3.14\n",
            "line 1: invalid escape sequence '\\x'",
        ),
        ("foo 1_2\n", "line 1: expected float as value"),
        ("foo 0x1p-3\n", "line 1: expected float as value"),
        ("foo 0x1\n", "line 1: expected float as value"),
        ("foo 1e400\n", "line 1: expected float as value"),
        (
            "foo 1 \n",
            "line 1: expected integer as timestamp, got \"\"",
        ),
        (
            "metric{label=\"bla\",label=\"bla\"} 3.14\n",
            "line 1: duplicate label names for metric \"metric\"",
        ),
        (
            "{\"metric.name\".label=\"bla\"} 3.14\n",
            "line 1: unexpected end of metric name '.'",
        ),
        (
            "\n# TYPE \"metric\nname\" counter\n",
            "line 2: metric name \"metric\" contains unescaped new-line",
        ),
        (
            "metric_name{\"foo\"=\"bar\", \"dotted.label\"=\"bla\"} 3.14\n",
            "line 1: invalid label name \"dotted.label\"",
        ),
        (
            "# TYPE h histogram\nh_bucket{le=\"1\"} -4\n",
            "line 2: negative bucket population for histogram \"h\"",
        ),
        (
            "# TYPE h histogram\nh_count -2693.123\n",
            "line 2: negative count for histogram \"h\"",
        ),
        ("# HELP x trailing \\\n", "line 1: invalid escape sequence"),
    ] {
        let err = error(input);
        let expected = format!("text format parsing error in {message}");
        assert!(err.starts_with(&expected), "{input:?}: {err}");
    }
    let invalid_utf8 = parse(b"metric{l=\"\xbd\"} 3.14\n").unwrap_err();
    assert_eq!(invalid_utf8.message, "invalid label value \"\\xbd\"");
}

#[test]
fn accepts_what_the_go_parser_accepts() {
    for input in [
        "",
        "  \n\t\n",
        "# HELP\n#\n# TYPE x\n# TYPE x \n",
        "x 1\n   ",
        "x{} +Inf\n",
        "x NaN -5\n",
        "__x{__y=\"1\"} 1\n",
        "x{a=\"1\"} 1\nx{a=\"1\"} 2\n",
        "# TYPE x GAUGE\nx 1\n",
    ] {
        assert!(parse(input.as_bytes()).is_ok(), "{input:?}");
    }
    assert_eq!(
        parse(b"x 1\nx 2\n").unwrap()[0].metrics.len(),
        2,
        "duplicates kept"
    );
}
