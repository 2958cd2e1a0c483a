//! sonde's built-in `net` collector: node_exporter's network collectors `netdev`, `netclass`,
//! `netstat`, `sockstat`, `softnet`, `arp`, `conntrack` and `udp_queues`, with the same metric
//! names, labels, HELP and TYPE. Each is a section of the config that can be turned off.
//!
//! Where node_exporter 1.12 asks the kernel over netlink by default (netdev, arp), this plugin
//! reads the files node_exporter reads with `--no-collector.<name>.netlink`; see [`netdev`] and
//! [`arp`].

pub mod arp;
pub mod conntrack;
pub mod netclass;
pub mod netdev;
pub mod netstat;
pub mod sockstat;
pub mod softnet;
pub mod udp_queues;

use serde::{Deserialize, Serialize};
use sonde_sdk::bundle::Bundle;
use sonde_sdk::{Capability, Collector, Description, Error, Host, MetricFamily};

/// The `net` collector: its enabled parts, built from the config.
pub struct Net {
    parts: Vec<Named>,
}

/// `[plugins.net] config = { … }`: one table per node_exporter collector, with its flags'
/// defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
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
}

/// The config of a collector that has no flags besides being on or off.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Toggle {
    /// Run it (`--collector.<name>`, on by default).
    pub enabled: bool,
}

impl Default for Toggle {
    fn default() -> Self {
        Toggle { enabled: true }
    }
}

/// One of the collectors this plugin bundles, ready to run (its config checked).
pub trait Part {
    /// Collects once, appending to `out`. Files that do not exist on this kernel yield no
    /// families, not an error; a malformed line is left out and fails the part, after what
    /// could be read was appended.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error>;
}

impl Collector for Net {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "net",
            env!("CARGO_PKG_VERSION"),
            "network devices and protocols: traffic, link state, TCP/UDP counters, sockets, ARP, conntrack",
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
        let mut bundle = Bundle::new(host);
        for (name, part) in &self.parts {
            bundle.run(name, |out| part.collect(host, out));
        }
        bundle.finish()
    }
}

/// A part with its name, for logs.
type Named = (&'static str, Box<dyn Part>);

/// The enabled parts. An invalid pattern in the config is an error here, when the collector is
/// built.
fn parts(config: &Config) -> Result<Vec<Named>, Error> {
    let mut parts: Vec<Named> = Vec::new();
    if config.netdev.enabled {
        parts.push(("netdev", Box::new(netdev::Netdev::new(&config.netdev)?)));
    }
    if config.netclass.enabled {
        parts.push((
            "netclass",
            Box::new(netclass::NetClass::new(&config.netclass)?),
        ));
    }
    if config.netstat.enabled {
        parts.push(("netstat", Box::new(netstat::Netstat::new(&config.netstat)?)));
    }
    if config.sockstat.enabled {
        parts.push(("sockstat", Box::new(sockstat::Sockstat)));
    }
    if config.softnet.enabled {
        parts.push(("softnet", Box::new(softnet::Softnet)));
    }
    if config.arp.enabled {
        parts.push(("arp", Box::new(arp::Arp::new(&config.arp)?)));
    }
    if config.conntrack.enabled {
        parts.push(("conntrack", Box::new(conntrack::Conntrack)));
    }
    if config.udp_queues.enabled {
        parts.push(("udp_queues", Box::new(udp_queues::UdpQueues)));
    }
    Ok(parts)
}

sonde_sdk::export!(Net);
