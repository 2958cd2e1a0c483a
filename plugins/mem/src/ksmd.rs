//! node_exporter's `ksmd` collector: the kernel same-page merging daemon's state, from
//! `/sys/kernel/mm/ksm/*` (node_exporter master after 1.12.1, whose e2e output this matches: a
//! file the kernel does not have is skipped, `general_profit` is reported).

use sonde_sdk::bundle::Part;
use sonde_sdk::{Error, FsError, Host, MetricFamily, MetricKind, Root};

/// The ksmd part.
pub struct Ksmd;

/// The files: name, family, HELP, type and the divisor to base units.
type File = (&'static str, &'static str, &'static str, MetricKind, f64);

const FILES: [File; 10] = [
    (
        "full_scans",
        "node_ksmd_full_scans_total",
        "How many times all mergeable areas have been scanned.",
        MetricKind::Counter,
        1.0,
    ),
    (
        "general_profit",
        "node_ksmd_general_profit_bytes",
        "How effective is KSM. ksm_saved_pages * sizeof(page) - (all_rmap_items) * sizeof(rmap_item)",
        MetricKind::Gauge,
        1.0,
    ),
    (
        "merge_across_nodes",
        "node_ksmd_merge_across_nodes",
        "Specifies if pages from different NUMA nodes can be merged.",
        MetricKind::Gauge,
        1.0,
    ),
    (
        "pages_shared",
        "node_ksmd_pages_shared",
        "How many shared pages are being used.",
        MetricKind::Gauge,
        1.0,
    ),
    (
        "pages_sharing",
        "node_ksmd_pages_sharing",
        "How many more sites are sharing them i.e. how much saved.",
        MetricKind::Gauge,
        1.0,
    ),
    (
        "pages_to_scan",
        "node_ksmd_pages_to_scan",
        "How many pages to scan before ksmd goes to sleep.",
        MetricKind::Gauge,
        1.0,
    ),
    (
        "pages_unshared",
        "node_ksmd_pages_unshared",
        "How many pages unique but repeatedly checked for merging.",
        MetricKind::Gauge,
        1.0,
    ),
    (
        "pages_volatile",
        "node_ksmd_pages_volatile",
        "How many pages changing too fast to be placed in a tree.",
        MetricKind::Gauge,
        1.0,
    ),
    (
        "run",
        "node_ksmd_run",
        "The status of ksmd. stopped = 0, running = 1",
        MetricKind::Gauge,
        1.0,
    ),
    (
        "sleep_millisecs",
        "node_ksmd_sleep_seconds",
        "How many seconds ksmd should sleep before next scan.",
        MetricKind::Gauge,
        1000.0,
    ),
];

impl Part for Ksmd {
    /// Appends a family per file the kernel has, all read in one host call; a kernel without
    /// KSM has none and gets nothing. A file that does not hold an integer is left out and fails
    /// the part. `general_profit` may be negative (the kernel prints a signed number, which
    /// node_exporter fails to parse as unsigned); the others are unsigned.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let paths: Vec<String> = FILES
            .iter()
            .map(|(file, ..)| format!("kernel/mm/ksm/{file}"))
            .collect();
        let mut failures = Vec::new();
        for ((file, name, help, kind, divisor), read) in
            FILES.iter().zip(host.read_many(Root::Sys, &paths))
        {
            let bytes = match read {
                Ok(bytes) => bytes,
                Err(FsError::NotFound) => continue,
                Err(e) => {
                    failures.push(format!("/sys/kernel/mm/ksm/{file}: {e}"));
                    continue;
                }
            };
            let text = String::from_utf8_lossy(&bytes);
            let text = text.trim();
            let value = if *file == "general_profit" {
                text.parse::<i64>()
                    .map(|v| v as f64)
                    .map_err(|e| e.to_string())
            } else {
                text.parse::<u64>()
                    .map(|v| v as f64)
                    .map_err(|e| e.to_string())
            };
            match value {
                Ok(value) => {
                    out.push(MetricFamily::new(*name, *help, *kind).with_value(value / divisor))
                }
                Err(e) => failures.push(format!("/sys/kernel/mm/ksm/{file}: {text:?}: {e}")),
            }
        }
        match failures.len() {
            0 => Ok(()),
            1 => Err(Error::msg(failures.remove(0))),
            n => Err(Error::msg(format!(
                "{} (and {} more files)",
                failures[0],
                n - 1
            ))),
        }
    }
}
