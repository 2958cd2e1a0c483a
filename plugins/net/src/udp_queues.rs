//! node_exporter's `udp_queues` collector: `node_udp_queues{ip,queue}`, the bytes queued in UDP
//! sockets, from `/proc/net/udp` and `/proc/net/udp6`.

use crate::netns::NetDir;
use sonde_procfs::udp;
use sonde_sdk::bundle::Part;
use sonde_sdk::bundle::read_optional;
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// The udp_queues part.
pub struct UdpQueues {
    /// Where the `net/…` files are read.
    pub net: NetDir,
}

impl Part for UdpQueues {
    /// A malformed socket line gives no sums for its file (they would miss that socket) and
    /// fails the part; the other file's sums are kept.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let mut family = MetricFamily::gauge(
            "node_udp_queues",
            "Number of allocated memory in the kernel for UDP datagrams in bytes.",
        );
        let mut result = Ok(());
        for (name, ip) in [("udp", "v4"), ("udp6", "v6")] {
            let file = self.net.file(name);
            let Some(text) = read_optional(host, Root::Proc, &file)? else {
                continue;
            };
            match udp::summarize(&text) {
                Ok(summary) => {
                    family.sample(&[("queue", "tx"), ("ip", ip)], summary.tx_queue as f64);
                    family.sample(&[("queue", "rx"), ("ip", ip)], summary.rx_queue as f64);
                }
                Err(e) => {
                    result = result.and(Err(e.context(format!("/proc/{file}"))));
                }
            }
        }
        out.push(family);
        result
    }
}
