//! node_exporter's `conntrack` collector: `node_nf_conntrack_*` gauges from
//! `/proc/sys/net/netfilter/nf_conntrack_{count,max}` and `/proc/net/stat/nf_conntrack`.
//!
//! As in node_exporter, the three sources are read in order and the first that is missing
//! (conntrack not loaded, or built without its proc statistics) ends the collection quietly.
//!
//! `/proc/sys` answers for the reader's network namespace, and has no per-pid copy: with
//! `netns = "host"` the entry count is the `entries` column of the host's
//! `<procfs>/1/net/stat/nf_conntrack` (the same per-namespace count the kernel prints in both),
//! and the limit, which is global, comes from `/proc/sys` as before.

use crate::netns::NetDir;
use sonde_procfs::conntrack::{self, ConntrackStat};
use sonde_sdk::bundle::Part;
use sonde_sdk::bundle::read_optional;
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// The conntrack part.
pub struct Conntrack {
    /// Where the `net/…` files are read.
    pub net: NetDir,
}

/// The `stat_*` families: name, HELP and the column summed over CPUs.
type Stat = (&'static str, &'static str, fn(&ConntrackStat) -> u64);

const STATS: [Stat; 8] = [
    (
        "node_nf_conntrack_stat_found",
        "Number of searched entries which were successful.",
        |s| s.found,
    ),
    (
        "node_nf_conntrack_stat_invalid",
        "Number of packets seen which can not be tracked.",
        |s| s.invalid,
    ),
    (
        "node_nf_conntrack_stat_ignore",
        "Number of packets seen which are already connected to a conntrack entry.",
        |s| s.ignore,
    ),
    (
        "node_nf_conntrack_stat_insert",
        "Number of entries inserted into the list.",
        |s| s.insert,
    ),
    (
        "node_nf_conntrack_stat_insert_failed",
        "Number of entries for which list insertion was attempted but failed.",
        |s| s.insert_failed,
    ),
    (
        "node_nf_conntrack_stat_drop",
        "Number of packets dropped due to conntrack failure.",
        |s| s.drop,
    ),
    (
        "node_nf_conntrack_stat_early_drop",
        "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.",
        |s| s.early_drop,
    ),
    (
        "node_nf_conntrack_stat_search_restart",
        "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
        |s| s.search_restart,
    ),
];

/// `node_nf_conntrack_entries`.
fn entries_family(entries: u64) -> MetricFamily {
    MetricFamily::gauge(
        "node_nf_conntrack_entries",
        "Number of currently allocated flow entries for connection tracking.",
    )
    .with_value(entries as f64)
}

/// The number in a `/proc/sys` file, `None` when it is missing.
fn read_number(host: &Host, file: &str) -> Result<Option<u64>, Error> {
    let Some(text) = read_optional(host, Root::Proc, file)? else {
        return Ok(None);
    };
    let value = text
        .trim()
        .parse()
        .map_err(|e| Error::msg(format!("/proc/{file}: {text:?}: {e}")))?;
    Ok(Some(value))
}

impl Part for Conntrack {
    /// A malformed line of the per-CPU statistics fails the part without any of their sums (each
    /// would miss that CPU); the entry counts are kept.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        if !self.net.is_host() {
            let Some(entries) = read_number(host, "sys/net/netfilter/nf_conntrack_count")? else {
                return Ok(());
            };
            out.push(entries_family(entries));
        }
        let Some(limit) = read_number(host, "sys/net/netfilter/nf_conntrack_max")? else {
            return Ok(());
        };
        out.push(
            MetricFamily::gauge(
                "node_nf_conntrack_entries_limit",
                "Maximum size of connection tracking table.",
            )
            .with_value(limit as f64),
        );
        let Some(text) = read_optional(host, Root::Proc, &self.net.file("stat/nf_conntrack"))?
        else {
            return Ok(());
        };
        let per_cpu = conntrack::parse(&text)?;
        if self.net.is_host() {
            // Every CPU's line carries the namespace's count.
            out.push(entries_family(per_cpu.first().map_or(0, |s| s.entries)));
        }
        for (name, help, column) in STATS {
            let sum = per_cpu
                .iter()
                .fold(0u64, |sum, s| sum.wrapping_add(column(s)));
            out.push(MetricFamily::gauge(name, help).with_value(sum as f64));
        }
        Ok(())
    }
}
