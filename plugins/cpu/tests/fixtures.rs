//! The cpu collector, run natively through the SDK harness against fixture trees captured from
//! real machines (the same trees the host's end-to-end tests use).

use sonde_plugin_cpu::Cpu;
use sonde_sdk::testing::{Fixture, collect_text, diff_families, family_lines, restore_empty_dirs};
use sonde_sdk::{Level, Root};
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// The options node_exporter's e2e run used for these collectors.
const E2E_CONFIG: &str = r#"{"info": true,
    "flags_include": "^(aes|avx.?|constant_tsc)$",
    "bugs_include": "^(cpu_meltdown|spectre_.*|mds)$",
    "cpu_vulnerabilities": {"enabled": true},
    "interrupts": {"enabled": true},
    "softirqs": true}"#;

#[test]
fn matches_node_exporter_on_its_own_fixture() {
    let dir = fixtures().join("node-exporter");
    restore_empty_dirs(&dir, &dir.join("empty-dirs.txt")).unwrap();
    let host = Fixture::new()
        .root(Root::Proc, dir.join("proc"))
        .root(Root::Sys, dir.join("sys"))
        .host();
    let ours = collect_text::<Cpu>(&host, E2E_CONFIG).unwrap();
    let theirs = std::fs::read_to_string(dir.join("e2e-output.txt")).unwrap();
    assert_eq!(diff_families(&ours, &theirs), Vec::<String>::new());
    assert!(host.logged().is_empty(), "{:?}", host.logged());
    // Exactly the families node_exporter's cpu, cpufreq, loadavg, cpu/irq pressure, schedstat,
    // cpu_vulnerabilities, interrupts and softirqs collectors produced on this tree.
    let families = sonde_sdk::testing::family_names(&ours);
    assert_eq!(
        families,
        [
            "node_cpu_bug_info",
            "node_cpu_core_throttles_total",
            "node_cpu_flag_info",
            "node_cpu_frequency_hertz",
            "node_cpu_guest_seconds_total",
            "node_cpu_info",
            "node_cpu_isolated",
            "node_cpu_package_throttles_total",
            "node_cpu_scaling_frequency_hertz",
            "node_cpu_scaling_frequency_max_hertz",
            "node_cpu_scaling_frequency_min_hertz",
            "node_cpu_scaling_governor",
            "node_cpu_seconds_total",
            "node_cpu_vulnerabilities_info",
            "node_interrupts_total",
            "node_load1",
            "node_load15",
            "node_load5",
            "node_pressure_cpu_waiting_seconds_total",
            "node_pressure_irq_stalled_seconds_total",
            "node_schedstat_running_seconds_total",
            "node_schedstat_timeslices_total",
            "node_schedstat_waiting_seconds_total",
            "node_softirqs_functions_total",
        ]
    );
    for family in families {
        assert!(
            theirs.contains(&format!("# TYPE {family} ")),
            "{family} not in node_exporter's output"
        );
        assert_eq!(
            family_lines(&ours, family).len(),
            family_lines(&theirs, family).len(),
            "{family}"
        );
    }
    assert_eq!(family_lines(&ours, "node_interrupts_total").len(), 112);
    assert_eq!(
        family_lines(&ours, "node_softirqs_functions_total").len(),
        20
    );
}

