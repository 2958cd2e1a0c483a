//! sonde's built-in `systemd` collector: node_exporter's `systemd` collector, with the same
//! metric names, labels, HELP and TYPE, on the host's `systemd` capability. The agent reads the
//! units from the system bus itself (once per cycle, with a deadline) and hands this plugin
//! typed records: the plugin never talks to D-Bus. Off by default, as in node_exporter.

use regex_lite::Regex;
use serde::{Deserialize, Serialize};
use sonde_sdk::{
    Capability, Collector, Description, Error, Host, MetricFamily, SystemdState, SystemdUnit,
};

/// The states `node_systemd_unit_state` has one series for, as node_exporter lists them.
const UNIT_STATES: [&str; 5] = ["active", "activating", "deactivating", "inactive", "failed"];

/// The systemd version from which `SystemState` and timers' `LastTriggerUSec` exist.
const MIN_VERSION_SYSTEM_STATE: f64 = 212.0;

/// `[plugins.systemd] config = { … }`: node_exporter's `--collector.systemd.*` flags, named as
/// the other plugins name theirs (`--collector.systemd.unit-include` is `unit_include`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Units to include (`--collector.systemd.unit-include`, anchored), default `.+`.
    pub unit_include: String,
    /// Units to exclude (`--collector.systemd.unit-exclude`, anchored), default
    /// `.+\.(automount|device|mount|scope|slice)`.
    pub unit_exclude: String,
    /// `node_systemd_unit_tasks_current` and `_max` (`--collector.systemd.enable-task-metrics`).
    pub enable_task_metrics: bool,
    /// `node_systemd_service_restart_total` (`--collector.systemd.enable-restarts-metrics`).
    pub enable_restarts_metrics: bool,
    /// `node_systemd_unit_start_time_seconds`
    /// (`--collector.systemd.enable-start-time-metrics`).
    pub enable_start_time_metrics: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            unit_include: ".+".to_owned(),
            unit_exclude: r".+\.(automount|device|mount|scope|slice)".to_owned(),
            enable_task_metrics: false,
            enable_restarts_metrics: false,
            enable_start_time_metrics: false,
        }
    }
}

/// The `systemd` collector, its patterns compiled.
pub struct Systemd {
    include: Regex,
    exclude: Regex,
    config: Config,
}

fn anchored(key: &str, pattern: &str) -> Result<Regex, Error> {
    Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| Error::msg(format!("{key}: invalid pattern {pattern:?}: {e}")))
}

impl Collector for Systemd {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "systemd",
            env!("CARGO_PKG_VERSION"),
            "systemd units, services, sockets and timers (read by the agent from the system bus)",
        )
        .needs(&[Capability::Systemd])
    }

    fn new(config: Config) -> Result<Self, Error> {
        Ok(Systemd {
            include: anchored("unit-include", &config.unit_include)?,
            exclude: anchored("unit-exclude", &config.unit_exclude)?,
            config,
        })
    }

    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        let state = host
            .systemd_units()
            .map_err(|e| Error::msg(format!("couldn't get systemd units: {e}")))?;
        Ok(self.families(&state))
    }
}

/// node_exporter's version parsing: the first `[0-9]{3,}(\.[0-9]+)?` of the `Version`
/// property as the value (0 when there is none, and then the label is empty too).
pub fn parse_version(version: &str) -> (f64, &str) {
    let bytes = version.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i - start >= 3 {
            let mut end = i;
            if end + 1 < bytes.len() && bytes[end] == b'.' && bytes[end + 1].is_ascii_digit() {
                end += 1;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
            }
            return match version[start..end].parse() {
                Ok(v) => (v, version),
                Err(_) => (0.0, ""),
            };
        }
        if i == start {
            i += 1;
        }
    }
    (0.0, "")
}

impl Systemd {
    fn included(&self, unit: &SystemdUnit) -> bool {
        self.include.is_match(&unit.name)
            && !self.exclude.is_match(&unit.name)
            && unit.load_state == "loaded"
    }

