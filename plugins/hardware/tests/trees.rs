//! The plugin against small sysfs trees built for each test: the units, sensor types and corner
//! cases node_exporter's fixture does not cover, hostile names, large trees, and machines that
//! lack the sources.

use sonde_plugin_hardware::Hardware;
use sonde_sdk::testing::{Fixture, Tree, collect_text, family_lines, sample_lines};
use sonde_sdk::{Level, Root};

/// Only the named parts on (every other part off).
fn only(parts: &[&str], extra: &str) -> String {
    let all = [
        "hwmon",
        "thermal_zone",
        "powersupplyclass",
        "rapl",
        "dmi",
        "watchdog",
        "edac",
    ];
    let tables: Vec<String> = all
        .iter()
        .filter(|p| !parts.contains(p))
        .map(|p| format!("\"{p}\": {{\"enabled\": false}}"))
        .chain((!extra.is_empty()).then(|| extra.to_owned()))
        .collect();
    format!("{{{}}}", tables.join(", "))
}

fn collect(tree: &Tree, config: &str) -> (String, Vec<(Level, String)>) {
    let host = Fixture::new().root(Root::Sys, tree.path()).host();
    let text = collect_text::<Hardware>(&host, config).unwrap();
    // Whatever the kernel wrote, the exposition parses back.
    sonde_textformat::parse(text.as_bytes()).unwrap();
    (text, host.logged())
}

