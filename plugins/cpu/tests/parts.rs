//! The cpu plugin's newer parts (schedstat, cpu_vulnerabilities, interrupts, softirqs) on edge
//! trees built here: missing sources, malformed and hostile lines, config forms.

use sonde_plugin_cpu::Cpu;
use sonde_sdk::Level;
use sonde_sdk::testing::{Tree, collect_text, family_lines, family_names, sample_lines};

/// A scratch tree of `files` (bytes) plus the cpu part's core file, so that only the parts
/// under test log.
fn scratch(name: &str, files: &[(&str, &[u8])]) -> Tree {
    let tree = Tree::new(&format!("cpu-parts-{name}"));
    tree.files(files)
        .file("proc/stat", "cpu0 1 2 3 4 5 6 7 8 9 10\n");
    tree
}

/// Only the new parts.
const NEW_ONLY: &str = r#"{"cpufreq": false, "loadavg": false, "pressure": false,
    "cpu_vulnerabilities": true, "interrupts": {"enabled": true}, "softirqs": true}"#;

/// Every sample line is `name{label="…",…} value` with escaped label values.
fn assert_valid_exposition(text: &str) {
    for line in sample_lines(text) {
        assert!(line.starts_with("node_"), "{line:?}");
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line:?}");
        assert!(!line.contains('\n'));
    }
}

#[test]
fn a_host_without_the_sources_gives_nothing_and_logs_nothing() {
    let tree = scratch("none", &[]);
    tree.dir("sys");
    let host = tree.host();
    let text = collect_text::<Cpu>(&host, NEW_ONLY).unwrap();
    assert_eq!(
        family_names(&text),
        ["node_cpu_guest_seconds_total", "node_cpu_seconds_total"]
    );
    assert_eq!(host.logged(), []);
}

#[test]
fn bool_and_table_switches() {
    let tree = scratch("switch", &[]);
    let host = tree.host();
    for config in [
        r#"{"cpufreq": false, "loadavg": false, "pressure": false, "schedstat": false}"#,
        r#"{"cpufreq": {"enabled": false}, "loadavg": {}, "pressure": false, "schedstat": {"enabled": false}}"#,
    ] {
        let result = collect_text::<Cpu>(&host, config);
        // `loadavg = {}` is on (the default), and its file is missing: logged, the rest kept.
        assert!(result.is_ok(), "{config}: {result:?}");
    }
    let err = collect_text::<Cpu>(&host, r#"{"cpufreq": {"enable": false}}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `enable`"), "{err}");
    let err = collect_text::<Cpu>(&host, r#"{"softirqs": "yes"}"#).unwrap_err();
    assert!(err.to_string().contains("true, false or a table"), "{err}");
    let err = collect_text::<Cpu>(
        &host,
        r#"{"interrupts": {"enabled": true, "name_include": "("}}"#,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("interrupts: invalid include pattern"),
        "{err}"
    );
}

const INTERRUPTS: &[u8] = b"           CPU0       CPU1       CPU2\n\
\x20 0:         18          0          5  IR-IO-APIC    2-edge      timer\n\
\x20 7:          1          2  IR-IO-APIC    7-edge      cut \"short\"\n\
\x20 9:          1          2          3  chip\\x  a \"quoted\" \\dev\xff\xfe name\n\
NMI:          0          5          0   Non-maskable interrupts\n\
\x2011:          x          1          2  chip  bad\n\
no colon here 1 2 3\n\
ERR:          0\n\
MIS:          0\n";

#[test]
fn interrupts_hostile_and_malformed_lines() {
    let tree = scratch("irq", &[("proc/interrupts", INTERRUPTS)]);
    let host = tree.host();
    let config = r#"{"cpufreq": false, "loadavg": false, "pressure": false, "schedstat": false,
        "interrupts": {"enabled": true}}"#;
    let text = collect_text::<Cpu>(&host, config).unwrap_or_else(|e| panic!("{e}"));
    assert_valid_exposition(&text);
    let lines = family_lines(&text, "node_interrupts_total");
    // timer, line 9 and NMI, 3 CPUs each; the short row and the garbled one are left out.
    assert_eq!(lines.len(), 9, "{lines:#?}");
    assert!(lines.contains(
        &"node_interrupts_total{cpu=\"2\",devices=\"2-edge timer\",info=\"IR-IO-APIC\",type=\"0\"} 5"
    ));
    assert!(lines.contains(
        &"node_interrupts_total{cpu=\"0\",devices=\"a \\\"quoted\\\" \\\\dev\u{FFFD}\u{FFFD} name\",info=\"chip\\\\x\",type=\"9\"} 1"
    ), "{lines:#?}");
    assert!(lines.contains(
        &"node_interrupts_total{cpu=\"1\",devices=\"\",info=\"Non-maskable interrupts\",type=\"NMI\"} 5"
    ));
    let logged = host.logged();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0].0, Level::Warn);
    assert!(
        logged[0].1.starts_with(
            "interrupts: /proc/interrupts: 2 malformed lines skipped, first line 3: not 3 counts"
        ),
        "{}",
        logged[0].1
    );

    // Filters on `name;info;devices` and zeros left out.
    let host = tree.host();
    let config = r#"{"cpufreq": false, "loadavg": false, "pressure": false, "schedstat": false,
        "interrupts": {"enabled": true, "name_exclude": "^NMI;", "include_zeros": false}}"#;
    let text = collect_text::<Cpu>(&host, config).unwrap();
    let lines = family_lines(&text, "node_interrupts_total");
    assert_eq!(lines.len(), 5, "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("NMI") || l.ends_with(" 0")));
    let host = tree.host();
    let config = r#"{"cpufreq": false, "loadavg": false, "pressure": false, "schedstat": false,
        "interrupts": {"enabled": true, "name_include": "timer$"}}"#;
    let text = collect_text::<Cpu>(&host, config).unwrap();
    assert_eq!(family_lines(&text, "node_interrupts_total").len(), 3);
}

