//! Prometheus's own relabel test cases, ported from prometheus/prometheus at d15adb9ad7e5
//! (`model/relabel/relabel_test.go`, and the relabel cases of `config/config_test.go` with their
//! `config/testdata/*.yml`). Each case keeps Prometheus' comment, or a short name with its index
//! in the upstream table (`TestRelabel[3]`), so it can be found upstream.
//!
//! sonde validates names as Prometheus does with `metric_name_validation_scheme: legacy` (the only
//! names it can expose); upstream runs `TestRelabel` and most of `TestRelabelValidate` with the
//! UTF-8 scheme. The cases whose outcome depends on the scheme are ported with Prometheus' legacy
//! outcome, and marked "legacy scheme".
//!
//! Skipped, and why:
//! - `TestConfig_UnmarshalThenMarshal`, `TestRegexp_ShouldMarshalAndUnmarshalZeroValue`,
//!   `TestRegexp_JSONUnmarshalThenMarshal`: YAML/JSON marshalling of Go structs; sonde only reads
//!   TOML, where `None` is "not given" (how an explicit empty value stays distinct is covered by
//!   the `regex = ""` cases below).
//! - `BenchmarkRelabel`: a benchmark. Its three configs are still ported below as configs that
//!   must compile, run on the benchmark's labels (upstream asserts no output for them).
//! - `TestRelabelValidate[3]` is the UTF-8-scheme twin of `[4]`, ported with the legacy outcome.
//! - The UTF-8 validation scheme itself (`NameValidationScheme` toggles): sonde is legacy-only.
//! - `config/testdata/labelmap.bad.yml` (a `!!binary` replacement that is not UTF-8),
//!   `empty_scrape_config_action.bad.yml` (`action: null`) and the `empty_*_relabel_config`
//!   files (a null rule): TOML has neither null nor non-UTF-8 strings.
//! - `labelname.bad.yml`, `labelvalue.bad.yml` (external labels, not relabeling), and the
//!   scrape/notifier/remote-write tests that merely use relabeling.
//!
//! The hashmod values beyond upstream's two were computed with Python's `hashlib.md5` following
//! Prometheus' algorithm (last 8 bytes of the digest, big-endian, modulo). The last sections check
//! Go behaviours the upstream tests do not reach (regexp dialect, `Expand` templates, case mapping,
//! action names); they are sonde's own, not ports.

use super::*;
use serde::Deserialize;

// ---- helpers ----

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|n| (*n).to_owned()).collect()
}

/// A label vector from pairs.
fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    pairs
        .iter()
        .map(|(name, value)| Label {
            name: (*name).to_owned(),
            value: (*value).to_owned(),
        })
        .collect()
}

/// Labels as a sorted set (Prometheus' `labels.Labels` are sorted by name), checking that no name
/// appears twice.
fn sorted(labels: &[Label]) -> Vec<(String, String)> {
    let mut v: Vec<_> = labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect();
    v.sort();
    assert!(
        v.windows(2).all(|w| w[0].0 != w[1].0),
        "a label is there twice: {v:?}"
    );
    v
}

#[track_caller]
fn compile_all(case: &str, configs: &[RelabelConfig]) -> Vec<RelabelRule> {
    configs
        .iter()
        .map(|c| RelabelRule::compile(c).unwrap_or_else(|e| panic!("{case}: {e} in {c:?}")))
        .collect()
}

/// Runs compiled rules on `input`: the sorted labels when kept, `None` when dropped.
fn run(rules: &[RelabelRule], input: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
    let mut labels = labels(input);
    let mut scratch = String::new();
    relabel(rules, &mut labels, &mut scratch).then(|| sorted(&labels))
}

/// Compiles `configs`, runs them on `input` and compares with `expected` (`None`: dropped).
#[track_caller]
fn check(
    case: &str,
    input: &[(&str, &str)],
    configs: &[RelabelConfig],
    expected: Option<&[(&str, &str)]>,
) {
    let rules = compile_all(case, configs);
    let expected = expected.map(|e| sorted(&labels(e)));
    assert_eq!(run(&rules, input), expected, "{case}");
}

/// `config` is rejected, on `key`, with a message containing `message`.
#[track_caller]
fn check_invalid(case: &str, config: &RelabelConfig, key: &str, message: &str) {
    match RelabelRule::compile(config) {
        Ok(_) => panic!("{case}: accepted {config:?}"),
        Err(e) => {
            assert_eq!(e.key, key, "{case}: {e}");
            assert!(
                e.message.contains(message),
                "{case}: {:?} does not contain {message:?}",
                e.message
            );
        }
    }
}

#[track_caller]
fn check_valid(case: &str, config: &RelabelConfig) {
    if let Err(e) = RelabelRule::compile(config) {
        panic!("{case}: {e} in {config:?}");
    }
}

/// A sonde config's `[[relabel]]` list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rules {
    relabel: Vec<RelabelConfig>,
}

fn parse_toml(text: &str) -> Result<Vec<RelabelConfig>, String> {
    toml::from_str::<Rules>(text)
        .map(|r| r.relabel)
        .map_err(|e| e.to_string())
}

/// Parses and compiles a TOML rule list; the first error as text.
fn compile_toml(text: &str) -> Result<Vec<RelabelRule>, String> {
    parse_toml(text)?
        .iter()
        .map(|c| RelabelRule::compile(c).map_err(|e| e.to_string()))
        .collect()
}

fn replace(source: &[&str], regex: &str, target: &str, replacement: &str) -> RelabelConfig {
    RelabelConfig {
        source_labels: names(source),
        regex: s(regex),
        target_label: s(target),
        replacement: s(replacement),
        action: Action::Replace,
        ..RelabelConfig::default()
    }
}

// ---- TestRelabel ----

#[test]
fn relabel_replace() {
    check(
        "TestRelabel[0] ch${1}-ch${1}",
        &[("a", "foo"), ("b", "bar"), ("c", "baz")],
        &[RelabelConfig {
            source_labels: names(&["a"]),
            regex: s("f(.*)"),
            target_label: s("d"),
            separator: s(";"),
            replacement: s("ch${1}-ch${1}"),
            action: Action::Replace,
            ..RelabelConfig::default()
        }],
        Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "choo-choo")]),
    );
    check(
        "TestRelabel[1] boobam, boooom",
        &[("a", "foo"), ("b", "bar"), ("c", "baz")],
        &[
            RelabelConfig {
                source_labels: names(&["a", "b"]),
                regex: s("f(.*);(.*)r"),
                target_label: s("a"),
                separator: s(";"),
                replacement: s("b${1}${2}m"), // boobam
                action: Action::Replace,
                ..RelabelConfig::default()
            },
            RelabelConfig {
                source_labels: names(&["c", "a"]),
                regex: s("(b).*b(.*)ba(.*)"),
                target_label: s("d"),
                separator: s(";"),
                replacement: s("$1$2$2$3"),
                action: Action::Replace,
                ..RelabelConfig::default()
            },
        ],
        Some(&[("a", "boobam"), ("b", "bar"), ("c", "baz"), ("d", "boooom")]),
    );
    check(
        "TestRelabel[4] .*(b).*",
        &[("a", "abc")],
        &[RelabelConfig {
            source_labels: names(&["a"]),
            regex: s(".*(b).*"),
            target_label: s("d"),
            separator: s(";"),
            replacement: s("$1"),
            action: Action::Replace,
            ..RelabelConfig::default()
        }],
        Some(&[("a", "abc"), ("d", "b")]),
    );
    // No replacement must be applied if there is no match.
    check(
        "TestRelabel[9] no match, no replacement",
        &[("a", "boo")],
        &[RelabelConfig {
            source_labels: names(&["a"]),
            regex: s("f"),
            target_label: s("b"),
            replacement: s("bar"),
            action: Action::Replace,
            ..RelabelConfig::default()
        }],
        Some(&[("a", "boo")]),
    );
    // Blank replacement should delete the label.
    check(
        "TestRelabel[10] blank replacement deletes",
        &[("a", "foo"), ("f", "baz")],
        &[RelabelConfig {
            source_labels: names(&["a"]),
            regex: s("(f).*"),
            target_label: s("$1"),
            replacement: s("$2"),
            action: Action::Replace,
            ..RelabelConfig::default()
        }],
        Some(&[("a", "foo")]),
    );
}

