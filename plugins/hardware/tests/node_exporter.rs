//! The hardware collector against node_exporter's own sysfs fixture tree, compared with
//! node_exporter 1.12's end-to-end output for it (`tests/fixtures/node-exporter/e2e-output.txt`),
//! through the SDK's native harness.

use sonde_plugin_hardware::Hardware;
use sonde_sdk::Root;
use sonde_sdk::testing::{
    Fixture, collect_text, diff_families, family_lines, family_names, restore_empty_dirs,
};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// node_exporter's e2e run used `--collector.hwmon.chip-include=(…)` and `--collector.pcidevice`;
/// the other collectors of this plugin run with their defaults.
const E2E_CONFIG: &str = r#"{
    "hwmon": {"chip_include": "(applesmc|asus_nb_wmi|coretemp|hwmon4|ieee80211|nct6779)"},
    "pcidevice": {"enabled": true}
}"#;

/// The families of these collectors start with these prefixes.
const PREFIXES: [&str; 9] = [
    "node_hwmon_",
    "node_thermal_zone_",
    "node_cooling_device_",
    "node_power_supply_",
    "node_rapl_",
    "node_dmi_",
    "node_watchdog_",
    "node_edac_",
    "node_pcidevice_",
];

fn fixtures() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/node-exporter");
    restore_empty_dirs(&dir, &dir.join("empty-dirs.txt")).unwrap();
    dir
}

fn collect(config: &str) -> String {
    let host = Fixture::new()
        .root(Root::Sys, fixtures().join("sys"))
        .host();
    let text = collect_text::<Hardware>(&host, config).unwrap();
    assert_eq!(host.logged(), vec![], "nothing should be logged");
    text
}

/// The names of the families in exposition `text` that these collectors produce.
fn families(text: &str) -> BTreeSet<String> {
    family_names(text)
        .into_iter()
        .filter(|name| PREFIXES.iter().any(|p| name.starts_with(p)))
        .map(str::to_owned)
        .collect()
}

/// The one known difference: node_exporter's rapl `path` label is the sysfs path it was given
/// (`--path.sysfs=collector/fixtures/sys` in its e2e run), this plugin's is the path below the
/// sysfs root as the host has it, `/sys/class/powercap/…`.
fn as_node_exporter_paths(ours: &str) -> String {
    ours.replace(
        "path=\"/sys/class/powercap/",
        "path=\"collector/fixtures/sys/class/powercap/",
    )
}

#[test]
fn every_family_matches_node_exporter_exactly() {
    let ours = collect(E2E_CONFIG);
    assert!(ours.contains(
        r#"node_rapl_package_joules_total{index="0",path="/sys/class/powercap/intel-rapl:0"} 240422.366267"#
    ));
    let ours = as_node_exporter_paths(&ours);
    let theirs = std::fs::read_to_string(fixtures().join("e2e-output.txt")).unwrap();
    // The same families, none missing, none extra …
    assert_eq!(families(&ours), families(&theirs));
    // … with the same HELP, TYPE and sample lines.
    assert_eq!(diff_families(&ours, &theirs), Vec::<String>::new());
    let mut series = 0;
    for family in families(&theirs) {
        // The same lines; their order within a family is the exposition's business (Go's sorts
        // `node_power_supply_info` by its differing label sets another way).
        let sorted = |text: &str| {
            let mut lines: Vec<String> = family_lines(text, &family)
                .into_iter()
                .map(str::to_owned)
                .collect();
            lines.sort();
            lines
        };
        assert_eq!(sorted(&ours), sorted(&theirs), "{family}");
        series += family_lines(&ours, &family).len();
    }
    let counts = |prefix: &str| {
        let names: Vec<String> = families(&theirs)
            .into_iter()
            .filter(|f| f.starts_with(prefix))
            .collect();
        let series: usize = names.iter().map(|f| family_lines(&theirs, f).len()).sum();
        (names.len(), series)
    };
    assert_eq!(counts("node_hwmon_"), (51, 137));
    assert_eq!(counts("node_thermal_zone_"), (1, 1));
    assert_eq!(counts("node_cooling_device_"), (2, 2));
    assert_eq!(counts("node_power_supply_"), (11, 12));
    assert_eq!(counts("node_rapl_"), (2, 2));
    assert_eq!(counts("node_dmi_"), (1, 1));
    assert_eq!(counts("node_watchdog_"), (8, 9));
    assert_eq!(counts("node_edac_"), (6, 20));
    assert_eq!(counts("node_pcidevice_"), (12, 52));
    assert_eq!((families(&theirs).len(), series), (94, 236));
}