    /// The families node_exporter's collector reports for `state`.
    pub fn families(&self, state: &SystemdState) -> Vec<MetricFamily> {
        let (version, version_label) = parse_version(&state.version);
        let mut out = Vec::new();
        out.push(
            MetricFamily::gauge("node_systemd_version", "Detected systemd version")
                .with_sample(&[("version", version_label)], version),
        );

        // The summary counts every unit the manager lists, before any filter.
        let mut summary: Vec<(&str, f64)> = UNIT_STATES.iter().map(|s| (*s, 0.0)).collect();
        for unit in &state.units {
            match summary.iter_mut().find(|(s, _)| *s == unit.active_state) {
                Some((_, count)) => *count += 1.0,
                None => summary.push((&unit.active_state, 1.0)),
            }
        }
        let mut units = MetricFamily::gauge("node_systemd_units", "Summary of systemd unit states");
        for (state, count) in summary {
            units.sample(&[("state", state)], count);
        }
        out.push(units);

        let included: Vec<&SystemdUnit> = state.units.iter().filter(|u| self.included(u)).collect();

        let mut unit_state = MetricFamily::gauge("node_systemd_unit_state", "Systemd unit");
        let mut restarts = MetricFamily::counter(
            "node_systemd_service_restart_total",
            "Service unit count of Restart triggers",
        );
        for unit in &included {
            for name in UNIT_STATES {
                let value = if unit.active_state == name { 1.0 } else { 0.0 };
                unit_state.sample(
                    &[
                        ("name", &unit.name),
                        ("state", name),
                        ("type", &unit.unit_type),
                    ],
                    value,
                );
            }
            if self.config.enable_restarts_metrics
                && unit.name.ends_with(".service")
                && let Some(n) = unit.restarts
            {
                restarts.sample(&[("name", &unit.name)], f64::from(n));
            }
        }
        out.push(unit_state);
        if self.config.enable_restarts_metrics {
            out.push(restarts);
        }

        if self.config.enable_start_time_metrics {
            let mut start = MetricFamily::gauge(
                "node_systemd_unit_start_time_seconds",
                "Start time of the unit since unix epoch in seconds.",
            );
            for unit in &included {
                let usec = if unit.active_state != "active" {
                    Some(0)
                } else {
                    unit.active_enter_timestamp_usec
                };
                if let Some(usec) = usec {
                    start.sample(&[("name", &unit.name)], usec as f64 / 1e6);
                }
            }
            out.push(start);
        }

        if self.config.enable_task_metrics {
            let mut current = MetricFamily::gauge(
                "node_systemd_unit_tasks_current",
                "Current number of tasks per Systemd unit",
            );
            let mut max = MetricFamily::gauge(
                "node_systemd_unit_tasks_max",
                "Maximum number of tasks per Systemd unit",
            );
            for unit in included.iter().filter(|u| u.name.ends_with(".service")) {
                if let Some(v) = unit.tasks_current.filter(|v| *v != u64::MAX) {
                    current.sample(&[("name", &unit.name)], v as f64);
                }
                if let Some(v) = unit.tasks_max.filter(|v| *v != u64::MAX) {
                    max.sample(&[("name", &unit.name)], v as f64);
                }
            }
            out.push(current);
            out.push(max);
        }

        if version >= MIN_VERSION_SYSTEM_STATE {
            let mut timers = MetricFamily::gauge(
                "node_systemd_timer_last_trigger_seconds",
                "Seconds since epoch of last trigger.",
            );
            for unit in included.iter().filter(|u| u.name.ends_with(".timer")) {
                if let Some(usec) = unit.timer_last_trigger_usec {
                    timers.sample(&[("name", &unit.name)], usec as f64 / 1e6);
                }
            }
            out.push(timers);
        }

        let mut accepted = MetricFamily::counter(
            "node_systemd_socket_accepted_connections_total",
            "Total number of accepted socket connections",
        );
        let mut current = MetricFamily::gauge(
            "node_systemd_socket_current_connections",
            "Current number of socket connections",
        );
        // A gauge in node_exporter, despite its name.
        let mut refused = MetricFamily::gauge(
            "node_systemd_socket_refused_connections_total",
            "Total number of refused socket connections",
        );
        for unit in included.iter().filter(|u| u.name.ends_with(".socket")) {
            let name = [("name", unit.name.as_str())];
            // node_exporter stops at the first figure it cannot read.
            let Some(n) = unit.socket_accepted else {
                continue;
            };
            accepted.sample(&name, f64::from(n));
            let Some(n) = unit.socket_connections else {
                continue;
            };
            current.sample(&name, f64::from(n));
            if let Some(n) = unit.socket_refused {
                refused.sample(&name, f64::from(n));
            }
        }
        out.extend([accepted, current, refused]);

        if version >= MIN_VERSION_SYSTEM_STATE {
            let running = if state.system_state == "running" {
                1.0
            } else {
                0.0
            };
            out.push(
                MetricFamily::gauge(
                    "node_systemd_system_running",
                    "Whether the system is operational (see 'systemctl is-system-running')",
                )
                .with_value(running),
            );
        }
        out.retain(|f| !f.is_empty());
        out
    }
}

sonde_sdk::export!(Systemd);