#[test]
fn relabel_keep_drop() {
    check(
        "TestRelabel[2] drop before replace",
        &[("a", "foo")],
        &[
            RelabelConfig {
                source_labels: names(&["a"]),
                regex: s(".*o.*"),
                action: Action::Drop,
                ..RelabelConfig::default()
            },
            RelabelConfig {
                source_labels: names(&["a"]),
                regex: s("f(.*)"),
                target_label: s("d"),
                separator: s(";"),
                replacement: s("ch$1-ch$1"),
                action: Action::Replace,
                ..RelabelConfig::default()
            },
        ],
        None,
    );
    check(
        "TestRelabel[3] drop .*o.*",
        &[("a", "foo"), ("b", "bar")],
        &[RelabelConfig {
            source_labels: names(&["a"]),
            regex: s(".*o.*"),
            action: Action::Drop,
            ..RelabelConfig::default()
        }],
        None,
    );
    check(
        "TestRelabel[5] drop no-match",
        &[("a", "foo")],
        &[RelabelConfig {
            source_labels: names(&["a"]),
            regex: s("no-match"),
            action: Action::Drop,
            ..RelabelConfig::default()
        }],
        Some(&[("a", "foo")]),
    );
    check(
        "TestRelabel[6] drop f|o (anchored)",
        &[("a", "foo")],
        &[RelabelConfig {
            source_labels: names(&["a"]),
            regex: s("f|o"),
            action: Action::Drop,
            ..RelabelConfig::default()
        }],
        Some(&[("a", "foo")]),
    );
    check(
        "TestRelabel[7] keep no-match",
        &[("a", "foo")],
        &[RelabelConfig {
            source_labels: names(&["a"]),
            regex: s("no-match"),
            action: Action::Keep,
            ..RelabelConfig::default()
        }],
        None,
    );
    check(
        "TestRelabel[8] keep f.*",
        &[("a", "foo")],
        &[RelabelConfig {
            source_labels: names(&["a"]),
            regex: s("f.*"),
            action: Action::Keep,
            ..RelabelConfig::default()
        }],
        Some(&[("a", "foo")]),
    );
}

#[test]
fn relabel_hashmod() {
    check(
        "TestRelabel[11] hashmod baz % 1000",
        &[("a", "foo"), ("b", "bar"), ("c", "baz")],
        &[RelabelConfig {
            source_labels: names(&["c"]),
            target_label: s("d"),
            separator: s(";"),
            action: Action::HashMod,
            modulus: Some(1000),
            ..RelabelConfig::default()
        }],
        Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "976")]),
    );
    check(
        "TestRelabel[12] hashmod foo\\nbar % 1000",
        &[("a", "foo\nbar")],
        &[RelabelConfig {
            source_labels: names(&["a"]),
            target_label: s("b"),
            separator: s(";"),
            action: Action::HashMod,
            modulus: Some(1000),
            ..RelabelConfig::default()
        }],
        Some(&[("a", "foo\nbar"), ("b", "734")]),
    );
}

#[test]
fn relabel_labelmap_labelkeep_labeldrop() {
    check(
        "TestRelabel[13] labelmap (b.*) -> bar_${1}",
        &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
        &[RelabelConfig {
            regex: s("(b.*)"),
            replacement: s("bar_${1}"),
            action: Action::LabelMap,
            ..RelabelConfig::default()
        }],
        Some(&[
            ("a", "foo"),
            ("b1", "bar"),
            ("b2", "baz"),
            ("bar_b1", "bar"),
            ("bar_b2", "baz"),
        ]),
    );
    check(
        "TestRelabel[14] labelmap __meta_(my.*) -> ${1}",
        &[
            ("a", "foo"),
            ("__meta_my_bar", "aaa"),
            ("__meta_my_baz", "bbb"),
            ("__meta_other", "ccc"),
        ],
        &[RelabelConfig {
            regex: s("__meta_(my.*)"),
            replacement: s("${1}"),
            action: Action::LabelMap,
            ..RelabelConfig::default()
        }],
        Some(&[
            ("a", "foo"),
            ("__meta_my_bar", "aaa"),
            ("__meta_my_baz", "bbb"),
            ("__meta_other", "ccc"),
            ("my_bar", "aaa"),
            ("my_baz", "bbb"),
        ]),
    );
    check(
        "TestRelabel[20] labelkeep (b.*)",
        &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
        &[RelabelConfig {
            regex: s("(b.*)"),
            action: Action::LabelKeep,
            ..RelabelConfig::default()
        }],
        Some(&[("b1", "bar"), ("b2", "baz")]),
    );
    check(
        "TestRelabel[21] labeldrop (b.*)",
        &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
        &[RelabelConfig {
            regex: s("(b.*)"),
            action: Action::LabelDrop,
            ..RelabelConfig::default()
        }],
        Some(&[("a", "foo")]),
    );
}

