//! node_exporter's `softnet` collector: per-CPU packet processing counters from
//! `/proc/net/softnet_stat`.

use crate::netns::NetDir;
use sonde_procfs::softnet::{self, SoftnetStat};
use sonde_sdk::bundle::Part;
use sonde_sdk::bundle::read_optional;
use sonde_sdk::{Error, Host, MetricFamily, MetricKind, Root};

/// The softnet part.
pub struct Softnet {
    /// Where the `net/…` files are read.
    pub net: NetDir,
}

/// The families: name, HELP, type and the column's value.
type Column = (
    &'static str,
    &'static str,
    MetricKind,
    fn(&SoftnetStat) -> u32,
);

const COLUMNS: [Column; 7] = [
    (
        "node_softnet_processed_total",
        "Number of processed packets",
        MetricKind::Counter,
        |s| s.processed,
    ),
    (
        "node_softnet_dropped_total",
        "Number of dropped packets",
        MetricKind::Counter,
        |s| s.dropped,
    ),
    (
        "node_softnet_times_squeezed_total",
        "Number of times processing packets ran out of quota",
        MetricKind::Counter,
        |s| s.time_squeezed,
    ),
    (
        "node_softnet_cpu_collision_total",
        "Number of collision occur while obtaining device lock while transmitting",
        MetricKind::Counter,
        |s| s.cpu_collision,
    ),
    (
        "node_softnet_received_rps_total",
        "Number of times cpu woken up received_rps",
        MetricKind::Counter,
        |s| s.received_rps,
    ),
    (
        "node_softnet_flow_limit_count_total",
        "Number of times flow limit has been reached",
        MetricKind::Counter,
        |s| s.flow_limit_count,
    ),
    (
        "node_softnet_backlog_len",
        "Softnet backlog status",
        MetricKind::Gauge,
        |s| s.backlog_len,
    ),
];

impl Part for Softnet {
    /// A malformed line is left out (no series for that CPU) and fails the part.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(text) = read_optional(host, Root::Proc, &self.net.file("softnet_stat"))? else {
            return Ok(());
        };
        let (stats, skipped) = softnet::parse(&text);
        out.extend(COLUMNS.iter().map(|(name, help, kind, value)| {
            let mut family = MetricFamily::new(*name, *help, *kind);
            for stat in &stats {
                family.sample(&[("cpu", &stat.cpu.to_string())], value(stat) as f64);
            }
            family
        }));
        skipped.result("/proc/net/softnet_stat", !stats.is_empty())
    }
}
