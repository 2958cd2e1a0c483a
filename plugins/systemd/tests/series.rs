//! The systemd collector on canned bus answers: node_exporter's filters, flags and details.

use sonde_plugin_systemd::{Systemd, parse_version};
use sonde_sdk::testing::{Fixture, collect_text, family_lines};
use sonde_sdk::{FsError, SystemdState, SystemdUnit};

fn unit(name: &str, load: &str, active: &str) -> SystemdUnit {
    SystemdUnit {
        name: name.to_owned(),
        load_state: load.to_owned(),
        active_state: active.to_owned(),
        sub_state: String::new(),
        ..SystemdUnit::default()
    }
}

fn state(units: Vec<SystemdUnit>) -> SystemdState {
    SystemdState {
        version: "255.4-1ubuntu8".to_owned(),
        system_state: "running".to_owned(),
        units,
    }
}

#[test]
fn versions_parse_as_node_exporter_parses_them() {
    assert_eq!(
        parse_version("252.22-1~deb12u1"),
        (252.22, "252.22-1~deb12u1")
    );
    assert_eq!(parse_version("255.4-1ubuntu8"), (255.4, "255.4-1ubuntu8"));
    assert_eq!(parse_version("v245"), (245.0, "v245"));
    assert_eq!(parse_version("systemd 99"), (0.0, ""));
    assert_eq!(parse_version(""), (0.0, ""));
}

#[test]
fn defaults_exclude_mounts_and_slices_and_flags_add_their_series() {
    let mut ssh = unit("ssh.service", "loaded", "active");
    ssh.unit_type = "notify".to_owned();
    ssh.restarts = Some(4);
    ssh.active_enter_timestamp_usec = Some(1_500_000_000);
    let host = Fixture::new()
        .systemd(Ok(state(vec![
            ssh,
            unit("home.mount", "loaded", "active"),
            unit("user.slice", "loaded", "active"),
            unit("gone.service", "not-found", "inactive"),
            unit("weird.service", "loaded", "reloading"),
        ])))
        .host();
    let text = collect_text::<Systemd>(&host, "{}").unwrap();
    let names: Vec<&str> = family_lines(&text, "node_systemd_unit_state")
        .into_iter()
        .filter(|l| l.ends_with(" 1"))
        .collect();
    assert_eq!(
        names,
        [r#"node_systemd_unit_state{name="ssh.service",state="active",type="notify"} 1"#]
    );
    // The summary counts every unit, a state beyond node_exporter's five included.
    assert_eq!(
        family_lines(&text, "node_systemd_units"),
        [
            r#"node_systemd_units{state="activating"} 0"#,
            r#"node_systemd_units{state="active"} 3"#,
            r#"node_systemd_units{state="deactivating"} 0"#,
            r#"node_systemd_units{state="failed"} 0"#,
            r#"node_systemd_units{state="inactive"} 1"#,
            r#"node_systemd_units{state="reloading"} 1"#,
        ]
    );
    assert_eq!(
        family_lines(&text, "node_systemd_system_running"),
        ["node_systemd_system_running 1"]
    );
    assert!(family_lines(&text, "node_systemd_service_restart_total").is_empty());
    assert!(family_lines(&text, "node_systemd_unit_start_time_seconds").is_empty());

    let text = collect_text::<Systemd>(
        &host,
        r#"{"unit_include": "ssh\\..*", "enable_restarts_metrics": true, "enable_start_time_metrics": true}"#,
    )
    .unwrap();
    assert_eq!(
        family_lines(&text, "node_systemd_service_restart_total"),
        [r#"node_systemd_service_restart_total{name="ssh.service"} 4"#]
    );
    assert_eq!(
        family_lines(&text, "node_systemd_unit_start_time_seconds"),
        [r#"node_systemd_unit_start_time_seconds{name="ssh.service"} 1500"#]
    );
}

#[test]
fn no_bus_fails_the_collection_with_the_hosts_message() {
    let host = Fixture::new()
        .systemd(Err(FsError::Other("no system bus at unix:path=/x".into())))
        .host();
    let error = collect_text::<Systemd>(&host, "{}")
        .unwrap_err()
        .to_string();
    assert!(error.contains("no system bus at unix:path=/x"), "{error}");
    // The agent logs the failure (once, while it keeps failing): the plugin logs nothing.
    assert_eq!(host.logged(), []);
}

#[test]
fn a_bad_pattern_is_a_config_error() {
    let host = Fixture::new().host();
    let error = collect_text::<Systemd>(&host, r#"{"unit_exclude": "("}"#)
        .unwrap_err()
        .to_string();
    assert!(error.contains("unit-exclude"), "{error}");
}