#[test]
fn relabel_templated_targets() {
    // valid case
    check(
        "TestRelabel[15] valid case",
        &[("a", "some-name-value")],
        &[RelabelConfig {
            source_labels: names(&["a"]),
            regex: s("some-([^-]+)-([^,]+)"),
            action: Action::Replace,
            replacement: s("${2}"),
            target_label: s("${1}"),
            ..RelabelConfig::default()
        }],
        Some(&[("a", "some-name-value"), ("name", "value")]),
    );
    // invalid replacement ""
    check(
        "TestRelabel[16] invalid replacement \"\"",
        &[("a", "some-name-value")],
        &[RelabelConfig {
            source_labels: names(&["a"]),
            regex: s("some-([^-]+)-([^,]+)"),
            action: Action::Replace,
            replacement: s("${3}"),
            target_label: s("${1}"),
            ..RelabelConfig::default()
        }],
        Some(&[("a", "some-name-value")]),
    );
    // invalid target_labels
    let invalid = |regex: &str| RelabelConfig {
        source_labels: names(&["a"]),
        regex: s(regex),
        action: Action::Replace,
        replacement: s("${1}"),
        target_label: s("${3}"),
        ..RelabelConfig::default()
    };
    check(
        "TestRelabel[17] invalid target_labels",
        &[("a", "some-name-0")],
        &[
            invalid("some-([^-]+)-([^,]+)"),
            invalid("some-([^-]+)-([^,]+)"),
            invalid("some-([^-]+)(-[^,]+)"),
        ],
        Some(&[("a", "some-name-0")]),
    );
    // more complex real-life like usecase
    check(
        "TestRelabel[18] more complex real-life like usecase",
        &[("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar")],
        &[
            RelabelConfig {
                source_labels: names(&["__meta_sd_tags"]),
                regex: s("(?:.+,|^)path:(/[^,]+).*"),
                action: Action::Replace,
                replacement: s("${1}"),
                target_label: s("__metrics_path__"),
                ..RelabelConfig::default()
            },
            RelabelConfig {
                source_labels: names(&["__meta_sd_tags"]),
                regex: s("(?:.+,|^)job:([^,]+).*"),
                action: Action::Replace,
                replacement: s("${1}"),
                target_label: s("job"),
                ..RelabelConfig::default()
            },
            RelabelConfig {
                source_labels: names(&["__meta_sd_tags"]),
                regex: s("(?:.+,|^)label:([^=]+)=([^,]+).*"),
                action: Action::Replace,
                replacement: s("${2}"),
                target_label: s("${1}"),
                ..RelabelConfig::default()
            },
        ],
        Some(&[
            ("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar"),
            ("__metrics_path__", "/secret"),
            ("job", "some-job"),
            ("foo", "bar"),
        ]),
    );
    // From https://github.com/prometheus/prometheus/issues/12283
    check(
        "TestRelabel[19] issue 12283",
        &[
            ("__meta_kubernetes_pod_container_port_name", "foo"),
            ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
        ],
        &[
            RelabelConfig {
                regex: s("^__meta_kubernetes_pod_container_port_name$"),
                action: Action::LabelDrop,
                ..RelabelConfig::default()
            },
            RelabelConfig {
                source_labels: names(&["__meta_kubernetes_pod_annotation_XXX_metrics_port"]),
                regex: s("(.+)"),
                action: Action::Replace,
                replacement: s("metrics"),
                target_label: s("__meta_kubernetes_pod_container_port_name"),
                ..RelabelConfig::default()
            },
            RelabelConfig {
                source_labels: names(&["__meta_kubernetes_pod_container_port_name"]),
                regex: s("^metrics$"),
                action: Action::Keep,
                ..RelabelConfig::default()
            },
        ],
        Some(&[
            ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
            ("__meta_kubernetes_pod_container_port_name", "metrics"),
        ]),
    );
}

#[test]
fn relabel_case_and_equal() {
    check(
        "TestRelabel[22] uppercase, lowercase",
        &[("foo", "bAr123Foo")],
        &[
            RelabelConfig {
                source_labels: names(&["foo"]),
                action: Action::Uppercase,
                target_label: s("foo_uppercase"),
                ..RelabelConfig::default()
            },
            RelabelConfig {
                source_labels: names(&["foo"]),
                action: Action::Lowercase,
                target_label: s("foo_lowercase"),
                ..RelabelConfig::default()
            },
        ],
        Some(&[
            ("foo", "bAr123Foo"),
            ("foo_lowercase", "bar123foo"),
            ("foo_uppercase", "BAR123FOO"),
        ]),
    );
    let ports = [
        ("__tmp_port", "1234"),
        ("__port1", "1234"),
        ("__port2", "5678"),
    ];
    let equal = |action: Action, target: &str| RelabelConfig {
        source_labels: names(&["__tmp_port"]),
        action,
        target_label: s(target),
        ..RelabelConfig::default()
    };
    check(
        "TestRelabel[23] keepequal, equal",
        &ports,
        &[equal(Action::KeepEqual, "__port1")],
        Some(&ports),
    );
    check(
        "TestRelabel[24] dropequal, equal",
        &ports,
        &[equal(Action::DropEqual, "__port1")],
        None,
    );
    check(
        "TestRelabel[25] dropequal, different",
        &ports,
        &[equal(Action::DropEqual, "__port2")],
        Some(&ports),
    );
    check(
        "TestRelabel[26] keepequal, different",
        &ports,
        &[equal(Action::KeepEqual, "__port2")],
        None,
    );
}

#[test]
fn relabel_multiline_utf8_and_named_groups() {
    let input = [("a", "line1\nline2"), ("b", "bar"), ("c", "baz")];
    check(
        "TestRelabel[27] line1.*line2 matches across \\n",
        &input,
        &[RelabelConfig {
            source_labels: names(&["a"]),
            regex: s("line1.*line2"),
            target_label: s("d"),
            separator: s(";"),
            replacement: s("match${1}"),
            action: Action::Replace,
            ..RelabelConfig::default()
        }],
        Some(&[
            ("a", "line1\nline2"),
            ("b", "bar"),
            ("c", "baz"),
            ("d", "match"),
        ]),
    );
    // Replace on source label with UTF-8 characters.
    check(
        "TestRelabel[28] replace on source label with UTF-8 characters",
        &[("utf-8.label", "line1\nline2"), ("b", "bar"), ("c", "baz")],
        &[RelabelConfig {
            source_labels: names(&["utf-8.label"]),
            regex: s("line1.*line2"),
            target_label: s("d"),
            separator: s(";"),
            replacement: s("match${1}"),
            action: Action::Replace,
            ..RelabelConfig::default()
        }],
        Some(&[
            ("utf-8.label", "line1\nline2"),
            ("b", "bar"),
            ("c", "baz"),
            ("d", "match"),
        ]),
    );
    // Replace targetLabel with UTF-8 characters. Legacy scheme: the target is refused (upstream,
    // under UTF-8, adds `utf-8.label="match"`).
    check_invalid(
        "TestRelabel[29] replace targetLabel with UTF-8 characters (legacy scheme)",
        &RelabelConfig {
            source_labels: names(&["a"]),
            regex: s("line1.*line2"),
            target_label: s("utf-8.label"),
            separator: s(";"),
            replacement: s("match${1}"),
            action: Action::Replace,
            ..RelabelConfig::default()
        },
        "target_label",
        "\"utf-8.label\" is invalid 'target_label' for replace action",
    );
    // Replace targetLabel with UTF-8 characters and $variable. Legacy scheme: refused.
    check_invalid(
        "TestRelabel[30] replace targetLabel with UTF-8 characters and $variable (legacy scheme)",
        &RelabelConfig {
            source_labels: names(&["a"]),
            regex: s("line1.*line2"),
            target_label: s("utf-8.label${1}"),
            separator: s(";"),
            replacement: s("match${1}"),
            action: Action::Replace,
            ..RelabelConfig::default()
        },
        "target_label",
        "\"utf-8.label${1}\" is invalid 'target_label' for replace action",
    );
    // Replace targetLabel with UTF-8 characters and various $var styles.
    check(
        "TestRelabel[31] various $var styles",
        &input,
        &[
            RelabelConfig {
                source_labels: names(&["a"]),
                regex: s("(line1).*(?<second>line2)"),
                target_label: s("label1_${1}"),
                separator: s(";"),
                replacement: s("val_${second}"),
                action: Action::Replace,
                ..RelabelConfig::default()
            },
            RelabelConfig {
                source_labels: names(&["a"]),
                regex: s("(line1).*(?<second>line2)"),
                target_label: s("label2_$1"),
                separator: s(";"),
                replacement: s("val_$second"),
                action: Action::Replace,
                ..RelabelConfig::default()
            },
        ],
        Some(&[
            ("a", "line1\nline2"),
            ("b", "bar"),
            ("c", "baz"),
            ("label1_line1", "val_line2"),
            ("label2_line1", "val_line2"),
        ]),
    );
    check(
        "TestRelabel[32] __type__ from _total",
        &[("__name__", "http_requests_total")],
        &[replace(&["__name__"], ".*_total$", "__type__", "counter")],
        Some(&[("__name__", "http_requests_total"), ("__type__", "counter")]),
    );
    check(
        "TestRelabel[33] __unit__ from _bytes",
        &[("__name__", "disk_usage_bytes")],
        &[replace(&["__name__"], ".*_bytes$", "__unit__", "bytes")],
        Some(&[("__name__", "disk_usage_bytes"), ("__unit__", "bytes")]),
    );
}

