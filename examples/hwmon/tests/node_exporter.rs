//! The plugin against node_exporter's own sysfs fixture tree, compared with node_exporter's
//! end-to-end output for it (`tests/fixtures/node-exporter/e2e-output.txt` in the sonde
//! repository), through the SDK's native harness.

use sonde_plugin_hwmon::Hwmon;
use sonde_sdk::Root;
use sonde_sdk::testing::{
    Fixture, collect_text, diff_families, family_lines, family_names, restore_empty_dirs,
};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// node_exporter's e2e run used `--collector.hwmon.chip-include=(…)`.
const E2E_CONFIG: &str =
    r#"{"chip_include": "(applesmc|asus_nb_wmi|coretemp|hwmon4|ieee80211|nct6779)"}"#;

/// The families of these collectors start with these prefixes.
const PREFIXES: [&str; 3] = ["node_hwmon_", "node_thermal_zone_", "node_cooling_device_"];

fn fixtures() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/node-exporter");
    restore_empty_dirs(&dir, &dir.join("empty-dirs.txt")).unwrap();
    dir
}

fn collect(config: &str) -> String {
    let host = Fixture::new()
        .root(Root::Sys, fixtures().join("sys"))
        .host();
    let text = collect_text::<Hwmon>(&host, config).unwrap();
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

#[test]
fn every_family_matches_node_exporter_exactly() {
    let ours = collect(E2E_CONFIG);
    let theirs = std::fs::read_to_string(fixtures().join("e2e-output.txt")).unwrap();
    // The same families, none missing, none extra …
    assert_eq!(families(&ours), families(&theirs));
    assert_eq!(families(&ours).len(), 54);
    // … with the same HELP, TYPE and sample lines.
    assert_eq!(diff_families(&ours, &theirs), Vec::<String>::new());
    let mut series = 0;
    for family in families(&theirs) {
        assert_eq!(family_lines(&ours, &family), family_lines(&theirs, &family));
        series += family_lines(&ours, &family).len();
    }
    assert_eq!(series, 140);
}

#[test]
fn chip_names_and_labels() {
    let ours = collect(E2E_CONFIG);
    assert_eq!(
        family_lines(&ours, "node_hwmon_chip_names"),
        [
            r#"node_hwmon_chip_names{chip="ieee80211_phy0_mt7996_phy0_0",chip_name="mt7996_phy0_0"} 1"#,
            r#"node_hwmon_chip_names{chip="ieee80211_phy0_mt7996_phy0_1",chip_name="mt7996_phy0_1"} 1"#,
            r#"node_hwmon_chip_names{chip="ieee80211_phy0_mt7996_phy0_2",chip_name="mt7996_phy0_2"} 1"#,
            r#"node_hwmon_chip_names{chip="nct6779",chip_name="nct6779"} 1"#,
            r#"node_hwmon_chip_names{chip="platform_asus_nb_wmi_asus",chip_name="asus"} 1"#,
            r#"node_hwmon_chip_names{chip="platform_asus_nb_wmi_asus_wmi_sensors",chip_name="asus_wmi_sensors"} 1"#,
            r#"node_hwmon_chip_names{chip="platform_coretemp_0",chip_name="coretemp"} 1"#,
            r#"node_hwmon_chip_names{chip="platform_coretemp_1",chip_name="coretemp"} 1"#,
        ]
    );
    let text = ours.lines().collect::<Vec<_>>();
    for line in [
        "# HELP node_hwmon_temp_celsius Hardware monitor for temperature (input)",
        "# TYPE node_hwmon_temp_celsius gauge",
        r#"node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp1"} 55"#,
        r#"node_hwmon_temp_crit_celsius{chip="platform_coretemp_1",sensor="temp5"} 100"#,
        r#"node_hwmon_sensor_label{chip="platform_applesmc_768",label="Left side",sensor="fan1"} 1"#,
        r#"node_hwmon_fan_rpm{chip="platform_applesmc_768",sensor="fan2"} 1998"#,
        r#"node_hwmon_in_volts{chip="nct6779",sensor="in0"} 0.792"#,
        r#"node_hwmon_freq_freq_mhz{chip="hwmon4",sensor="sclk"} 214"#,
        r#"node_thermal_zone_temp{type="cpu-thermal",zone="0"} 12.376"#,
        r#"node_cooling_device_max_state{name="0",type="Processor"} 3"#,
    ] {
        assert!(text.contains(&line), "{line} missing");
    }
}

#[test]
fn without_chip_filter_every_chip_is_there() {
    let ours = collect("");
    // hwmon5 has no device link: it is named after its `name` file. Its `bogus1_*` files are no
    // sensor type node_exporter knows, so it has no other metric.
    assert!(ours.contains("node_hwmon_chip_names{chip=\"bogus\",chip_name=\"bogus\"} 1\n"));
    assert_eq!(family_lines(&ours, "node_hwmon_chip_names").len(), 9);
    assert!(!ours.contains("sensor=\"bogus1\""));
}

#[test]
fn chip_and_sensor_filters() {
    let ours = collect(
        r#"{"chip_include": "coretemp", "chip_exclude": "_1$",
            "sensor_exclude": "^platform_coretemp_0;temp[2-5]$", "thermal_zone": false}"#,
    );
    assert_eq!(
        family_lines(&ours, "node_hwmon_temp_celsius"),
        [r#"node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp1"} 55"#]
    );
    assert_eq!(
        family_lines(&ours, "node_hwmon_sensor_label"),
        [
            r#"node_hwmon_sensor_label{chip="platform_coretemp_0",label="Physical id 0",sensor="temp1"} 1"#
        ]
    );
    assert!(!ours.contains("node_thermal_zone_temp"));
    assert!(!ours.contains("node_cooling_device"));

    let only_sensor = collect(r#"{"sensor_include": "^hwmon4;temp2$", "hwmon": true}"#);
    assert_eq!(
        family_lines(&only_sensor, "node_hwmon_temp_max_celsius"),
        [r#"node_hwmon_temp_max_celsius{chip="hwmon4",sensor="temp2"} 100"#]
    );
}

#[test]
fn a_bad_config_is_an_error() {
    let host = Fixture::new()
        .root(Root::Sys, fixtures().join("sys"))
        .host();
    let unknown = collect_text::<Hwmon>(&host, r#"{"chip_includes": "x"}"#).unwrap_err();
    assert!(
        unknown
            .to_string()
            .contains("unknown field `chip_includes`"),
        "{unknown}"
    );
    let regex = collect_text::<Hwmon>(&host, r#"{"chip_include": "("}"#).unwrap_err();
    assert!(
        regex
            .to_string()
            .starts_with("invalid include pattern \"(\""),
        "{regex}"
    );
}
