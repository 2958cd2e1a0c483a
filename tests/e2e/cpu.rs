//! The cpu plugin through the real wasm host, against fixture `/proc` trees.

use crate::support::{builtin, fixtures, runtime};
use sonde_sdk::Root;
use sonde_sdk::exposition::{normalize, render};
use sonde_sdk::testing::{Fixture, collect_text, family_lines};

#[test]
fn cpu_in_wasm_matches_node_exporter_output() {
    let dir = fixtures().join("node-exporter");
    let rt = runtime(&dir.join("proc"));
    let mut families = builtin(&rt, "cpu").collect("{}").unwrap();
    normalize(&mut families);
    let ours = render(&families);
    let theirs = std::fs::read_to_string(dir.join("e2e-output.txt")).unwrap();
    for family in [
        "node_cpu_seconds_total",
        "node_cpu_guest_seconds_total",
        "node_load1",
        "node_load5",
        "node_load15",
    ] {
        let expected = family_lines(&theirs, family);
        assert!(!expected.is_empty());
        assert_eq!(family_lines(&ours, family), expected, "{family}");
    }
    assert_eq!(
        family_lines(&ours, "node_cpu_seconds_total").len(),
        64,
        "8 cpus x 8 modes"
    );
}

#[test]
fn wasm_and_native_harness_agree_on_a_live_capture() {
    let proc = fixtures().join("live-debian12/proc");
    let rt = runtime(&proc);
    let mut families = builtin(&rt, "cpu").collect("{}").unwrap();
    normalize(&mut families);
    let native =
        collect_text::<sonde_plugin_cpu::Cpu>(&Fixture::new().root(Root::Proc, &proc).host(), "")
            .unwrap();
    assert_eq!(render(&families), native);
    assert!(native.contains("node_cpu_seconds_total{cpu=\"1\",mode=\"user\"} 129.78\n"));
}

#[test]
fn describe_reports_name_and_needs() {
    let rt = runtime(&fixtures().join("live-debian12/proc"));
    let cpu = builtin(&rt, "cpu");
    let info = cpu.info();
    assert_eq!(info.name, "cpu");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        info.needs,
        [sonde_sdk::Capability::Proc, sonde_sdk::Capability::Sys]
    );
    assert!(
        info.default_config.starts_with(r#"{"guest":true,"#),
        "{}",
        info.default_config
    );
    assert!(cpu.missing_grants().is_empty());
}