// ---- hashmod, bit-compatible ----

#[test]
fn hashmod_matches_md5_tail_big_endian() {
    let hashmod = |sources: &[&str], separator: Option<&str>, modulus: u64| RelabelConfig {
        source_labels: names(sources),
        separator: separator.map(str::to_owned),
        target_label: s("h"),
        modulus: Some(modulus),
        action: Action::HashMod,
        ..RelabelConfig::default()
    };
    // (case, input, sources, separator, modulus, expected); values from Python's hashlib.md5.
    type Case<'a> = (
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a [&'a str],
        Option<&'a str>,
        u64,
        &'a str,
    );
    let cases: [Case; 10] = [
        ("missing source: md5(\"\")", &[], &["a"], None, 1000, "958"),
        (
            "two sources, default separator: md5(\"foo;bar\")",
            &[("a", "foo"), ("b", "bar")],
            &["a", "b"],
            None,
            1000,
            "750",
        ),
        (
            "two sources, separator \",\"",
            &[("a", "foo"), ("b", "bar")],
            &["a", "b"],
            Some(","),
            1000,
            "630",
        ),
        (
            "BenchmarkRelabel's __address__ % 3",
            &[("a", "10.132.183.40:80")],
            &["a"],
            None,
            3,
            "1",
        ),
        (
            "conf.good.yml's modulus 8",
            &[("a", "10.132.183.40:80")],
            &["a"],
            None,
            8,
            "0",
        ),
        ("UTF-8 value", &[("a", "日本語")], &["a"], None, 1000, "612"),
        (
            "modulus 2^64-1 (the whole 64-bit tail)",
            &[("a", "baz")],
            &["a"],
            None,
            u64::MAX,
            "16450797887570275976",
        ),
        (
            "modulus 2^63",
            &[("a", "baz")],
            &["a"],
            None,
            1 << 63,
            "7227425850715500168",
        ),
        ("modulus 1", &[("a", "baz")], &["a"], None, 1, "0"),
        (
            "modulus 2^32",
            &[("a", "localhost:9100")],
            &["a"],
            None,
            1 << 32,
            "185904975",
        ),
    ];
    for (case, input, sources, separator, modulus, expected) in cases {
        let rules = compile_all(case, &[hashmod(sources, separator, modulus)]);
        let out = run(&rules, input).expect("kept");
        let h = out.iter().find(|(n, _)| n == "h").map(|(_, v)| v.as_str());
        assert_eq!(h, Some(expected), "{case}");
    }
}

// ---- TestRelabelValidate ----

#[test]
fn relabel_validate() {
    // [0] An empty action: in a config file it is an unknown action (Prometheus' "relabel action
    // cannot be empty" is only reachable with `action: null`, which TOML cannot express).
    let err = parse_toml("[[relabel]]\naction = \"\"\n").expect_err("TestRelabelValidate[0]");
    assert!(
        err.contains("unknown relabel action \"\""),
        "TestRelabelValidate[0]: {err}"
    );
    check_invalid(
        "TestRelabelValidate[1] replace without target",
        &RelabelConfig {
            action: Action::Replace,
            ..RelabelConfig::default()
        },
        "target_label",
        "requires 'target_label' value",
    );
    check_invalid(
        "TestRelabelValidate[2] lowercase without target",
        &RelabelConfig {
            action: Action::Lowercase,
            ..RelabelConfig::default()
        },
        "target_label",
        "requires 'target_label' value",
    );
    // [3] "With UTF-8 naming, this is now a legal relabel rule"; [4] "Fails with legacy validation".
    for case in [
        "TestRelabelValidate[3] lowercase ${3} (legacy scheme)",
        "TestRelabelValidate[4] lowercase ${3}",
    ] {
        check_invalid(
            case,
            &RelabelConfig {
                action: Action::Lowercase,
                replacement: s(DEFAULT_REPLACEMENT),
                target_label: s("${3}"),
                ..RelabelConfig::default()
            },
            "target_label",
            "\"${3}\" is invalid 'target_label' for lowercase action",
        );
    }
    check_valid(
        "TestRelabelValidate[5] replace ${3}",
        &replace(&["a"], "some-([^-]+)-([^,]+)", "${3}", "${1}"),
    );
    // [6], [7] "With UTF-8 naming this targets a valid label"; not with the legacy scheme.
    check_invalid(
        "TestRelabelValidate[6] replace 0${3} (legacy scheme)",
        &replace(&["a"], "some-([^-]+)-([^,]+)", "0${3}", "${1}"),
        "target_label",
        "\"0${3}\" is invalid 'target_label' for replace action",
    );
    check_invalid(
        "TestRelabelValidate[7] replace -${3} (legacy scheme)",
        &replace(&["a"], "some-([^-]+)-([^,]+)", "-${3}", "${1}"),
        "target_label",
        "\"-${3}\" is invalid 'target_label' for replace action",
    );
    check_valid(
        "TestRelabelValidate[8] labelmap $1",
        &RelabelConfig {
            regex: s("__meta_kubernetes_pod_label_(strimzi_io_.+)"),
            action: Action::LabelMap,
            replacement: s("$1"),
            ..RelabelConfig::default()
        },
    );
    check_valid(
        "TestRelabelValidate[9] labelmap ${1}",
        &RelabelConfig {
            regex: s("__meta_(.+)"),
            action: Action::LabelMap,
            replacement: s("${1}"),
            ..RelabelConfig::default()
        },
    );
}

