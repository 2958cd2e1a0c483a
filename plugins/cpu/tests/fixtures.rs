//! The cpu collector, run natively through the SDK harness against fixture trees captured from
//! real machines (the same trees the host's end-to-end tests use).

use sonde_plugin_cpu::Cpu;
use sonde_sdk::Root;
use sonde_sdk::testing::{Fixture, collect_text, family_lines};
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

const FAMILIES: [&str; 5] = [
    "node_cpu_seconds_total",
    "node_cpu_guest_seconds_total",
    "node_load1",
    "node_load5",
    "node_load15",
];

#[test]
fn matches_node_exporter_on_its_own_fixture() {
    let dir = fixtures().join("node-exporter");
    let host = Fixture::new().root(Root::Proc, dir.join("proc")).host();
    let ours = collect_text::<Cpu>(&host, "").unwrap();
    let theirs = std::fs::read_to_string(dir.join("e2e-output.txt")).unwrap();
    for family in FAMILIES {
        let expected = family_lines(&theirs, family);
        assert!(!expected.is_empty(), "{family} missing from e2e-output.txt");
        assert_eq!(family_lines(&ours, family), expected, "{family}");
    }
    // HELP and TYPE lines are node_exporter's too.
    for family in FAMILIES {
        for prefix in ["# HELP", "# TYPE"] {
            let line = theirs
                .lines()
                .find(|l| l.starts_with(&format!("{prefix} {family} ")))
                .unwrap();
            assert!(ours.lines().any(|l| l == line), "{line}");
        }
    }
}

#[test]
fn exact_output_on_a_live_capture() {
    let host = Fixture::new()
        .root(Root::Proc, fixtures().join("live-debian12/proc"))
        .host();
    let text = collect_text::<Cpu>(&host, "").unwrap();
    let expected = "\
node_cpu_guest_seconds_total{cpu=\"0\",mode=\"nice\"} 0
node_cpu_guest_seconds_total{cpu=\"0\",mode=\"user\"} 0
node_cpu_guest_seconds_total{cpu=\"1\",mode=\"nice\"} 0
node_cpu_guest_seconds_total{cpu=\"1\",mode=\"user\"} 0
node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 178.03
node_cpu_seconds_total{cpu=\"0\",mode=\"iowait\"} 0.44
node_cpu_seconds_total{cpu=\"0\",mode=\"irq\"} 0
node_cpu_seconds_total{cpu=\"0\",mode=\"nice\"} 0
node_cpu_seconds_total{cpu=\"0\",mode=\"softirq\"} 0.06
node_cpu_seconds_total{cpu=\"0\",mode=\"steal\"} 0.07
node_cpu_seconds_total{cpu=\"0\",mode=\"system\"} 18.63
node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 109.08
node_cpu_seconds_total{cpu=\"1\",mode=\"idle\"} 148.77
node_cpu_seconds_total{cpu=\"1\",mode=\"iowait\"} 3.09
node_cpu_seconds_total{cpu=\"1\",mode=\"irq\"} 0
node_cpu_seconds_total{cpu=\"1\",mode=\"nice\"} 0
node_cpu_seconds_total{cpu=\"1\",mode=\"softirq\"} 0.3
node_cpu_seconds_total{cpu=\"1\",mode=\"steal\"} 0.08
node_cpu_seconds_total{cpu=\"1\",mode=\"system\"} 24.14
node_cpu_seconds_total{cpu=\"1\",mode=\"user\"} 129.78
node_load1 1.06
node_load15 0.29
node_load5 0.7
";
    assert_eq!(
        sonde_sdk::testing::sample_lines(&text).join("\n") + "\n",
        expected
    );
}

#[test]
fn config_turns_off_guest_and_loadavg() {
    let host = Fixture::new()
        .root(Root::Proc, fixtures().join("live-debian12/proc"))
        .host();
    let text = collect_text::<Cpu>(&host, r#"{"guest": false, "loadavg": false}"#).unwrap();
    assert!(!text.contains("node_cpu_guest_seconds_total"));
    assert!(!text.contains("node_load1"));
    assert_eq!(family_lines(&text, "node_cpu_seconds_total").len(), 16);
}

#[test]
fn bad_config_and_missing_files_are_errors() {
    let host = Fixture::new()
        .root(Root::Proc, fixtures().join("live-debian12/proc"))
        .host();
    let err = collect_text::<Cpu>(&host, r#"{"gust": false}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `gust`"), "{err}");
    let empty = Fixture::new().host();
    let err = collect_text::<Cpu>(&empty, "").unwrap_err();
    assert_eq!(
        err.to_string(),
        "reading /proc/stat: not granted to this plugin"
    );
}
