//! node_exporter's `selinux` collector: whether SELinux is on, its current mode
//! (`/sys/fs/selinux/enforce`) and the mode configured for boot (`SELINUX=` in
//! `/etc/selinux/config` of the rootfs). Modes are go-selinux's: 1 enforcing, 0 permissive,
//! -1 disabled.
//!
//! node_exporter (go-selinux) calls SELinux enabled when a writable selinuxfs is mounted (found
//! with `statfs` at `/sys/fs/selinux`, else in `/proc/self/mountinfo`) and its own process label
//! is not `kernel`. A plugin cannot `statfs` sysfs nor see the agent's label, so here SELinux is
//! enabled when `/sys/fs/selinux/enforce` exists.

use sonde_sdk::bundle::read_optional;
use sonde_sdk::{Error, Host, MetricFamily, Root};

const ENFORCE: &str = "fs/selinux/enforce";
const CONFIG: &str = "etc/selinux/config";

/// go-selinux's `readConfig("SELINUX")` and `DefaultEnforceMode`: the first `SELINUX=` line that
/// is not a comment (`#`, `;`), quotes trimmed; `enforcing` 1, `permissive` 0, anything else
/// (or no line) -1.
pub fn config_mode(config: &str) -> i64 {
    let value = config
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(['#', ';']))
        .find_map(|l| l.split_once('=').filter(|(key, _)| *key == "SELINUX"))
        .map(|(_, value)| value.trim_matches('"'));
    match value {
        Some("enforcing") => 1,
        Some("permissive") => 0,
        _ => -1,
    }
}

/// Appends `node_selinux_enabled` (0 without SELinux, and nothing else then), and with SELinux
/// `node_selinux_config_mode` and `node_selinux_current_mode`.
pub fn collect(host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let enabled = MetricFamily::gauge(
        "node_selinux_enabled",
        "SELinux is enabled, 1 is true, 0 is false",
    );
    let Some(enforce) = read_optional(host, Root::Sys, ENFORCE)? else {
        out.push(enabled.with_value(0.0));
        return Ok(());
    };
    out.push(enabled.with_value(1.0));
    let config = read_optional(host, Root::Rootfs, CONFIG)?.unwrap_or_default();
    out.push(
        MetricFamily::gauge(
            "node_selinux_config_mode",
            "Configured SELinux enforcement mode",
        )
        .with_value(config_mode(&config) as f64),
    );
    let current: i64 = enforce
        .trim()
        .parse()
        .map_err(|e| Error::msg(format!("/sys/{ENFORCE}: {:?}: {e}", enforce.trim())))?;
    out.push(
        MetricFamily::gauge(
            "node_selinux_current_mode",
            "Current SELinux enforcement mode",
        )
        .with_value(current as f64),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::config_mode;

    #[test]
    fn modes_of_the_config_file() {
        assert_eq!(
            config_mode("# x\nSELINUX=enforcing\nSELINUXTYPE=targeted\n"),
            1
        );
        assert_eq!(config_mode("  SELINUX=\"permissive\"  \n"), 0);
        assert_eq!(config_mode("SELINUX=disabled\n"), -1);
        assert_eq!(config_mode("#SELINUX=enforcing\n;SELINUX=permissive\n"), -1);
        assert_eq!(
            config_mode("SELINUX = enforcing\n"),
            -1,
            "go-selinux compares the key as is"
        );
        assert_eq!(
            config_mode("SELINUX=permissive\nSELINUX=enforcing\n"),
            0,
            "first wins"
        );
        assert_eq!(config_mode(""), -1);
    }
}