/// A k10temp-like chip with every unit node_exporter converts, under a PCI device.
fn hwmon_tree(test: &str) -> Tree {
    let tree = Tree::new(&format!("hardware-{test}"));
    let chip = "devices/pci0000:00/0000:00:18.3/hwmon/hwmon0";
    tree.link("class/hwmon/hwmon0", format!("../../{chip}"))
        .link(format!("{chip}/device"), "../../../0000:00:18.3")
        .file(format!("{chip}/name"), "k10temp\n")
        .file(format!("{chip}/temp1_input"), "45125\n")
        .file(format!("{chip}/temp1_label"), "Tctl\n")
        .file(format!("{chip}/temp1_type"), "4\n")
        .file(format!("{chip}/temp2_fault"), "0\n")
        .file(format!("{chip}/temp2_label"), b"Core\xff\xfe 1\n")
        .file(format!("{chip}/temp3_crit_alarm"), "1\n")
        .file(format!("{chip}/temp3_crit-alarm"), "0\n")
        .file(format!("{chip}/temp4"), "30000\n")
        .file(format!("{chip}/temp4_input"), "31000\n")
        .file(format!("{chip}/curr1_input"), "1500\n")
        .file(format!("{chip}/power1_average"), "12345678\n")
        .file(format!("{chip}/power1_accuracy"), "250000\n")
        .file(format!("{chip}/power1_average_interval"), "1000\n")
        .file(format!("{chip}/energy1_input"), "1234567890\n")
        .file(format!("{chip}/humidity1_input"), "456000\n")
        .file(format!("{chip}/cpu0_vid"), "1100\n")
        .file(format!("{chip}/in1"), "3300\n")
        .file(format!("{chip}/fan1_input"), "\n")
        .file(format!("{chip}/fan1_pulses"), "2\n")
        .file(format!("{chip}/beep_enable"), "1\n")
        .file(format!("{chip}/vrm"), "91\n")
        .file(format!("{chip}/update_interval"), "2000\n")
        .file(format!("{chip}/uevent"), "DRIVER=k10temp\n")
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

#[test]
fn every_hwmon_unit_is_converted_as_node_exporter_does() {
    let tree = hwmon_tree("units");
    let (text, logged) = collect(&tree, &only(&["hwmon"], ""));
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
fn hwmon_filters() {
    let tree = hwmon_tree("filters");
    let config = only(
        &["hwmon"],
        r#""hwmon": {"chip_include": "pci", "sensor_exclude": ";temp[2-4]$|;(in|cpu|curr|power|energy|humidity|fan|vrm|beep|update)"}"#,
    );
    let (text, _) = collect(&tree, &config);
    assert_eq!(
        sample_lines(&text),
        [
            r#"node_hwmon_chip_names{chip="pci0000:00_0000:00:18_3",chip_name="k10temp"} 1"#,
            r#"node_hwmon_sensor_label{chip="pci0000:00_0000:00:18_3",label="Tctl",sensor="temp1"} 1"#,
            r#"node_hwmon_temp_celsius{chip="pci0000:00_0000:00:18_3",sensor="temp1"} 45.125"#,
            r#"node_hwmon_temp_max_celsius{chip="pci0000:00_0000:00:18_3",sensor="temp1"} 70"#,
            r#"node_hwmon_temp_type{chip="pci0000:00_0000:00:18_3",sensor="temp1"} 3"#,
        ]
    );
}

#[test]
fn long_labels_are_cut_where_node_exporter_cuts_them() {
    let tree = Tree::new("hardware-long-label");
    tree.file("class/hwmon/hwmon0/temp1_label", "x".repeat(200))
        .file("class/hwmon/hwmon0/temp1_input", "1000");
    let (text, _) = collect(&tree, &only(&["hwmon"], ""));
    let label = "x".repeat(128);
    assert_eq!(
        family_lines(&text, "node_hwmon_sensor_label"),
        [format!(
            r#"node_hwmon_sensor_label{{chip="hwmon0",label="{label}",sensor="temp1"}} 1"#
        )]
    );
}

#[test]
fn hostile_chip_names_and_labels_stay_valid_exposition() {
    let tree = Tree::new("hardware-hostile-hwmon");
    tree.file(
        "class/hwmon/hwmon0/name",
        b"evil\"chip\\\nname\xff\n".as_slice(),
    )
    .file(
        "class/hwmon/hwmon0/temp1_label",
        b"a \"quoted\" \\ label\nwith newline\xfe\xff".as_slice(),
    )
    .file("class/hwmon/hwmon0/temp1_input", "1000")
    // A chip directory whose name is not UTF-8 cannot be opened by the name the host lists
    // (invalid bytes replaced): it is left out, quietly.
    .file(b"class/hwmon/hwmon\xff/name".as_slice(), "odd\n")
    .file(b"class/hwmon/hwmon\xff/temp1_input".as_slice(), "2000\n");
    let (text, logged) = collect(&tree, &only(&["hwmon"], ""));
    assert_eq!(logged, vec![]);
    assert!(
        text.contains(
            r#"node_hwmon_chip_names{chip="evil_chip__name",chip_name="evil_chip__name"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"node_hwmon_sensor_label{chip="evil_chip__name",label="a \"quoted\" \\ label\nwith newline�",sensor="temp1"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"node_hwmon_temp_celsius{chip="evil_chip__name",sensor="temp1"} 1"#));
}

#[test]
fn many_chips() {
    let tree = Tree::new("hardware-many-chips");
    for chip in 0..300 {
        tree.file(
            format!("class/hwmon/hwmon{chip}/name"),
            format!("chip{chip}\n"),
        )
        .file(format!("class/hwmon/hwmon{chip}/temp1_input"), "42000\n")
        .file(format!("class/hwmon/hwmon{chip}/fan1_input"), "1200\n");
    }
    let start = std::time::Instant::now();
    let (text, logged) = collect(&tree, &only(&["hwmon"], ""));
    assert_eq!(logged, vec![]);
    let elapsed = start.elapsed();
    eprintln!("collected in {elapsed:?}");
    assert_eq!(family_lines(&text, "node_hwmon_temp_celsius").len(), 300);
    assert_eq!(family_lines(&text, "node_hwmon_fan_rpm").len(), 300);
    assert_eq!(sample_lines(&text).len(), 900);
    assert!(elapsed.as_secs() < 5, "{elapsed:?}");
}

#[test]
fn thermal_zones_and_cooling_devices() {
    let tree = Tree::new("hardware-thermal");
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
    let config = only(&["thermal_zone"], "");
    let (text, logged) = collect(&tree, &config);
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
    let (text, logged) = collect(&tree, &config);
    assert_eq!(family_lines(&text, "node_thermal_zone_temp").len(), 3);
    assert!(!text.contains("node_cooling_device"));
    assert_eq!(
        logged,
        [(
            Level::Warn,
            "thermal_zone: reading /sys/class/thermal/cooling_device1/cur_state: invalid digit found in string".into()
        )]
    );
}

#[test]
fn a_chip_that_cannot_be_read_is_logged_and_the_others_kept() {
    let tree = Tree::new("hardware-broken-chip");
    tree.file("class/hwmon/hwmon0/temp1_input", "40000\n")
        .file("class/hwmon/hwmon1/temp1_input", "41000\n")
        .file("class/hwmon/hwmon1/not-a-device", "")
        .link("class/hwmon/hwmon1/device", "not-a-device");
    let (text, logged) = collect(&tree, &only(&["hwmon"], ""));
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

#[test]
fn power_supplies() {
    let tree = Tree::new("hardware-power-supply");
    let bat = "class/power_supply/BAT1";
    tree.file(format!("{bat}/type"), "Battery\n")
        .file(format!("{bat}/status"), "Charging\n")
        .file(format!("{bat}/capacity"), "0x10\n")
        .file(format!("{bat}/current_now"), "1500000\n")
        .file(format!("{bat}/charge_now"), "-250\n")
        .file(format!("{bat}/temp"), "305\n")
        .file(format!("{bat}/time_to_full_now"), "3600\n")
        .file(format!("{bat}/voltage_now"), "not a number\n")
        .file(format!("{bat}/health"), "\n")
        .file(
            format!("{bat}/model_name"),
            b"quote\" back\\slash\xff\xfe".as_slice(),
        )
        .file(format!("{bat}/uevent"), "POWER_SUPPLY_NAME=BAT1\n")
        .dir(format!("{bat}/power"))
        .file("class/power_supply/ucsi-source-psy-1/online", "1\n")
        .file("class/power_supply/hidpp_battery_0/capacity", "50\n");
    let config = only(
        &["powersupplyclass"],
        r#""powersupplyclass": {"ignored_supplies": "^hidpp"}"#,
    );
    let (text, logged) = collect(&tree, &config);
    assert_eq!(
        sample_lines(&text),
        [
            r#"node_power_supply_capacity{power_supply="BAT1"} 16"#,
            r#"node_power_supply_charge_ampere{power_supply="BAT1"} -0.00025"#,
            r#"node_power_supply_current_ampere{power_supply="BAT1"} 1.5"#,
            r#"node_power_supply_info{model_name="quote\" back\\slash�",power_supply="BAT1",status="Charging",type="Battery"} 1"#,
            r#"node_power_supply_info{power_supply="ucsi-source-psy-1"} 1"#,
            r#"node_power_supply_online{power_supply="ucsi-source-psy-1"} 1"#,
            r#"node_power_supply_temp_celsius{power_supply="BAT1"} 30.5"#,
            r#"node_power_supply_time_to_full_seconds{power_supply="BAT1"} 3600"#,
        ]
    );
    assert!(text.contains(
        "# HELP node_power_supply_temp_celsius temp_celsius value of /sys/class/power_supply/<power_supply>.\n"
    ));
    assert_eq!(logged.len(), 1);
    assert!(
        logged[0].1.starts_with(
            "powersupplyclass: /sys/class/power_supply/BAT1/voltage_now: \"not a number\""
        ),
        "{logged:?}"
    );
}

#[test]
fn rapl_zones() {
    let tree = Tree::new("hardware-rapl");
    let zone = |dir: &str, name: &str, energy: &str| {
        tree.file(format!("class/powercap/{dir}/name"), format!("{name}\n"))
            .file(
                format!("class/powercap/{dir}/max_energy_range_uj"),
                "262143328850\n",
            )
            .file(format!("class/powercap/{dir}/energy_uj"), energy);
    };
    tree.file("class/powercap/intel-rapl/enabled", "1\n");
    zone("intel-rapl:0", "package-0", "1000000\n");
    zone("intel-rapl:0:0", "core", "2500000\n");
    zone("intel-rapl:0:1", "dram", "3\n");
    zone("intel-rapl:1:1", "dram", "4\n");
    zone("intel-rapl:2", "psys/x.y", "5\n");
    zone("intel-rapl:3", "broken", "-1\n");
    let (text, logged) = collect(&tree, &only(&["rapl"], ""));
    assert_eq!(
        sample_lines(&text),
        [
            r#"node_rapl_core_joules_total{index="0",path="/sys/class/powercap/intel-rapl:0:0"} 2.5"#,
            r#"node_rapl_dram_joules_total{index="0",path="/sys/class/powercap/intel-rapl:0:1"} 3e-06"#,
            r#"node_rapl_dram_joules_total{index="1",path="/sys/class/powercap/intel-rapl:1:1"} 4e-06"#,
            r#"node_rapl_package_joules_total{index="0",path="/sys/class/powercap/intel-rapl:0"} 1"#,
            r#"node_rapl_psys_x_y_joules_total{index="0",path="/sys/class/powercap/intel-rapl:2"} 5e-06"#,
        ]
    );
    assert!(text.contains(
        "# HELP node_rapl_psys_x_y_joules_total Current RAPL psys/x.y value in joules\n"
    ));
    assert!(text.contains("# TYPE node_rapl_core_joules_total counter\n"));
    assert_eq!(
        logged,
        [(
            Level::Warn,
            "rapl: /sys/class/powercap/intel-rapl:3/energy_uj: not an unsigned integer: \"-1\""
                .into()
        )]
    );

    let config = only(&["rapl"], r#""rapl": {"enable_zone_label": true}"#);
    let (text, _) = collect(&tree, &config);
    assert_eq!(family_lines(&text, "node_rapl_joules_total").len(), 5);
    assert!(text.contains(
        r#"node_rapl_joules_total{index="1",path="/sys/class/powercap/intel-rapl:1:1",rapl_zone="dram"} 4e-06"#
    ));
    assert!(text.contains("# HELP node_rapl_joules_total Current RAPL value in joules\n"));
}

#[test]
fn dmi_is_read_once() {
    let tree = Tree::new("hardware-dmi");
    tree.file("class/dmi/id/sys_vendor", "QEMU\n")
        .file(
            "class/dmi/id/product_name",
            b"Standard PC \"Q35\"\xff\n".as_slice(),
        )
        .file("class/dmi/id/chassis_type", "1\n")
        .file("class/dmi/id/modalias", "dmi:bvnSeaBIOS\n")
        .file("class/dmi/id/board_asset_tag", "\n");
    let host = Fixture::new().root(Root::Sys, tree.path()).host();
    let mut instance = sonde_sdk::testing::Instance::<Hardware>::new(&only(&["dmi"], "")).unwrap();
    let expected = r#"node_dmi_info{board_asset_tag="",product_name="Standard PC \"Q35\"�",system_vendor="QEMU"} 1"#;
    assert_eq!(
        sample_lines(&instance.collect_text(&host).unwrap()),
        [expected]
    );
    // Changed files are not read again until the plugin is restarted, as in node_exporter.
    tree.file("class/dmi/id/sys_vendor", "Other\n");
    assert_eq!(
        sample_lines(&instance.collect_text(&host).unwrap()),
        [expected]
    );
    assert!(host.logged().is_empty());
}

#[test]
fn watchdogs() {
    let tree = Tree::new("hardware-watchdog");
    tree.file("class/watchdog/watchdog0/timeout", "30\n")
        .file("class/watchdog/watchdog0/bootstatus", "0x20\n")
        .file("class/watchdog/watchdog0/nowayout", "yes\n")
        .file("class/watchdog/watchdog0/identity", "iTCO_wdt\n")
        .file("class/watchdog/watchdog0/state", "inactive\n")
        .dir("class/watchdog/watchdog1");
    let (text, logged) = collect(&tree, &only(&["watchdog"], ""));
    assert_eq!(
        sample_lines(&text),
        [
            r#"node_watchdog_bootstatus{name="watchdog0"} 32"#,
            r#"node_watchdog_info{identity="",name="watchdog1",options="",pretimeout_governor="",state="",status=""} 1"#,
            r#"node_watchdog_info{identity="iTCO_wdt",name="watchdog0",options="",pretimeout_governor="",state="inactive",status=""} 1"#,
            r#"node_watchdog_timeout_seconds{name="watchdog0"} 30"#,
        ]
    );
    assert_eq!(logged.len(), 1);
    assert!(
        logged[0]
            .1
            .starts_with("watchdog: /sys/class/watchdog/watchdog0/nowayout: \"yes\""),
        "{logged:?}"
    );
}

#[test]
fn edac_controllers() {
    let tree = Tree::new("hardware-edac");
    let mc = "devices/system/edac/mc";
    for (ctl, values) in [("mc0", ["1", "2", "3", "4"]), ("mc1", ["5", "6", "7", "8"])] {
        for (file, value) in ["ce_count", "ce_noinfo_count", "ue_count", "ue_noinfo_count"]
            .iter()
            .zip(values)
        {
            tree.file(format!("{mc}/{ctl}/{file}"), format!("{value}\n"));
        }
    }
    tree.file(format!("{mc}/mc0/csrow0/ce_count"), "10\n")
        .file(format!("{mc}/mc0/csrow0/ue_count"), "11\n")
        .file(format!("{mc}/mc0/csrow0/ch0_ce_count"), "12\n")
        .file(format!("{mc}/mc0/csrow0/ch0_ue_count"), "13\n")
        .file(format!("{mc}/mc0/csrow0/ch0_dimm_label"), "CPU#0_DIMM#A1\n")
        // No ue_count and no label: only the correctable counter, labelled "unknown".
        .file(format!("{mc}/mc0/csrow0/ch1_ce_count"), "14\n")
        .file(format!("{mc}/mc0/csrow0/chx_ce_count"), "99\n")
        .file(format!("{mc}/power/control"), "auto\n")
        // mc1's row is broken: the error is logged, everything else kept.
        .file(format!("{mc}/mc1/csrow0/ce_count"), "lots\n")
        .file(format!("{mc}/mc1/csrow0/ue_count"), "0\n");
    let (text, logged) = collect(&tree, &only(&["edac"], ""));
    assert_eq!(
        sample_lines(&text),
        [
            r#"node_edac_channel_correctable_errors_total{channel="0",controller="0",csrow="0",dimm_label="CPU0_DIMMA1"} 12"#,
            r#"node_edac_channel_correctable_errors_total{channel="1",controller="0",csrow="0",dimm_label="unknown"} 14"#,
            r#"node_edac_channel_uncorrectable_errors_total{channel="0",controller="0",csrow="0",dimm_label="CPU0_DIMMA1"} 13"#,
            r#"node_edac_correctable_errors_total{controller="0"} 1"#,
            r#"node_edac_correctable_errors_total{controller="1"} 5"#,
            r#"node_edac_csrow_correctable_errors_total{controller="0",csrow="0"} 10"#,
            r#"node_edac_csrow_correctable_errors_total{controller="0",csrow="unknown"} 2"#,
            r#"node_edac_csrow_correctable_errors_total{controller="1",csrow="unknown"} 6"#,
            r#"node_edac_csrow_uncorrectable_errors_total{controller="0",csrow="0"} 11"#,
            r#"node_edac_csrow_uncorrectable_errors_total{controller="0",csrow="unknown"} 4"#,
            r#"node_edac_csrow_uncorrectable_errors_total{controller="1",csrow="unknown"} 8"#,
            r#"node_edac_uncorrectable_errors_total{controller="0"} 3"#,
            r#"node_edac_uncorrectable_errors_total{controller="1"} 7"#,
        ]
    );
    assert_eq!(
        logged,
        [(
            Level::Warn,
            "edac: /sys/devices/system/edac/mc/mc1/csrow0/ce_count: not an unsigned integer: \"lots\""
                .into()
        )]
    );
}

#[test]
fn a_machine_without_any_source_is_no_error() {
    let tree = Tree::new("hardware-empty");
    let (text, logged) = collect(&tree, "");
    assert_eq!(text, "");
    assert_eq!(logged, vec![]);
}

#[test]
fn empty_files_and_directories() {
    let tree = Tree::new("hardware-empty-files");
    tree.dir("class/hwmon")
        .dir("class/thermal")
        .dir("class/power_supply/AC")
        .dir("class/powercap/intel-rapl:0")
        .dir("class/dmi/id")
        .dir("devices/system/edac/mc")
        .file("class/hwmon/hwmon0/temp1_input", "")
        .file("class/watchdog/watchdog0/timeout", "");
    let (text, logged) = collect(&tree, "");
    assert_eq!(
        sample_lines(&text),
        [
            r#"node_power_supply_info{power_supply="AC"} 1"#,
            r#"node_watchdog_info{identity="",name="watchdog0",options="",pretimeout_governor="",state="",status=""} 1"#,
        ]
    );
    // The empty timeout is no number: logged, the rest kept.
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0]
            .1
            .starts_with("watchdog: /sys/class/watchdog/watchdog0/timeout")
    );
}

#[test]
fn without_the_sys_grant_the_collect_fails_with_every_reason() {
    let host = Fixture::new().host();
    let err = collect_text::<Hardware>(&host, "").unwrap_err();
    assert_eq!(
        err.to_string(),
        "hwmon: listing /sys/class/hwmon: not granted to this plugin; \
         thermal_zone: listing /sys/class/thermal: not granted to this plugin; \
         powersupplyclass: listing /sys/class/power_supply: not granted to this plugin; \
         rapl: listing /sys/class/powercap: not granted to this plugin; \
         dmi: listing /sys/class/dmi/id: not granted to this plugin; \
         watchdog: listing /sys/class/watchdog: not granted to this plugin; \
         edac: listing /sys/devices/system/edac/mc: not granted to this plugin"
    );
}

#[test]
fn a_bad_config_is_an_error() {
    let host = Fixture::new().host();
    let unknown = collect_text::<Hardware>(&host, r#"{"hwmon": {"chip_includes": "x"}}"#)
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("unknown field `chip_includes`"),
        "{unknown}"
    );
    let regex = collect_text::<Hardware>(&host, r#"{"hwmon": {"chip_include": "("}}"#)
        .unwrap_err()
        .to_string();
    assert!(
        regex.starts_with("hwmon: invalid include pattern \"(\""),
        "{regex}"
    );
    let regex =
        collect_text::<Hardware>(&host, r#"{"powersupplyclass": {"ignored_supplies": "["}}"#)
            .unwrap_err()
            .to_string();
    assert!(regex.starts_with("powersupplyclass: "), "{regex}");
}

#[test]
fn pci_devices_with_names_and_a_broken_device() {
    let tree = Tree::new("hardware-pci");
    let dev = "devices/pci0000:00/0000:00:1c.0/0000:02:00.0";
    tree.link("bus/pci/devices/0000:02:00.0", format!("../../../{dev}"))
        .file(format!("{dev}/class"), "0x020000\n")
        .file(format!("{dev}/vendor"), "0x8086\n")
        .file(format!("{dev}/device"), "0x1521\n")
        .file(format!("{dev}/subsystem_vendor"), "0x8086\n")
        .file(format!("{dev}/subsystem_device"), "0x00a3\n")
        .file(format!("{dev}/revision"), "0x01\n")
        .file(format!("{dev}/max_link_speed"), "Unknown\n")
        .file(format!("{dev}/current_link_width"), "1\n")
        .file(format!("{dev}/numa_node"), "-1\n")
        .file(format!("{dev}/power_state"), "D3hot\n")
        // A device whose class is no number: left out, logged, the other kept.
        .link(
            "bus/pci/devices/0000:00:1c.0",
            "../../../devices/pci0000:00/0000:00:1c.0",
        )
        .file("devices/pci0000:00/0000:00:1c.0/class", "bridge\n")
        .file(
            "usr/share/hwdata/pci.ids",
            "8086  Intel Corporation\n\t1521  I350 Gigabit Network Connection\n\
             \t\t8086 00a3  Ethernet Server Adapter I350-T4\nC 02  Network controller\n\
             \t00  Ethernet controller\n",
        );
    let host = Fixture::new()
        .root(Root::Sys, tree.path())
        .root(Root::Rootfs, tree.path())
        .host();
    let config = only(&[], r#""pcidevice": {"enabled": true, "names": true}"#);
    let text = collect_text::<Hardware>(&host, &config).unwrap();
    sonde_textformat::parse(text.as_bytes()).unwrap();
    let loc = r#"bus="02",device="00",function="0",segment="0000""#;
    assert_eq!(
        family_lines(&text, "node_pcidevice_info"),
        [
            r#"node_pcidevice_info{bus="02",class_id="0x020000",class_name="Ethernet controller",device="00",device_id="0x1521",device_name="I350 Gigabit Network Connection",function="0",parent_bus="00",parent_device="1c",parent_function="0",parent_segment="0000",revision="0x01",segment="0000",subsystem_device_id="0x00a3",subsystem_device_name="Ethernet Server Adapter I350-T4",subsystem_vendor_id="0x8086",subsystem_vendor_name="Intel Corporation",vendor_id="0x8086",vendor_name="Intel Corporation"} 1"#
        ]
    );
    for line in [
        format!("node_pcidevice_max_link_transfers_per_second{{{loc}}} -1"),
        format!("node_pcidevice_current_link_width{{{loc}}} 1"),
        format!("node_pcidevice_sriov_numvfs{{{loc}}} 0"),
        format!(r#"node_pcidevice_power_state{{{loc},state="D3hot"}} 1"#),
        format!(r#"node_pcidevice_power_state{{{loc},state="D0"}} 0"#),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    // numa_node -1 is "unknown": no series.
    assert!(!text.contains("node_pcidevice_numa_node{"));
    let logged = host.logged();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0]
            .1
            .starts_with("pcidevice: /sys/bus/pci/devices/0000:00:1c.0/class: \"bridge\""),
        "{logged:?}"
    );
}

#[test]
fn pci_names_without_a_pci_ids_file_are_the_ids() {
    let tree = Tree::new("hardware-pci-no-ids");
    let dev = "devices/pci0000:00/0000:00:02.0";
    tree.link("bus/pci/devices/0000:00:02.0", format!("../../../{dev}"));
    for (file, value) in [
        ("class", "0x030000"),
        ("vendor", "0x1234"),
        ("device", "0x1111"),
        ("subsystem_vendor", "0x1af4"),
        ("subsystem_device", "0x1100"),
        ("revision", "0x02"),
    ] {
        tree.file(format!("{dev}/{file}"), format!("{value}\n"));
    }
    let host = Fixture::new()
        .root(Root::Sys, tree.path())
        .root(Root::Rootfs, tree.path())
        .host();
    let config = only(&[], r#""pcidevice": {"enabled": true, "names": true}"#);
    let text = collect_text::<Hardware>(&host, &config).unwrap();
    let info = family_lines(&text, "node_pcidevice_info");
    assert_eq!(info.len(), 1);
    for label in [
        r#"class_name="Unknown class (030000)""#,
        r#"vendor_name="1234""#,
        r#"device_name="1111""#,
        r#"subsystem_vendor_name="1af4""#,
        r#"subsystem_device_name="1100""#,
        r#"parent_bus="*""#,
    ] {
        assert!(info[0].contains(label), "{label} in {}", info[0]);
    }
    assert!(host.logged().is_empty());
}