// ---- TestTargetLabelLegacyValidity ----

#[test]
fn target_label_legacy_validity() {
    for (target, valid) in [
        ("-label", false),
        ("label", true),
        ("label${1}", true),
        ("${1}label", true),
        ("${1}", true),
        ("${1}label", true),
        ("${", false),
        ("$", false),
        ("${}", false),
        ("foo${", false),
        ("$1", true),
        ("asd$2asd", true),
        ("-foo${1}bar-", false),
        ("bar.foo${1}bar", false),
        ("_${1}_", true),
        ("foo${bar}foo", true),
        // sonde's: Go's `\w` is ASCII.
        ("label${1}é", false),
        ("${é}", false),
        ("$é", false),
    ] {
        assert_eq!(is_relabel_target(target), valid, "{target:?}");
    }
}

// ---- config/config_test.go: the relabel cases of TestBadConfigs, as TOML ----

#[test]
fn bad_configs() {
    let cases = [
        (
            "regex.bad.yml",
            "regex = \"abc(def\"",
            "regex: error parsing regexp",
        ),
        (
            "modulus_missing.bad.yml",
            "regex = \"abcdef\"\naction = \"hashmod\"",
            "relabel configuration for hashmod requires non-zero modulus",
        ),
        (
            "labelkeep.bad.yml",
            "source_labels = [\"abcdef\"]\naction = \"labelkeep\"",
            "labelkeep action requires only 'regex', and no other fields",
        ),
        (
            "labelkeep2.bad.yml",
            "modulus = 8\naction = \"labelkeep\"",
            "labelkeep action requires only 'regex', and no other fields",
        ),
        (
            "labelkeep3.bad.yml",
            "separator = \",\"\naction = \"labelkeep\"",
            "labelkeep action requires only 'regex', and no other fields",
        ),
        (
            "labelkeep4.bad.yml",
            "replacement = \"yolo-{1}\"\naction = \"labelkeep\"",
            "labelkeep action requires only 'regex', and no other fields",
        ),
        (
            "labelkeep5.bad.yml",
            "target_label = \"yolo\"\naction = \"labelkeep\"",
            "labelkeep action requires only 'regex', and no other fields",
        ),
        (
            "labeldrop.bad.yml",
            "source_labels = [\"abcdef\"]\naction = \"labeldrop\"",
            "labeldrop action requires only 'regex', and no other fields",
        ),
        (
            "labeldrop2.bad.yml",
            "modulus = 8\naction = \"labeldrop\"",
            "labeldrop action requires only 'regex', and no other fields",
        ),
        (
            "labeldrop3.bad.yml",
            "separator = \",\"\naction = \"labeldrop\"",
            "labeldrop action requires only 'regex', and no other fields",
        ),
        (
            "labeldrop4.bad.yml",
            "replacement = \"yolo-{1}\"\naction = \"labeldrop\"",
            "labeldrop action requires only 'regex', and no other fields",
        ),
        (
            "labeldrop5.bad.yml",
            "target_label = \"yolo\"\naction = \"labeldrop\"",
            "labeldrop action requires only 'regex', and no other fields",
        ),
        (
            "dropequal.bad.yml",
            "source_labels = [\"abcdef\"]\naction = \"dropequal\"",
            "relabel configuration for dropequal action requires 'target_label' value",
        ),
        (
            "dropequal1.bad.yml",
            "source_labels = [\"abcdef\"]\naction = \"dropequal\"\nregex = \"foo\"\ntarget_label = \"bar\"",
            "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
        ),
        (
            "keepequal.bad.yml",
            "source_labels = [\"abcdef\"]\naction = \"keepequal\"",
            "relabel configuration for keepequal action requires 'target_label' value",
        ),
        (
            "keepequal1.bad.yml",
            "source_labels = [\"abcdef\"]\naction = \"keepequal\"\nregex = \"foo\"\ntarget_label = \"bar\"",
            "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
        ),
        (
            "lowercase.bad.yml",
            "action = \"lowercase\"\nsource_labels = [\"__name__\"]",
            "relabel configuration for lowercase action requires 'target_label' value",
        ),
        (
            "lowercase3.bad.yml",
            "action = \"lowercase\"\nsource_labels = [\"__name__\"]\ntarget_label = \"__name__\"\nreplacement = \"bar\"",
            "'replacement' can not be set for lowercase action",
        ),
        (
            "uppercase.bad.yml",
            "action = \"uppercase\"\nsource_labels = [\"__name__\"]",
            "relabel configuration for uppercase action requires 'target_label' value",
        ),
        (
            "uppercase3.bad.yml",
            "action = \"uppercase\"\nsource_labels = [\"__name__\"]\ntarget_label = \"__name__\"\nreplacement = \"bar\"",
            "'replacement' can not be set for uppercase action",
        ),
        (
            "target_label_missing.bad.yml",
            "regex = \"abcdef\"",
            "relabel configuration for replace action requires 'target_label' value",
        ),
        (
            "target_label_hashmod_missing.bad.yml",
            "source_labels = [\"__address__\"]\nmodulus = 8\naction = \"hashmod\"",
            "relabel configuration for hashmod action requires 'target_label' value",
        ),
    ];
    for (file, rule, message) in cases {
        match compile_toml(&format!("[[relabel]]\n{rule}\n")) {
            Ok(_) => panic!("{file}: accepted"),
            Err(e) => assert!(e.contains(message), "{file}: {e:?} lacks {message:?}"),
        }
    }
}

