//! node_exporter's `buddyinfo` collector: free blocks of each order per zone, from
//! `/proc/buddyinfo`.

use rustc_hash::FxHashSet;
use sonde_procfs::buddyinfo;
use sonde_sdk::bundle::{Part, read_optional};
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// The buddyinfo part.
pub struct Buddyinfo;

impl Part for Buddyinfo {
    /// Appends `node_buddyinfo_blocks{node,zone,size}`. A malformed line is left out and fails
    /// the part; a zone printed twice is reported once, from its first line (client_golang
    /// drops the repeated series).
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(text) = read_optional(host, Root::Proc, "buddyinfo")? else {
            return Ok(());
        };
        let (zones, skipped) = buddyinfo::parse(&text);
        let mut family = MetricFamily::gauge(
            "node_buddyinfo_blocks",
            "Count of free blocks according to size.",
        );
        let mut seen = FxHashSet::default();
        for zone in &zones {
            if !seen.insert((zone.node, zone.zone)) {
                continue;
            }
            for (size, blocks) in zone.sizes.iter().enumerate() {
                family.sample(
                    &[
                        ("node", zone.node),
                        ("zone", zone.zone),
                        ("size", &size.to_string()),
                    ],
                    *blocks,
                );
            }
        }
        out.push(family);
        skipped.result("/proc/buddyinfo", !zones.is_empty())
    }
}
