//! node_exporter's `udp_queues` collector: `node_udp_queues{ip,queue}`, the bytes queued in UDP
//! sockets, from `/proc/net/udp` and `/proc/net/udp6`.

use crate::Part;
use sonde_sdk::bundle::read_optional;
use sonde_sdk::procfs::udp;
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// The udp_queues part.
pub struct UdpQueues;

impl Part for UdpQueues {
    fn collect(&self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        let mut family = MetricFamily::gauge(
            "node_udp_queues",
            "Number of allocated memory in the kernel for UDP datagrams in bytes.",
        );
        for (file, ip) in [("net/udp", "v4"), ("net/udp6", "v6")] {
            let Some(text) = read_optional(host, Root::Proc, file)? else {
                continue;
            };
            let summary = udp::summarize(&text).map_err(|e| e.context(format!("/proc/{file}")))?;
            family.sample(&[("queue", "tx"), ("ip", ip)], summary.tx_queue as f64);
            family.sample(&[("queue", "rx"), ("ip", ip)], summary.rx_queue as f64);
        }
        Ok(vec![family])
    }
}