/// The relabel rules of `config/testdata/conf.good.yml` (scrape jobs `prometheus`, `service-x`,
/// `service-y`, and the remote write `drop_expensive`) must compile.
#[test]
fn good_config() {
    let prometheus_job = r#"
        [[relabel]]
        source_labels = ["job", "__meta_dns_name"]
        regex = "(.*)some-[regex]"
        target_label = "job"
        replacement = "foo-${1}"
        # action defaults to 'replace'
        [[relabel]]
        source_labels = ["abc"]
        target_label = "cde"
        [[relabel]]
        replacement = "static"
        target_label = "abc"
        [[relabel]]
        regex = "" # `regex:` (null) in YAML is the empty regex
        replacement = "static"
        target_label = "abc"
        [[relabel]]
        source_labels = ["foo"]
        target_label = "abc"
        action = "keepequal"
        [[relabel]]
        source_labels = ["foo"]
        target_label = "abc"
        action = "dropequal"
    "#;
    let service_x = r#"
        [[relabel]]
        source_labels = ["job"]
        regex = "(.*)some-[regex]"
        action = "drop"
        [[relabel]]
        source_labels = ["__address__"]
        modulus = 8
        target_label = "__tmp_hash"
        action = "hashmod"
        [[relabel]]
        source_labels = ["__tmp_hash"]
        regex = "1"
        action = "keep"
        [[relabel]]
        action = "labelmap"
        regex = "1"
        [[relabel]]
        action = "labeldrop"
        regex = "d"
        [[relabel]]
        action = "labelkeep"
        regex = "k"
        [[relabel]] # metric_relabel_configs
        source_labels = ["__name__"]
        regex = "expensive_metric.*"
        action = "drop"
    "#;
    let service_y = r#"
        [[relabel]]
        source_labels = ["__meta_sd_consul_tags"]
        separator = ","
        regex = "label:([^=]+)=([^,]+)"
        target_label = "${1}"
        replacement = "${2}"
    "#;
    let remote_write = r#"
        [[relabel]]
        source_labels = ["__name__"]
        regex = "expensive.*"
        action = "drop"
    "#;
    for (name, text, count) in [
        ("prometheus", prometheus_job, 6),
        ("service-x", service_x, 7),
        ("service-y", service_y, 1),
        ("drop_expensive", remote_write, 1),
    ] {
        let rules = compile_toml(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(rules.len(), count, "{name}");
    }
    // The explicit empty regex is not the default: it matches only the empty string.
    let rules = compile_toml(prometheus_job).expect("compiles");
    assert!(rules[3].regex.is_match("") && !rules[3].regex.is_match("x"));
    assert!(!rules[3].default_regex && rules[2].default_regex);
}

/// `BenchmarkRelabel`'s configs (which upstream only parses), run on its label sets. The expected
/// outputs are derived by hand from Prometheus' semantics; the hash with Python's md5.
#[test]
fn benchmark_configs() {
    let example = r#"
        [[relabel]]
        source_labels = ["job", "__meta_dns_name"]
        regex = "(.*)some-[regex]"
        target_label = "job"
        replacement = "foo-${1}"
        [[relabel]]
        source_labels = ["abc"]
        target_label = "cde"
        [[relabel]]
        replacement = "static"
        target_label = "abc"
        [[relabel]]
        regex = ""
        replacement = "static"
        target_label = "abc"
    "#;
    let rules = compile_toml(example).expect("example");
    assert_eq!(
        run(
            &rules,
            &[
                ("__meta_dns_name", "example-some-x.com"),
                ("abc", "def"),
                ("job", "foo")
            ]
        ),
        Some(sorted(&labels(&[
            ("__meta_dns_name", "example-some-x.com"),
            ("abc", "static"),
            ("cde", "def"),
            ("job", "foo"),
        ]))),
        "example"
    );

    let kubernetes = r#"
        [[relabel]]
        source_labels = ["__meta_kubernetes_pod_container_port_name"]
        regex = ".*-metrics"
        action = "keep"
        [[relabel]]
        source_labels = ["__meta_kubernetes_pod_label_name"]
        action = "drop"
        regex = ""
        [[relabel]]
        source_labels = ["__meta_kubernetes_pod_phase"]
        regex = "Succeeded|Failed"
        action = "drop"
        [[relabel]]
        source_labels = ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"]
        regex = "false"
        action = "drop"
        [[relabel]]
        source_labels = ["__meta_kubernetes_pod_annotation_prometheus_io_scheme"]
        target_label = "__scheme__"
        regex = "(https?)"
        replacement = "$1"
        action = "replace"
        [[relabel]]
        source_labels = ["__meta_kubernetes_pod_annotation_prometheus_io_path"]
        target_label = "__metrics_path__"
        regex = "(.+)"
        replacement = "$1"
        action = "replace"
        [[relabel]]
        source_labels = ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"]
        target_label = "__address__"
        regex = '(.+?)(\:\d+)?;(\d+)'
        replacement = "$1:$3"
        action = "replace"
        [[relabel]]
        regex = "__meta_kubernetes_pod_annotation_prometheus_io_param_(.+)"
        replacement = "__param_$1"
        action = "labelmap"
        [[relabel]]
        regex = "__meta_kubernetes_pod_label_prometheus_io_label_(.+)"
        action = "labelmap"
        [[relabel]]
        regex = "__meta_kubernetes_pod_annotation_prometheus_io_label_(.+)"
        action = "labelmap"
        [[relabel]]
        source_labels = ["__meta_kubernetes_namespace", "__meta_kubernetes_pod_label_name"]
        separator = "/"
        target_label = "job"
        replacement = "$1"
        action = "replace"
        [[relabel]]
        source_labels = ["__meta_kubernetes_namespace"]
        target_label = "namespace"
        action = "replace"
        [[relabel]]
        source_labels = ["__meta_kubernetes_pod_name"]
        target_label = "pod"
        action = "replace"
        [[relabel]]
        source_labels = ["__meta_kubernetes_pod_container_name"]
        target_label = "container"
        action = "replace"
        [[relabel]]
        source_labels = [
            "__meta_kubernetes_pod_name",
            "__meta_kubernetes_pod_container_name",
            "__meta_kubernetes_pod_container_port_name",
        ]
        separator = ":"
        target_label = "instance"
        action = "replace"
        [[relabel]]
        target_label = "cluster"
        replacement = "dev-us-central-0"
        [[relabel]]
        source_labels = ["__meta_kubernetes_namespace"]
        regex = "hosted-grafana"
        action = "drop"
        [[relabel]]
        source_labels = ["__address__"]
        target_label = "__tmp_hash"
        modulus = 3
        action = "hashmod"
        [[relabel]]
        source_labels = ["__tmp_hash"]
        regex = "^0$"
        action = "keep"
        [[relabel]]
        regex = "__tmp_hash"
        action = "labeldrop"
    "#;
    let rules = compile_toml(kubernetes).expect("kubernetes");
    let pod = [
        ("__address__", "10.132.183.40:80"),
        ("__meta_kubernetes_namespace", "loki-boltdb-shipper"),
        (
            "__meta_kubernetes_pod_annotation_promtail_loki_boltdb_shipper_hash",
            "50523b9759094a144adcec2eae0aa4ad",
        ),
        (
            "__meta_kubernetes_pod_annotationpresent_promtail_loki_boltdb_shipper_hash",
            "true",
        ),
        ("__meta_kubernetes_pod_container_init", "false"),
        ("__meta_kubernetes_pod_container_name", "promtail"),
        ("__meta_kubernetes_pod_container_port_name", "http-metrics"),
        ("__meta_kubernetes_pod_container_port_number", "80"),
        ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
        ("__meta_kubernetes_pod_controller_kind", "DaemonSet"),
        (
            "__meta_kubernetes_pod_controller_name",
            "promtail-loki-boltdb-shipper",
        ),
        ("__meta_kubernetes_pod_host_ip", "10.128.0.178"),
        ("__meta_kubernetes_pod_ip", "10.132.183.40"),
        (
            "__meta_kubernetes_pod_label_controller_revision_hash",
            "555b77cd7d",
        ),
        (
            "__meta_kubernetes_pod_label_name",
            "promtail-loki-boltdb-shipper",
        ),
        ("__meta_kubernetes_pod_label_pod_template_generation", "45"),
        (
            "__meta_kubernetes_pod_labelpresent_controller_revision_hash",
            "true",
        ),
        ("__meta_kubernetes_pod_labelpresent_name", "true"),
        (
            "__meta_kubernetes_pod_labelpresent_pod_template_generation",
            "true",
        ),
        (
            "__meta_kubernetes_pod_name",
            "promtail-loki-boltdb-shipper-jgtr7",
        ),
        (
            "__meta_kubernetes_pod_node_name",
            "gke-dev-us-central-0-main-n2s8-2-14d53341-9hkr",
        ),
        ("__meta_kubernetes_pod_phase", "Running"),
        ("__meta_kubernetes_pod_ready", "true"),
        (
            "__meta_kubernetes_pod_uid",
            "4c586419-7f6c-448d-aeec-ca4fa5b05e60",
        ),
        ("__metrics_path__", "/metrics"),
        ("__scheme__", "http"),
        ("__scrape_interval__", "15s"),
        ("__scrape_timeout__", "10s"),
        ("job", "kubernetes-pods"),
    ];
    // md5("10.132.183.40:80") % 3 == 1, so the `^0$` keep drops the target.
    assert_eq!(run(&rules, &pod), None, "kubernetes");
    // Without the shard rules, the rest of the pipeline.
    let kept = run(&rules[..17], &pod).expect("kept");
    let get = |name: &str| {
        kept.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        get("job"),
        Some("loki-boltdb-shipper/promtail-loki-boltdb-shipper")
    );
    assert_eq!(get("namespace"), Some("loki-boltdb-shipper"));
    assert_eq!(get("pod"), Some("promtail-loki-boltdb-shipper-jgtr7"));
    assert_eq!(get("container"), Some("promtail"));
    assert_eq!(
        get("instance"),
        Some("promtail-loki-boltdb-shipper-jgtr7:promtail:http-metrics")
    );
    assert_eq!(get("cluster"), Some("dev-us-central-0"));
    assert_eq!(get("__address__"), Some("10.132.183.40:80"));
    assert_eq!(kept.len(), pod.len() + 5);

    let static_pairs = r#"
        [[relabel]]
        replacement = "wwwwww"
        target_label = "wwwwww"
        [[relabel]]
        replacement = "yyyyyyyyyyyy"
        target_label = "xxxxxxxxx"
        [[relabel]]
        replacement = "xxxxxxxxx"
        target_label = "yyyyyyyyyyyy"
        [[relabel]]
        source_labels = ["something"]
        target_label = "with_source_labels"
        replacement = "value"
        [[relabel]]
        replacement = "dropped"
        target_label = "${0}"
        [[relabel]]
        replacement = "${0}"
        target_label = "dropped"
    "#;
    let rules = compile_toml(static_pairs).expect("static label pair");
    let input = [
        ("abcdefg01", "hijklmn1"),
        ("abcdefg02", "hijklmn2"),
        ("job", "foo"),
    ];
    let mut expected = input.to_vec();
    expected.extend([
        ("wwwwww", "wwwwww"),
        ("xxxxxxxxx", "yyyyyyyyyyyy"),
        ("yyyyyyyyyyyy", "xxxxxxxxx"),
        ("with_source_labels", "value"),
    ]);
    assert_eq!(
        run(&rules, &input),
        Some(sorted(&labels(&expected))),
        "static label pair"
    );
}

// ---- sonde's own: Go behaviours beyond the upstream tests ----

/// Validation details that follow from how Prometheus reads its config.
#[test]
fn validation_details() {
    // `keepequal` compares its regex with the default by pointer: any explicit regex is refused.
    check_invalid(
        "keepequal with an explicit (.*)",
        &RelabelConfig {
            source_labels: names(&["a"]),
            target_label: s("b"),
            regex: s("(.*)"),
            action: Action::KeepEqual,
            ..RelabelConfig::default()
        },
        "action",
        "keepequal action requires only 'source_labels' and `target_label`",
    );
    // …but compares modulus, separator and replacement by value.
    check_valid(
        "labeldrop with explicit default modulus, separator, replacement",
        &RelabelConfig {
            regex: s("x"),
            modulus: Some(0),
            separator: s(";"),
            replacement: s("$1"),
            action: Action::LabelDrop,
            ..RelabelConfig::default()
        },
    );
    check_valid(
        "dropequal with explicit default modulus, separator, replacement",
        &RelabelConfig {
            source_labels: names(&["a"]),
            target_label: s("b"),
            modulus: Some(0),
            separator: s(";"),
            replacement: s("$1"),
            action: Action::DropEqual,
            ..RelabelConfig::default()
        },
    );
    // Keepequal's target must be a label name.
    check_invalid(
        "keepequal with a templated target",
        &RelabelConfig {
            source_labels: names(&["a"]),
            target_label: s("b$1"),
            action: Action::KeepEqual,
            ..RelabelConfig::default()
        },
        "target_label",
        "\"b$1\" is invalid 'target_label' for keepequal action",
    );
    // Source labels are `model.LabelName`s: only the empty name is refused.
    check_invalid(
        "empty source label",
        &replace(&["a", ""], "(.*)", "b", "$1"),
        "source_labels",
        "\"\" is not a valid label name",
    );
    check_valid(
        "UTF-8 source label",
        &replace(&["utf-8.label"], "(.*)", "b", "$1"),
    );
    check_invalid(
        "non-ASCII target",
        &replace(&["a"], "(.*)", "é", "$1"),
        "target_label",
        "is invalid 'target_label' for replace action",
    );
    check_invalid(
        "labelmap replacement with a non-ASCII letter",
        &RelabelConfig {
            regex: s("(.*)"),
            replacement: s("${1}é"),
            action: Action::LabelMap,
            ..RelabelConfig::default()
        },
        "replacement",
        "is invalid 'replacement' for labelmap action",
    );
}

/// Actions are read case-insensitively with Go's `strings.ToLower`.
#[test]
fn action_names() {
    for (text, action) in [
        ("replace", Action::Replace),
        ("LabelMap", Action::LabelMap),
        ("HASHMOD", Action::HashMod),
        ("KeepEqual", Action::KeepEqual),
        ("label\u{212A}eep", Action::LabelKeep), // KELVIN SIGN lowercases to `k`
    ] {
        let rules = parse_toml(&format!("[[relabel]]\naction = \"{text}\"\n"))
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(rules[0].action, action, "{text}");
    }
    let err = parse_toml("[[relabel]]\naction = \"bogus\"\n").expect_err("bogus");
    assert!(err.contains("unknown relabel action \"bogus\""), "{err}");
    assert_eq!(
        parse_toml("[[relabel]]\ntarget_label = \"a\"\n").expect("default")[0].action,
        Action::Replace
    );
}

/// Whether Prometheus' anchored regex for `regex` matches `value`.
#[track_caller]
fn matches(regex: &str, value: &str) -> bool {
    compile_regex(regex)
        .unwrap_or_else(|e| panic!("{regex:?}: {e}"))
        .0
        .is_match(value)
}

/// The regex dialect is Go's RE2 (`regexp/syntax` with Perl flags), not the `regex` crate's.
#[test]
fn go_regex_dialect() {
    // Perl classes and word boundaries are ASCII.
    assert!(matches(r"\d+", "0123456789"));
    assert!(!matches(r"\d", "٣")); // ARABIC-INDIC DIGIT THREE
    assert!(matches(r"\w+", "abc_XYZ_09"));
    assert!(!matches(r"\w+", "café"));
    assert!(matches(r"caf\W", "café"));
    assert!(matches(r"\s", "\x0C") && matches(r"\s", " "));
    assert!(!matches(r"\s", "\x0B") && !matches(r"\s", "\u{A0}"));
    assert!(matches(r"[[:space:]]", "\x0B"));
    assert!(matches(r"[\d\s]+", "1 2"));
    assert!(!matches(r"[\d]", "٣"));
    assert!(matches(r"[^\D]", "7") && !matches(r"[^\D]", "٣"));
    assert!(matches(r"a\bé", "aé")); // `é` is not an ASCII word character
    assert!(!matches(r"a\Bé", "aé"));
    // `\Q…\E` quotes.
    assert!(matches(r"\Qa.b\E", "a.b") && !matches(r"\Qa.b\E", "axb"));
    assert!(matches(r"x\Q*\E+", "x**"));
    // A `{` that does not start a repetition is a literal.
    assert!(matches("a{", "a{"));
    assert!(matches("a{,3}", "a{,3}"));
    assert!(matches("x{01}", "x{01}"));
    assert!(matches("x{2}", "xx") && matches("x{1,}", "xxx") && matches("x{1,2}?y", "xxy"));
    assert!(matches("{}", "{}"));
    // Classes: `[`, `&&`, `--`, `~~` are literal; `]` first is literal.
    assert!(matches("[a&&b]", "&"));
    assert!(matches("[[]", "["));
    assert!(matches("[]a]", "]") && matches("[^]a]", "b") && !matches("[^]a]", "]"));
    assert!(matches("[a~~b]+", "a~b"));
    assert!(matches("[%--]", ","));
    assert!(matches("[a-]", "-") && matches("[-a]", "-"));
    // Escapes.
    assert!(matches(r"\<\>", "<>"));
    assert!(matches(r"\101\x42\x{43}", "ABC"));
    assert!(matches(r"\0", "\0") && matches(r"\a\f\t\n\r\v", "\x07\x0C\t\n\r\x0B"));
    assert!(matches(r"\pL\p{Greek}\PL\p{^Greek}", "éα1a") && !matches(r"\p{^Greek}", "α"));
    // Flags.
    assert!(matches("(?i)abc", "ABC") && !matches("(?i-i)a", "A") && matches("(?)a", "a"));
    assert!(matches("(?i:a)b", "Ab") && !matches("(?i:a)b", "AB"));
    assert!(matches("(?U)(a+)", "aa"));
    assert!(matches("(?m)^a$\nb", "a\nb"));
    // Named groups: `(?P<n>`, `(?<n>`, and a name may repeat.
    assert!(matches("(?P<x>a)|(?P<x>b)", "b"));

    for bad in [
        "x{1001}",
        "x{2,1}",
        "x{1,1001}",
        "a**",
        "a*+",
        "a???",
        "a{2}{3}",
        "a(",
        "a)",
        "[a",
        "[z-a]",
        r"\C",
        r"\Qabc",
        r"\1",
        r"\8",
        r"\e",
        r"\é",
        r"\x{110000}",
        r"\xZ1",
        r"[\b]",
        r"\p{Letter=L}",
        r"\p{sc=Greek}",
        "[[:bogus:]]",
        "(?-)",
        "(?i-)",
        "(?--i)",
        "(?x)a",
        "(?P<a.b>x)",
        "(?<>x)",
        "(?P=x)",
        "(?<=a)b",
        "\\",
    ] {
        assert!(compile_regex(bad).is_err(), "{bad:?} compiled");
    }
}

/// `replace` templates follow Go's `Regexp.Expand`.
#[test]
fn go_expand_templates() {
    let expand = |regex: &str, replacement: &str, value: &str| {
        let rules = compile_all(
            replacement,
            &[replace(&["a"], regex, "out", &format!("<{replacement}>"))],
        );
        let out = run(&rules, &[("a", value)]).expect("kept");
        out.into_iter()
            .find(|(n, _)| n == "out")
            .map(|(_, v)| v)
            .expect("out is set")
    };
    for (replacement, expected) in [
        ("${1}x", "<ax>"),
        ("$1x", "<>"), // the name is `1x`
        ("$1é", "<>"), // the name is `1é`: Go names run over Unicode letters
        ("$2$1", "<ba>"),
        ("$$1", "<$1>"),
        ("$", "<$>"),
        ("$-", "<$->"),
        ("${}x${a-b}y$01", "<${}x${a-b}y>"), // malformed references stay; `01` is a name
        ("${1", "<${1>"),
        ("$10", "<>"),
        ("${0}", "<ab>"),
        ("${first}${second}", "<ab>"),
        ("$first_", "<>"),
    ] {
        assert_eq!(
            expand("(?P<first>a)(?<second>b)", replacement, "ab"),
            expected,
            "{replacement:?}"
        );
    }
    // With a repeated name, the first group of that name that took part in the match.
    assert_eq!(expand("(?P<x>a)|(?P<x>b)", "${x}", "b"), "<b>");
    assert_eq!(expand("(?P<x>a)|(?P<x>b)", "$2", "b"), "<b>");
    // labelmap too.
    check(
        "labelmap with $1x",
        &[("foo_bar", "v")],
        &[RelabelConfig {
            regex: s("foo_(.*)"),
            replacement: s("x_${1}_$1y"),
            action: Action::LabelMap,
            ..RelabelConfig::default()
        }],
        Some(&[("foo_bar", "v"), ("x_bar_", "v")]),
    );
}

/// `lowercase`/`uppercase` map each character with Go's simple case mapping.
#[test]
fn go_case_mapping() {
    let case = |action: Action, value: &str| {
        let rules = compile_all(
            value,
            &[RelabelConfig {
                source_labels: names(&["a"]),
                target_label: s("b"),
                action,
                ..RelabelConfig::default()
            }],
        );
        let out = run(&rules, &[("a", value)]).expect("kept");
        out.into_iter().find(|(n, _)| n == "b").map(|(_, v)| v)
    };
    let lower = |v: &str| case(Action::Lowercase, v);
    let upper = |v: &str| case(Action::Uppercase, v);
    assert_eq!(lower("İSTANBUL").as_deref(), Some("istanbul"));
    assert_eq!(lower("ΟΔΟΣ").as_deref(), Some("οδοσ")); // no final sigma
    assert_eq!(lower("ǄǅǆÀ").as_deref(), Some("ǆǆǆà"));
    assert_eq!(upper("straße").as_deref(), Some("STRAßE"));
    assert_eq!(upper("ﬁx").as_deref(), Some("ﬁX"));
    assert_eq!(upper("ᾳᾀᾈῳ").as_deref(), Some("ᾼᾈᾈῼ"));
    assert_eq!(upper("ǆſı").as_deref(), Some("ǄSI"));
    // An empty result deletes the target, as any empty value.
    assert_eq!(lower(""), None);
}
