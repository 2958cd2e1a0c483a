//! node_exporter's `arp` collector: `node_arp_entries{device}`, the number of IPv4 neighbour
//! entries per interface.
//!
//! node_exporter 1.12 counts them over netlink by default; a plugin cannot open sockets, so this
//! reads `/proc/net/arp` as node_exporter does with `--no-collector.arp.netlink`. Both count the
//! same entries (the file hides the `NOARP` ones, which netlink mode skips).

use crate::netns::NetDir;
use sonde_procfs::arp;
use sonde_sdk::bundle::Part;
use sonde_sdk::bundle::read_optional;
use sonde_sdk::filter::NameFilter;
use sonde_sdk::{Error, Host, MetricFamily, Root};
use std::collections::BTreeMap;

/// `arp = { … }`: `--collector.arp` and its `device-include` / `device-exclude` flags.
pub type Config = crate::DeviceFilter;

/// The arp part.
pub struct Arp {
    /// Where the `net/…` files are read.
    net: NetDir,
    devices: NameFilter,
}

impl Arp {
    /// Checks the config's patterns (node_exporter applies both when both are set).
    pub fn new(config: &Config, net: NetDir) -> Result<Self, Error> {
        Ok(Arp {
            net,
            devices: NameFilter::new(&config.device_include, &config.device_exclude)?,
        })
    }
}

impl Part for Arp {
    /// Any malformed line fails the part with no counts: it would have counted for a device.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(text) = read_optional(host, Root::Proc, &self.net.file("arp"))? else {
            return Ok(());
        };
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        for entry in arp::parse(&text)? {
            *counts.entry(entry.device).or_default() += 1;
        }
        let mut family = MetricFamily::gauge("node_arp_entries", "ARP entries by device");
        for (device, count) in counts.iter().filter(|(d, _)| self.devices.kept(d)) {
            family.sample(&[("device", device)], *count as f64);
        }
        out.push(family);
        Ok(())
    }
}