#[test]
fn schedstat_softirqs_and_vulnerabilities_on_edge_trees() {
    let tree = scratch(
        "misc",
        &[
            (
                "proc/schedstat",
                b"version 15\ntimestamp 1\ncpu0 1 2 3 4 5 6 1500000000 7 8\ndomain0 3 1\ncpu1 1 2\n",
            ),
            ("proc/softirqs", b"    CPU0 CPU1\n HI: 1 2\n TIMER: 3 -4\n RCU: 5 6\n"),
            (
                "sys/devices/system/cpu/vulnerabilities/spectre_v2",
                b"Mitigation: \"quoted\" \\ back\xffslash\n",
            ),
            ("sys/devices/system/cpu/vulnerabilities/weird", b"KVM: something\n"),
            ("sys/devices/system/cpu/vulnerabilities/subdir/x", b"ignored"),
        ],
    );
    let host = tree.host();
    let config = r#"{"cpufreq": false, "loadavg": false, "pressure": false,
        "cpu_vulnerabilities": true, "softirqs": true}"#;
    let text = collect_text::<Cpu>(&host, config).unwrap();
    assert_valid_exposition(&text);
    assert_eq!(
        family_lines(&text, "node_schedstat_running_seconds_total"),
        ["node_schedstat_running_seconds_total{cpu=\"0\"} 1.5"]
    );
    assert_eq!(
        family_lines(&text, "node_softirqs_functions_total"),
        [
            "node_softirqs_functions_total{cpu=\"0\",type=\"HI\"} 1",
            "node_softirqs_functions_total{cpu=\"0\",type=\"RCU\"} 5",
            "node_softirqs_functions_total{cpu=\"1\",type=\"HI\"} 2",
            "node_softirqs_functions_total{cpu=\"1\",type=\"RCU\"} 6",
        ]
    );
    assert_eq!(
        family_lines(&text, "node_cpu_vulnerabilities_info"),
        [
            "node_cpu_vulnerabilities_info{codename=\"spectre_v2\",mitigation=\"\\\"quoted\\\" \\\\ back\u{FFFD}slash\",state=\"mitigation\"} 1",
            "node_cpu_vulnerabilities_info{codename=\"weird\",mitigation=\"KVM: something\",state=\"unknown\"} 1",
        ]
    );
    let mut logged: Vec<String> = host.logged().into_iter().map(|(_, m)| m).collect();
    logged.sort();
    assert_eq!(
        logged,
        [
            "schedstat: /proc/schedstat: 1 malformed line skipped: line 5: 2 numbers, expected 9 in line \"cpu1 1 2\"",
            "softirqs: /proc/softirqs: 1 malformed line skipped: line 3: invalid digit found in string in line \" TIMER: 3 -4\"",
        ]
    );
}

#[test]
fn many_interrupts_and_cpus() {
    // 128 CPUs, 500 interrupt lines: 64000 series.
    let cpus = 128;
    let mut text = String::new();
    for c in 0..cpus {
        text.push_str(&format!(" CPU{c}"));
    }
    text.push('\n');
    for irq in 0..500 {
        text.push_str(&format!("{irq}:"));
        for c in 0..cpus {
            text.push_str(&format!(" {}", irq + c));
        }
        text.push_str(" PCI-MSI 1-edge dev\n");
    }
    let tree = scratch("many", &[("proc/interrupts", text.as_bytes())]);
    let host = tree.host();
    let config = r#"{"cpufreq": false, "loadavg": false, "pressure": false, "schedstat": false,
        "interrupts": {"enabled": true}}"#;
    let started = std::time::Instant::now();
    let families = sonde_sdk::testing::collect::<Cpu>(&host, config).unwrap();
    let interrupts = families
        .iter()
        .find(|f| f.name == "node_interrupts_total")
        .unwrap();
    assert_eq!(interrupts.samples.len(), 500 * cpus);
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
}
