//! node_exporter's `zoneinfo` collector: per-zone page counters from `/proc/zoneinfo`. The
//! node-wide counters the kernel prints under a node's first zone (`per-node stats`) are
//! reported with that zone's labels, as node_exporter does.

use rustc_hash::FxHashSet;
use sonde_procfs::zoneinfo::{self, FIELDS};
use sonde_sdk::bundle::{Part, read_optional};
use sonde_sdk::{Error, Host, MetricFamily, MetricKind, Root};

/// The zoneinfo part.
pub struct Zoneinfo;

/// Family name, HELP and type of each of procfs' [`FIELDS`], in that order.
const FAMILIES: [(&str, &str, MetricKind); 34] = {
    use MetricKind::{Counter as C, Gauge as G};
    [
        ("nr_free_pages", "Total number of free pages in the zone", G),
        ("min_pages", "Zone watermark pages_min", G),
        ("low_pages", "Zone watermark pages_low", G),
        ("high_pages", "Zone watermark pages_high", G),
        ("scanned_pages", "Pages scanned since last reclaim", G),
        (
            "spanned_pages",
            "Total pages spanned by the zone, including holes",
            G,
        ),
        (
            "present_pages",
            "Physical pages existing within the zone",
            G,
        ),
        (
            "managed_pages",
            "Present pages managed by the buddy system",
            G,
        ),
        (
            "nr_active_anon_pages",
            "Number of anonymous pages recently more used",
            G,
        ),
        (
            "nr_inactive_anon_pages",
            "Number of anonymous pages recently less used",
            G,
        ),
        (
            "nr_isolated_anon_pages",
            "Temporary isolated pages from anon lru",
            G,
        ),
        (
            "nr_anon_pages",
            "Number of anonymous pages currently used by the system",
            G,
        ),
        (
            "nr_anon_transparent_hugepages",
            "Number of anonymous transparent huge pages currently used by the system",
            G,
        ),
        (
            "nr_active_file_pages",
            "Number of active pages with file-backing",
            G,
        ),
        (
            "nr_inactive_file_pages",
            "Number of inactive pages with file-backing",
            G,
        ),
        (
            "nr_isolated_file_pages",
            "Temporary isolated pages from file lru",
            G,
        ),
        ("nr_file_pages", "Number of file pages", G),
        (
            "nr_slab_reclaimable_pages",
            "Number of reclaimable slab pages",
            G,
        ),
        (
            "nr_slab_unreclaimable_pages",
            "Number of unreclaimable slab pages",
            G,
        ),
        (
            "nr_mlock_stack_pages",
            "mlock()ed pages found and moved off LRU",
            G,
        ),
        ("nr_kernel_stacks", "Number of kernel stacks", G),
        ("nr_mapped_pages", "Number of mapped pages", G),
        ("nr_dirty_pages", "Number of dirty pages", G),
        ("nr_writeback_pages", "Number of writeback pages", G),
        ("nr_unevictable_pages", "Number of unevictable pages", G),
        (
            "nr_shmem_pages",
            "Number of shmem pages (included tmpfs/GEM pages)",
            G,
        ),
        ("nr_dirtied_total", "Page dirtyings since bootup", C),
        ("nr_written_total", "Page writings since bootup", C),
        ("numa_hit_total", "Allocated in intended node", C),
        ("numa_miss_total", "Allocated in non intended node", C),
        ("numa_foreign_total", "Was intended here, hit elsewhere", C),
        (
            "numa_interleave_total",
            "Interleaver preferred this zone",
            C,
        ),
        ("numa_local_total", "Allocation from local node", C),
        ("numa_other_total", "Allocation from other node", C),
    ]
};

impl Part for Zoneinfo {
    /// Appends `node_zoneinfo_*{node,zone}` for each field a zone has, and
    /// `node_zoneinfo_protection_<i>` for its protection array. A malformed value or block is
    /// left out and fails the part; a zone printed twice is reported once, from its first block.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(text) = read_optional(host, Root::Proc, "zoneinfo")? else {
            return Ok(());
        };
        let (zones, skipped) = zoneinfo::parse(&text);
        let mut families: Vec<MetricFamily> = FAMILIES
            .iter()
            .map(|(name, help, kind)| {
                MetricFamily::new(format!("node_zoneinfo_{name}"), *help, *kind)
            })
            .collect();
        let mut protection: Vec<MetricFamily> = Vec::new();
        let mut seen = FxHashSet::default();
        for zone in &zones {
            if !seen.insert((zone.node, zone.zone)) {
                continue;
            }
            let labels = [("node", zone.node), ("zone", zone.zone)];
            for (family, value) in families.iter_mut().zip(zone.values) {
                if let Some(value) = value {
                    family.sample(&labels, value as f64);
                }
            }
            for (i, value) in zone.protection.iter().enumerate() {
                if protection.len() == i {
                    protection.push(MetricFamily::gauge(
                        format!("node_zoneinfo_protection_{i}"),
                        format!("Protection array {i}. field"),
                    ));
                }
                protection[i].sample(&labels, *value as f64);
            }
        }
        debug_assert_eq!(FAMILIES.len(), FIELDS.len());
        out.extend(families.into_iter().filter(|f| !f.is_empty()));
        out.extend(protection);
        skipped.result("/proc/zoneinfo", !zones.is_empty())
    }
}
