//! node_exporter's `swap` collector: size, use and priority of each swap area in `/proc/swaps`.
//!
//! The `device` label is the path as the kernel prints it, with its octal escapes (`\040` for a
//! space, `\134` for a backslash, `\012` for a newline), as node_exporter reports it.

use rustc_hash::FxHashSet;
use sonde_procfs::swaps;
use sonde_sdk::bundle::{Part, read_optional};
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// The swap part.
pub struct Swap;

impl Part for Swap {
    /// Appends `node_swap_{size_bytes,used_bytes,priority}{device,swap_type}`. A malformed line
    /// is left out and fails the part; an area listed twice is reported once.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(text) = read_optional(host, Root::Proc, "swaps")? else {
            return Ok(());
        };
        let (areas, skipped) = swaps::parse(&text);
        let mut size = MetricFamily::gauge("node_swap_size_bytes", "Swap device size in bytes.");
        let mut used = MetricFamily::gauge("node_swap_used_bytes", "Swap device used in bytes.");
        let mut priority = MetricFamily::gauge("node_swap_priority", "Swap device priority.");
        let mut seen = FxHashSet::default();
        for area in &areas {
            if !seen.insert((area.filename, area.kind)) {
                continue;
            }
            let labels = [("device", area.filename), ("swap_type", area.kind)];
            // The kernel prints KiB; node_exporter multiplies by 1024.
            size.sample(&labels, area.size_kib as f64 * 1024.0);
            used.sample(&labels, area.used_kib as f64 * 1024.0);
            priority.sample(&labels, area.priority as f64);
        }
        out.extend([size, used, priority]);
        skipped.result("/proc/swaps", !areas.is_empty())
    }
}
