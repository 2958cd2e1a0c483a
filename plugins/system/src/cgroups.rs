//! node_exporter's `cgroups` collector: per controller, its number of cgroups and whether it is
//! enabled, from `/proc/cgroups`.

use sonde_procfs::Skipped;
use sonde_sdk::bundle::read_optional;
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// One controller line of `/proc/cgroups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    /// `subsys_name`.
    pub name: String,
    /// `num_cgroups`.
    pub cgroups: i64,
    /// `enabled` (1 or 0).
    pub enabled: i64,
}

/// The controller lines (`#` lines are comments). A line with fewer than four fields, a field
/// that is not a number (procfs fails the whole file on either) or a controller seen before is
/// left out.
pub fn parse(text: &str) -> (Vec<Controller>, Skipped) {
    let mut out: Vec<Controller> = Vec::new();
    let mut skipped = Skipped::default();
    for (index, line) in text.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let problem = if fields.len() < 4 {
            format!("{} fields, expected 4", fields.len())
        } else {
            match (
                fields[1].parse::<i64>(),
                fields[2].parse::<i64>(),
                fields[3].parse::<i64>(),
            ) {
                (Ok(_), Ok(cgroups), Ok(enabled)) => {
                    if out.iter().any(|c| c.name == fields[0]) {
                        format!("controller {:?} seen before", fields[0])
                    } else {
                        out.push(Controller {
                            name: fields[0].to_owned(),
                            cgroups,
                            enabled,
                        });
                        continue;
                    }
                }
                _ => "not a number".to_owned(),
            }
        };
        skipped.line(index + 1, format!("{problem} in line {line:?}"));
    }
    (out, skipped)
}

/// Appends `node_cgroups_cgroups` and `node_cgroups_enabled`; nothing when the kernel has no
/// `/proc/cgroups`.
pub fn collect(host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let Some(text) = read_optional(host, Root::Proc, "cgroups")? else {
        return Ok(());
    };
    let (controllers, skipped) = parse(&text);
    let mut cgroups = MetricFamily::gauge(
        "node_cgroups_cgroups",
        "Current cgroup number of the subsystem.",
    );
    // node_exporter's HELP for both families is the same.
    let mut enabled = MetricFamily::gauge(
        "node_cgroups_enabled",
        "Current cgroup number of the subsystem.",
    );
    for c in &controllers {
        let labels = [("subsys_name", c.name.as_str())];
        cgroups.sample(&labels, c.cgroups as f64);
        enabled.sample(&labels, c.enabled as f64);
    }
    out.extend([cgroups, enabled]);
    skipped.result("/proc/cgroups", !controllers.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controllers_and_malformed_lines() {
        let (c, skipped) = parse(
            "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t3\t172\t1\nio 0 1\nmemory x 1 1\n\
             cpu 1 2 0\nrdma 4 1 0 extra\n",
        );
        assert_eq!(
            c,
            [
                Controller {
                    name: "cpu".into(),
                    cgroups: 172,
                    enabled: 1
                },
                Controller {
                    name: "rdma".into(),
                    cgroups: 1,
                    enabled: 0
                },
            ]
        );
        assert_eq!(skipped.count(), 3);
    }
}
