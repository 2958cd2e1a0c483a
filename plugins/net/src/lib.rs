//! sonde's built-in `net` collector: node_exporter's network collectors `netdev`, `netclass`,
//! `netstat`, `sockstat`, `softnet`, `arp`, `conntrack`, `udp_queues`, `bonding`, `infiniband`
//! and `ipvs`, and its optional `xfrm` and `lnstat` (off unless enabled), with the same metric
//! names, labels, HELP and TYPE. Each is a section of the config that can be turned off (or on).
//!
//! `netns` picks the network namespace the `/proc/net` figures describe: in a container given the
//! host's `/proc`, the host's (see [`netns`]), so no `hostNetwork: true` is needed.
//!
//! Where node_exporter 1.12 asks the kernel over netlink by default (netdev, arp), this plugin
//! reads the files node_exporter reads with `--no-collector.<name>.netlink`; see [`netdev`] and
//! [`arp`].

pub mod arp;
pub mod bonding;
pub mod conntrack;
pub mod infiniband;
pub mod ipvs;
pub mod lnstat;
pub mod netclass;
pub mod netdev;
pub mod netns;
pub mod netstat;
pub mod sockstat;
pub mod softnet;
pub mod udp_queues;
pub mod xfrm;

use netns::{NetDir, NetNs};
use serde::{Deserialize, Serialize};
use sonde_sdk::bundle::{Parts, Toggle};
use sonde_sdk::{Capability, Collector, Description, Error, Host, MetricFamily};

/// The `net` collector: its enabled parts, built from the config.
pub struct Net {
    parts: Parts,
}

/// `[plugins.net] config = { … }`: one table per node_exporter collector, with its flags'
/// defaults.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The network namespace of the `/proc/net` files: `"host"` (`<procfs>/1/net`), `"self"`
    /// (`<procfs>/net`, node_exporter's), or `"auto"`: host when the agent's procfs root is not
    /// `/proc` and has a pid 1 (the host's `/proc` mounted in a container), self otherwise.
    pub netns: NetNs,
    /// node_exporter's `netdev` collector.
    pub netdev: netdev::Config,
    /// node_exporter's `netclass` collector.
    pub netclass: netclass::Config,
    /// node_exporter's `netstat` collector.
    pub netstat: netstat::Config,
    /// node_exporter's `sockstat` collector.
    pub sockstat: Toggle,
    /// node_exporter's `softnet` collector.
    pub softnet: Toggle,
    /// node_exporter's `arp` collector.
    pub arp: arp::Config,
    /// node_exporter's `conntrack` collector.
    pub conntrack: Toggle,
    /// node_exporter's `udp_queues` collector.
    pub udp_queues: Toggle,
    /// node_exporter's `bonding` collector.
    pub bonding: Toggle,
    /// node_exporter's `infiniband` collector.
    pub infiniband: infiniband::Config,
    /// node_exporter's `ipvs` collector.
    pub ipvs: ipvs::Config,
    /// node_exporter's `xfrm` collector (off by default).
    pub xfrm: Toggle,
    /// node_exporter's `lnstat` collector (off by default).
    pub lnstat: Toggle,
}

impl Default for Config {
    /// node_exporter's defaults: every collector on but its optional `xfrm` and `lnstat`.
    fn default() -> Self {
        Config {
            netns: NetNs::Auto,
            netdev: Default::default(),
            netclass: Default::default(),
            netstat: Default::default(),
            sockstat: Toggle::ON,
            softnet: Toggle::ON,
            arp: Default::default(),
            conntrack: Toggle::ON,
            udp_queues: Toggle::ON,
            bonding: Toggle::ON,
            infiniband: Default::default(),
            ipvs: Default::default(),
            xfrm: Toggle::OFF,
            lnstat: Toggle::OFF,
        }
    }
}

/// The config of a collector that filters network devices by name (netdev, arp, infiniband):
/// `--collector.<name>`, `--collector.<name>.device-include` and `.device-exclude`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceFilter {
    /// Run it (on).
    pub enabled: bool,
    /// Only devices matching this regex (unset).
    pub device_include: String,
    /// Not devices matching this regex (unset).
    pub device_exclude: String,
}

impl Default for DeviceFilter {
    fn default() -> Self {
        DeviceFilter {
            enabled: true,
            device_include: String::new(),
            device_exclude: String::new(),
        }
    }
}

impl Collector for Net {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "net",
            env!("CARGO_PKG_VERSION"),
            "network devices and protocols: traffic, link state, TCP/UDP counters, sockets, ARP, conntrack, bonding, InfiniBand, IPVS",
        )
        .needs(&[Capability::Proc, Capability::Sys])
    }

    /// Runs every enabled part. A part that fails is logged and the others' output kept; the
    /// collection fails only when parts failed and nothing was collected.
    fn new(config: Config) -> Result<Self, Error> {
        Ok(Net {
            parts: parts(&config)?,
        })
    }

    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        self.parts.collect(host)
    }
}

/// The enabled parts. An invalid pattern in the config is an error here, when the collector is
/// built.
fn parts(config: &Config) -> Result<Parts, Error> {
    let net = NetDir::of(config.netns);
    let mut parts = Parts::default();
    parts.add_if(config.netdev.enabled, "netdev", || {
        netdev::Netdev::new(&config.netdev, net)
    })?;
    parts.add_if(config.netclass.enabled, "netclass", || {
        netclass::NetClass::new(&config.netclass)
    })?;
    parts.add_if(config.netstat.enabled, "netstat", || {
        netstat::Netstat::new(&config.netstat, net)
    })?;
    parts.add_if(config.sockstat.enabled, "sockstat", || {
        Ok(sockstat::Sockstat { net })
    })?;
    parts.add_if(config.softnet.enabled, "softnet", || {
        Ok(softnet::Softnet { net })
    })?;
    parts.add_if(config.arp.enabled, "arp", || {
        arp::Arp::new(&config.arp, net)
    })?;
    parts.add_if(config.conntrack.enabled, "conntrack", || {
        Ok(conntrack::Conntrack { net })
    })?;
    parts.add_if(config.udp_queues.enabled, "udp_queues", || {
        Ok(udp_queues::UdpQueues { net })
    })?;
    parts.add_if(config.bonding.enabled, "bonding", || Ok(bonding::Bonding))?;
    parts.add_if(config.infiniband.enabled, "infiniband", || {
        infiniband::InfiniBand::new(&config.infiniband)
    })?;
    parts.add_if(config.ipvs.enabled, "ipvs", || {
        ipvs::Ipvs::new(&config.ipvs, net)
    })?;
    parts.add_if(config.xfrm.enabled, "xfrm", || Ok(xfrm::Xfrm { net }))?;
    parts.add_if(config.lnstat.enabled, "lnstat", || {
        Ok(lnstat::Lnstat::new(net))
    })?;
    Ok(parts)
}

sonde_sdk::export!(Net);