#[test]
fn cpufreq_without_cpuinfo() {
    let dir = fixtures().join("node-exporter");
    let host = Fixture::new()
        .root(Root::Proc, dir.join("proc"))
        .root(Root::Sys, dir.join("sys"))
        .host();
    let ours = collect_text::<Cpu>(&host, "").unwrap();
    assert!(!ours.contains("node_cpu_info"));
    // The fixture's cpufreq directories have no (root-only) cpuinfo_cur_freq.
    assert!(family_lines(&ours, "node_cpu_frequency_hertz").is_empty());
    assert_eq!(
        family_lines(&ours, "node_cpu_scaling_frequency_hertz").len(),
        4
    );
    assert_eq!(
        family_lines(&ours, "node_cpu_scaling_governor"),
        [
            "node_cpu_scaling_governor{cpu=\"0\",governor=\"performance\"} 0",
            "node_cpu_scaling_governor{cpu=\"0\",governor=\"powersave\"} 1",
            "node_cpu_scaling_governor{cpu=\"1\",governor=\"performance\"} 0",
            "node_cpu_scaling_governor{cpu=\"1\",governor=\"powersave\"} 1",
            "node_cpu_scaling_governor{cpu=\"2\",governor=\"performance\"} 0",
            "node_cpu_scaling_governor{cpu=\"2\",governor=\"powersave\"} 1",
            "node_cpu_scaling_governor{cpu=\"3\",governor=\"performance\"} 0",
            "node_cpu_scaling_governor{cpu=\"3\",governor=\"powersave\"} 1",
        ]
    );
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
    let text = collect_text::<Cpu>(
        &host,
        r#"{"guest": false, "loadavg": false, "cpufreq": false, "pressure": false}"#,
    )
    .unwrap();
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
    // Every part fails (each is logged); the cycle fails with all their errors.
    let err = collect_text::<Cpu>(&empty, "").unwrap_err().to_string();
    assert!(
        err.starts_with("cpu: reading /proc/stat: not granted to this plugin"),
        "{err}"
    );
    assert!(
        err.contains("; schedstat: reading /proc/schedstat: not granted"),
        "{err}"
    );
}

/// The parts that read `/proc/stat` and `/sys` only.
const STAT_ONLY: &str = r#"{"cpufreq": false, "loadavg": false, "pressure": false}"#;

/// A scratch `/proc` holding only `stat`, removed on drop.
struct StatTree(PathBuf);

impl StatTree {
    fn new(name: &str, stat: &str) -> StatTree {
        let dir = std::env::temp_dir().join(format!("sonde-cpu-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("stat"), stat).unwrap();
        StatTree(dir)
    }
}

impl Drop for StatTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_cpu_line_cut_short_gives_no_series_for_that_cpu() {
    let stat = std::fs::read_to_string(fixtures().join("node-exporter/proc/stat")).unwrap();
    let cpu0 = stat.lines().find(|l| l.starts_with("cpu0 ")).unwrap();
    let tree = StatTree::new("cut", &stat.replace(cpu0, "cpu0 301854 612"));
    let host = Fixture::new()
        .root(Root::Proc, &tree.0)
        .root(Root::Sys, &tree.0)
        .host();
    let text = collect_text::<Cpu>(&host, STAT_ONLY).unwrap();
    let seconds = family_lines(&text, "node_cpu_seconds_total");
    // No zeros for cpu 0: no series at all; the 7 other CPUs keep their 8 modes.
    assert!(
        !seconds.iter().any(|l| l.contains("cpu=\"0\"")),
        "{seconds:?}"
    );
    assert!(!text.contains("cpu=\"0\""), "{text}");
    assert_eq!(seconds.len(), 7 * 8);
    assert!(seconds.contains(&"node_cpu_seconds_total{cpu=\"1\",mode=\"idle\"} 11107.87"));
    assert_eq!(
        family_lines(&text, "node_cpu_guest_seconds_total").len(),
        7 * 2
    );
    assert_eq!(
        host.logged(),
        [(
            Level::Warn,
            "cpu: /proc/stat: 1 malformed line skipped: line 2: 2 columns, other CPU lines \
             have 10 in line \"cpu0 301854 612\""
                .to_owned()
        )]
    );

    // Nothing parsable: the part fails with nothing, the cycle with it.
    let tree = StatTree::new("garbage", "cpu0 1 x\n");
    let host = Fixture::new()
        .root(Root::Proc, &tree.0)
        .root(Root::Sys, &tree.0)
        .host();
    let err = collect_text::<Cpu>(&host, STAT_ONLY).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cpu: /proc/stat: 2 columns, which no kernel prints in line \"cpu0 1 x\""
    );
}
