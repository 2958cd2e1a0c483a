//! node_exporter's `netdev` collector: `node_network_<counter>_total{device}`.
//!
//! node_exporter 1.12 reads the counters over netlink by default. A plugin cannot open sockets,
//! so the 16 counters come from `/proc/net/dev` (node_exporter's `--no-collector.netdev.netlink`
//! source), whose columns the kernel computes exactly as node_exporter folds the netlink
//! counters; the one counter netlink adds, `receive_nohandler`, is read from
//! `/sys/class/net/<device>/statistics/rx_nohandler` when that file exists. The output is then
//! the netlink default's.

use crate::netns::NetDir;
use sonde_procfs::net_dev;
use sonde_sdk::bundle::Part;
use sonde_sdk::bundle::read_optional;
use sonde_sdk::filter::NameFilter;
use sonde_sdk::{Error, FsError, Host, Level, MetricFamily, Root};

/// `netdev = { … }`: `--collector.netdev` and its `device-include` / `device-exclude` flags.
pub type Config = crate::DeviceFilter;

/// The netdev part.
pub struct Netdev {
    /// Where the `net/…` files are read.
    net: NetDir,
    devices: NameFilter,
}

impl Netdev {
    /// Checks the config: the two patterns compile and are not both set (as node_exporter).
    pub fn new(config: &Config, net: NetDir) -> Result<Self, Error> {
        if !config.device_include.is_empty() && !config.device_exclude.is_empty() {
            return Err(Error::msg(
                "netdev: device_include and device_exclude are mutually exclusive",
            ));
        }
        Ok(Netdev {
            net,
            devices: NameFilter::new(&config.device_include, &config.device_exclude)?,
        })
    }
}

impl Part for Netdev {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(text) = read_optional(host, Root::Proc, &self.net.file("dev"))? else {
            return Ok(());
        };
        let (mut lines, skipped) = net_dev::parse(&text);
        let kept = !lines.is_empty();
        lines.retain(|line| self.devices.kept(&line.name));
        let mut families: Vec<MetricFamily> = net_dev::COLUMNS
            .iter()
            .map(|column| counter_family(column))
            .collect();
        for line in &lines {
            for (family, (_, value)) in families.iter_mut().zip(line.columns()) {
                family.sample(&[("device", &line.name)], value as f64);
            }
        }
        let mut nohandler = counter_family("receive_nohandler");
        let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
        for (device, value) in rx_nohandler(host, &names) {
            nohandler.sample(&[("device", device)], value as f64);
        }
        out.extend(families);
        out.push(nohandler);
        // A malformed line gives no series for its interface, and fails the part.
        skipped.result("/proc/net/dev", kept)
    }
}

/// `node_network_<key>_total`, HELP `Network device statistic <key>.`
fn counter_family(key: &str) -> MetricFamily {
    MetricFamily::counter(
        format!("node_network_{key}_total"),
        format!("Network device statistic {key}."),
    )
}

/// `rx_nohandler` of each device that has it in sysfs. Missing files are skipped silently (old
/// kernels, devices of another network namespace); other errors are logged once.
fn rx_nohandler<'a>(host: &Host, devices: &[&'a str]) -> Vec<(&'a str, u64)> {
    let paths: Vec<String> = devices
        .iter()
        .map(|d| format!("class/net/{d}/statistics/rx_nohandler"))
        .collect();
    let mut out = Vec::new();
    let mut failure = None;
    for ((device, path), result) in devices
        .iter()
        .zip(&paths)
        .zip(host.read_many(Root::Sys, &paths))
    {
        let text = match result {
            Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
            Err(FsError::NotFound) => continue,
            Err(e) => {
                failure.get_or_insert(format!("reading /sys/{path}: {e}"));
                continue;
            }
        };
        match text.parse() {
            Ok(value) => out.push((*device, value)),
            Err(e) => {
                failure.get_or_insert(format!("/sys/{path}: {text:?}: {e}"));
            }
        }
    }
    if let Some(message) = failure {
        host.log(
            Level::Warn,
            &format!("netdev: receive_nohandler: {message}"),
        );
    }
    out
}
