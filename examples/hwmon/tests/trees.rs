//! The plugin against small sysfs trees built for each test: the units, sensor types and corner
//! cases node_exporter's fixture does not cover.

use sonde_plugin_hwmon::Hwmon;
use sonde_sdk::testing::{Fixture, collect_text, family_lines, sample_lines};
use sonde_sdk::{Level, Root};
use std::path::{Path, PathBuf};

/// A sysfs tree in a fresh temporary directory, removed on drop.
struct Tree(PathBuf);

impl Tree {
    fn new(test: &str) -> Tree {
        let dir = std::env::temp_dir().join(format!("sonde-hwmon-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Tree(dir)
    }

    /// Writes `contents` to `path` (relative to the tree), creating directories.
    fn file(&self, path: &str, contents: impl AsRef<[u8]>) -> &Tree {
        let path = self.0.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
        self
    }

    /// Creates the symlink `path -> target`.
    fn link(&self, path: &str, target: &str) -> &Tree {
        let path = self.0.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, path).unwrap();
        self
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A k10temp-like chip with every unit node_exporter converts, under a PCI device.
fn hwmon_tree() -> Tree {
    let tree = Tree::new("units");
    let chip = "devices/pci0000:00/0000:00:18.3/hwmon/hwmon0";
    tree.link("class/hwmon/hwmon0", &format!("../../{chip}"))
        .link(&format!("{chip}/device"), "../../../0000:00:18.3")
        .file(&format!("{chip}/name"), "k10temp\n")
        .file(&format!("{chip}/temp1_input"), "45125\n")
        .file(&format!("{chip}/temp1_label"), "Tctl\n")
        .file(&format!("{chip}/temp1_type"), "4\n")
        .file(&format!("{chip}/temp2_fault"), "0\n")
        .file(&format!("{chip}/temp2_label"), b"Core\xff\xfe 1\n")
        .file(&format!("{chip}/temp3_crit_alarm"), "1\n")
        .file(&format!("{chip}/temp3_crit-alarm"), "0\n")
        .file(&format!("{chip}/temp4"), "30000\n")
        .file(&format!("{chip}/temp4_input"), "31000\n")
        .file(&format!("{chip}/curr1_input"), "1500\n")
        .file(&format!("{chip}/power1_average"), "12345678\n")
        .file(&format!("{chip}/power1_accuracy"), "250000\n")
        .file(&format!("{chip}/power1_average_interval"), "1000\n")
        .file(&format!("{chip}/energy1_input"), "1234567890\n")
        .file(&format!("{chip}/humidity1_input"), "456000\n")
        .file(&format!("{chip}/cpu0_vid"), "1100\n")
        .file(&format!("{chip}/in1"), "3300\n")
        .file(&format!("{chip}/fan1_input"), "\n")
        .file(&format!("{chip}/fan1_pulses"), "2\n")
        .file(&format!("{chip}/beep_enable"), "1\n")
        .file(&format!("{chip}/vrm"), "91\n")
        .file(&format!("{chip}/update_interval"), "2000\n")
        .file(&format!("{chip}/uevent"), "DRIVER=k10temp\n")
        // The device's own sensor files are read too; its values win.
        .file("devices/pci0000:00/0000:00:18.3/temp1_max", "70000\n")
        .file("devices/pci0000:00/0000:00:18.3/temp1_type", "3\n")
        // A chip whose device link dangles is named after its `name` file.
        .link("class/hwmon/hwmon1", "../../devices/virtual/hwmon/hwmon1")
        .link("devices/virtual/hwmon/hwmon1/device", "../../../gone")
        .file("devices/virtual/hwmon/hwmon1/name", "acpitz\n")
        .file("devices/virtual/hwmon/hwmon1/temp1_input", "-5000\n")
        // A link to nowhere and a stray file are no chips.
        .link("class/hwmon/hwmon2", "../../devices/virtual/hwmon/hwmon2")
        .file("class/hwmon/README", "not a chip\n");
    tree
}

fn collect(tree: &Tree, config: &str) -> (String, Vec<(Level, String)>) {
    let host = Fixture::new().root(Root::Sys, tree.path()).host();
    let text = collect_text::<Hwmon>(&host, config).unwrap();
    (text, host.logged())
}

#[test]
fn every_unit_is_converted_as_node_exporter_does() {
    let tree = hwmon_tree();
    let (text, logged) = collect(&tree, "");
    assert_eq!(logged, vec![]);
    let chip = r#"chip="pci0000:00_0000:00:18_3""#;
    let expected = [
        format!(r#"node_hwmon_beep_enabled{{{chip},sensor="beep_enable0"}} 1"#),
        r#"node_hwmon_chip_names{chip="acpitz",chip_name="acpitz"} 1"#.into(),
        format!(r#"node_hwmon_chip_names{{{chip},chip_name="k10temp"}} 1"#),
        format!(r#"node_hwmon_cpu_vid_volts{{{chip},sensor="cpu0"}} 1.1"#),
        format!(r#"node_hwmon_curr_amps{{{chip},sensor="curr1"}} 1.5"#),
        format!(r#"node_hwmon_energy_joule_total{{{chip},sensor="energy1"}} 1234.56789"#),
        format!(r#"node_hwmon_fan_pulses{{{chip},sensor="fan1"}} 2"#),
        format!(r#"node_hwmon_humidity{{{chip},sensor="humidity1"}} 0.456"#),
        // node_exporter multiplies by 0.001 rather than dividing by 1000, with this result.
        format!(r#"node_hwmon_in_volts{{{chip},sensor="in1"}} 3.3000000000000003"#),
        format!(r#"node_hwmon_power_accuracy{{{chip},sensor="power1"}} 0.25"#),
        format!(r#"node_hwmon_power_average_interval_seconds{{{chip},sensor="power1"}} 1"#),
        format!(r#"node_hwmon_power_average_watt{{{chip},sensor="power1"}} 12.345678"#),
        format!(r#"node_hwmon_sensor_label{{{chip},label="Core� 1",sensor="temp2"}} 1"#),
        format!(r#"node_hwmon_sensor_label{{{chip},label="Tctl",sensor="temp1"}} 1"#),
        r#"node_hwmon_temp_celsius{chip="acpitz",sensor="temp1"} -5"#.into(),
        format!(r#"node_hwmon_temp_celsius{{{chip},sensor="temp1"}} 45.125"#),
        format!(r#"node_hwmon_temp_celsius{{{chip},sensor="temp4"}} 30"#),
        // Of two files that make the same series, the first (in name order) is kept.
        format!(r#"node_hwmon_temp_crit_alarm_celsius{{{chip},sensor="temp3"}} 0"#),
        format!(r#"node_hwmon_temp_fault{{{chip},sensor="temp2"}} 0"#),
        format!(r#"node_hwmon_temp_input_celsius{{{chip},sensor="temp4"}} 31"#),
        format!(r#"node_hwmon_temp_max_celsius{{{chip},sensor="temp1"}} 70"#),
        format!(r#"node_hwmon_temp_type{{{chip},sensor="temp1"}} 3"#),
        format!(r#"node_hwmon_update_interval_seconds{{{chip},sensor="update_interval0"}} 2"#),
        format!(r#"node_hwmon_voltage_regulator_version{{{chip},sensor="vrm0"}} 91"#),
    ];
    assert_eq!(sample_lines(&text), expected);
    for line in [
        "# HELP node_hwmon_energy_joule_total Hardware monitor for joules used so far (input)",
        "# TYPE node_hwmon_energy_joule_total counter",
        "# HELP node_hwmon_temp_fault Hardware sensor fault status (temp)",
        "# HELP node_hwmon_temp_type Hardware monitor temp element type",
        "# HELP node_hwmon_power_accuracy Hardware monitor power meter accuracy, as a ratio",
        "# HELP node_hwmon_humidity Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) (input)",
        "# HELP node_hwmon_temp_celsius Hardware monitor for temperature (input)",
        "# HELP node_hwmon_temp_input_celsius Hardware monitor for temperature (input)",
        "# HELP node_hwmon_in_volts Hardware monitor for voltage ()",
        "# HELP node_hwmon_beep_enabled Hardware beep enabled",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing");
    }
}

#[test]
fn long_labels_are_cut_where_node_exporter_cuts_them() {
    let tree = Tree::new("long-label");
    tree.file("class/hwmon/hwmon0/temp1_label", "x".repeat(200))
        .file("class/hwmon/hwmon0/temp1_input", "1000");
    let (text, _) = collect(&tree, "");
    let label = "x".repeat(128);
    assert_eq!(
        family_lines(&text, "node_hwmon_sensor_label"),
        [format!(
            r#"node_hwmon_sensor_label{{chip="hwmon0",label="{label}",sensor="temp1"}} 1"#
        )]
    );
}

#[test]
fn thermal_zones_and_cooling_devices() {
    let tree = Tree::new("thermal");
    tree.file("class/thermal/thermal_zone0/type", "x86_pkg_temp\n")
        .file("class/thermal/thermal_zone0/temp", "45000\n")
        .file("class/thermal/thermal_zone10/type", "acpitz\n")
        .file("class/thermal/thermal_zone10/temp", "-1500\n")
        // node_exporter 1.12 reports a zone whose temperature cannot be read as 0 degrees.
        .file("class/thermal/thermal_zone2/type", "iwlwifi_1\n")
        .file("class/thermal/thermal_zone2/temp/unreadable", "")
        .file("class/thermal/thermal_zone_x/temp", "1000\n")
        .file("class/thermal/cooling_device0/type", "Fan\n")
        .file("class/thermal/cooling_device0/max_state", "7\n")
        .file("class/thermal/cooling_device0/cur_state", "-1\n")
        // A device without cur_state is skipped.
        .file("class/thermal/cooling_device1/type", "Processor\n")
        .file("class/thermal/cooling_device1/max_state", "3\n");
    let (text, logged) = collect(&tree, "");
    assert_eq!(logged, vec![]);
    assert_eq!(
        sample_lines(&text),
        [
            r#"node_cooling_device_cur_state{name="0",type="Fan"} -1"#,
            r#"node_cooling_device_max_state{name="0",type="Fan"} 7"#,
            r#"node_thermal_zone_temp{type="acpitz",zone="10"} -1.5"#,
            r#"node_thermal_zone_temp{type="iwlwifi_1",zone="2"} 0"#,
            r#"node_thermal_zone_temp{type="x86_pkg_temp",zone="0"} 45"#,
        ]
    );

    // A state that is not a number fails the cooling devices (logged), not the zones.
    tree.file("class/thermal/cooling_device1/cur_state", "busy\n");
    let (text, logged) = collect(&tree, "");
    assert_eq!(family_lines(&text, "node_thermal_zone_temp").len(), 3);
    assert!(!text.contains("node_cooling_device"));
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].0, Level::Warn);
    assert_eq!(
        logged[0].1,
        "thermal_zone: reading /sys/class/thermal/cooling_device1/cur_state: invalid digit found in string"
    );
}

#[test]
fn a_machine_without_sensors_is_no_error() {
    let tree = Tree::new("empty");
    let (text, logged) = collect(&tree, "");
    assert_eq!(text, "");
    assert_eq!(logged, vec![]);
}

#[test]
fn without_the_sys_grant_the_collect_fails_with_both_reasons() {
    let host = Fixture::new().host();
    let err = collect_text::<Hwmon>(&host, "").unwrap_err();
    assert_eq!(
        err.to_string(),
        "hwmon: listing /sys/class/hwmon: not granted to this plugin; \
         thermal_zone: listing /sys/class/thermal: not granted to this plugin"
    );
}

#[test]
fn a_chip_that_cannot_be_read_is_logged_and_the_others_kept() {
    let tree = Tree::new("broken-chip");
    tree.file("class/hwmon/hwmon0/temp1_input", "40000\n")
        .file("class/hwmon/hwmon1/temp1_input", "41000\n")
        .file("class/hwmon/hwmon1/not-a-device", "")
        .link("class/hwmon/hwmon1/device", "not-a-device");
    let (text, logged) = collect(&tree, "");
    assert_eq!(
        sample_lines(&text),
        [r#"node_hwmon_temp_celsius{chip="hwmon0",sensor="temp1"} 40"#]
    );
    assert_eq!(
        logged,
        [(
            Level::Warn,
            "hwmon: listing /sys/class/hwmon/hwmon1/device: Not a directory (os error 20)".into()
        )]
    );
}
