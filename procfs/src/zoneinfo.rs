//! `/proc/zoneinfo`: per memory zone counters. Each zone's block starts with a line
//! `Node 0, zone   Normal`; the first zone of a node also holds the node's `per-node stats`
//! (procfs, and so node_exporter, reports those under that zone, as this parser does).

use super::numbers::parse_i64;
use super::{Skipped, quoted};

/// The fields procfs reads, by their key in the file, in the order of its `Zoneinfo` struct.
pub const FIELDS: [&str; 34] = [
    "nr_free_pages",
    "min",
    "low",
    "high",
    "scanned",
    "spanned",
    "present",
    "managed",
    "nr_active_anon",
    "nr_inactive_anon",
    "nr_isolated_anon",
    "nr_anon_pages",
    "nr_anon_transparent_hugepages",
    "nr_active_file",
    "nr_inactive_file",
    "nr_isolated_file",
    "nr_file_pages",
    "nr_slab_reclaimable",
    "nr_slab_unreclaimable",
    "nr_mlock_stack",
    "nr_kernel_stack",
    "nr_mapped",
    "nr_dirty",
    "nr_writeback",
    "nr_unevictable",
    "nr_shmem",
    "nr_dirtied",
    "nr_written",
    "numa_hit",
    "numa_miss",
    "numa_foreign",
    "numa_interleave",
    "numa_local",
    "numa_other",
];

/// One zone's block, borrowed from the file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone<'a> {
    /// The NUMA node (`0`).
    pub node: &'a str,
    /// The zone (`DMA32`, `Normal`, …).
    pub zone: &'a str,
    /// The value of each of [`FIELDS`] the block has (the last one when printed twice).
    pub values: [Option<i64>; FIELDS.len()],
    /// The `protection: (0, 2039, …)` array, empty when the block has none.
    pub protection: Vec<i64>,
}

/// Parses `/proc/zoneinfo`, in file order. A block starts at each line beginning with `Node`;
/// its node and zone come from its `N, zone NAME` line. Lines of other fields (`pages free`,
/// per-CPU pagesets, `vm stats threshold`) are ignored. A value that is not an integer (procfs
/// reads it as 0), a protection array that does not parse (procfs drops it), and a block
/// without its `Node N, zone NAME` line (procfs reports it with empty labels) are skipped and
/// counted.
pub fn parse(text: &str) -> (Vec<Zone<'_>>, Skipped) {
    let mut zones = Vec::new();
    let mut skipped = Skipped::default();
    let mut block: Option<(usize, Block)> = None;
    for (index, line) in text.lines().enumerate() {
        if index == 0 || line.starts_with("Node") {
            if let Some((start, done)) = block.take() {
                done.finish(start, &mut zones, &mut skipped);
            }
            block = Some((index + 1, Block::new()));
        }
        let Some((_, current)) = block.as_mut() else {
            continue;
        };
        if let Some((node, zone)) = header(line) {
            current.node = Some((node, zone));
            continue;
        }
        let trimmed = line.trim();
        if trimmed.starts_with("per-node stats") {
            continue;
        }
        let mut fields = trimmed.split_ascii_whitespace();
        let (Some(key), Some(value)) = (fields.next(), fields.next()) else {
            continue;
        };
        if key == "protection:" {
            match protection(line) {
                Some(values) => current.protection = values,
                None => skipped.line(
                    index + 1,
                    format!(
                        "protection array that does not parse in line {}",
                        quoted(line)
                    ),
                ),
            }
            continue;
        }
        let Some(at) = FIELDS.iter().position(|f| *f == key) else {
            continue;
        };
        match parse_i64(value) {
            Ok(v) => {
                current.values[at] = Some(v);
                current.any = true;
            }
            Err(e) => skipped.line(index + 1, format!("{e} in line {}", quoted(line))),
        }
    }
    if let Some((start, done)) = block {
        done.finish(start, &mut zones, &mut skipped);
    }
    (zones, skipped)
}

struct Block<'a> {
    node: Option<(&'a str, &'a str)>,
    values: [Option<i64>; FIELDS.len()],
    protection: Vec<i64>,
    any: bool,
}

impl<'a> Block<'a> {
    fn new() -> Self {
        Block {
            node: None,
            values: [None; FIELDS.len()],
            protection: Vec::new(),
            any: false,
        }
    }

    fn finish(self, start: usize, zones: &mut Vec<Zone<'a>>, skipped: &mut Skipped) {
        match self.node {
            Some((node, zone)) => zones.push(Zone {
                node,
                zone,
                values: self.values,
                protection: self.protection,
            }),
            None if self.any || !self.protection.is_empty() => {
                skipped.line(start, "a block without its \"Node N, zone NAME\" line")
            }
            None => {}
        }
    }
}

/// procfs' `(\d+), zone\s+(\w+)`, searched in the line.
fn header(line: &str) -> Option<(&str, &str)> {
    let mut from = 0;
    while let Some(found) = line[from..].find(", zone") {
        let at = from + found;
        from = at + 1;
        let digits = line[..at]
            .bytes()
            .rev()
            .take_while(u8::is_ascii_digit)
            .count();
        let rest = &line[at + ", zone".len()..];
        let name = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
        if digits == 0 || name.len() == rest.len() {
            continue;
        }
        let len = name
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if len > 0 {
            return Some((&line[at - digits..at], &name[..len]));
        }
    }
    None
}

/// `protection: (0, 2039, 31932)` → `[0, 2039, 31932]`.
fn protection(line: &str) -> Option<Vec<i64>> {
    let values = line.split(':').nth(1)?;
    let values = values.replacen('(', "", 1).replacen(')', "", 1);
    values
        .trim()
        .split(", ")
        .map(|v| v.parse::<i64>().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Node 0, zone      DMA\n  per-node stats\n      nr_inactive_anon 95612\n\
        nr_dirtied   1189097\n  pages free     2949\n        min      8\n\
        protection: (0, 2039, 31932)\n      nr_free_pages 2949\n  pagesets\n    cpu: 0\n\
        count: 0\n              high:  0\n\
        Node 0, zone   Normal\n  pages free     10\n        min      0x10\nNode 1, zone Movable\n";

    fn value(zone: &Zone, key: &str) -> Option<i64> {
        zone.values[FIELDS.iter().position(|f| *f == key).unwrap()]
    }

    #[test]
    fn parses_zones_with_node_stats_in_the_first() {
        let (zones, skipped) = parse(TEXT);
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(zones.len(), 3);
        assert_eq!((zones[0].node, zones[0].zone), ("0", "DMA"));
        assert_eq!(value(&zones[0], "nr_inactive_anon"), Some(95612));
        assert_eq!(value(&zones[0], "min"), Some(8));
        assert_eq!(value(&zones[0], "high"), None);
        assert_eq!(zones[0].protection, [0, 2039, 31932]);
        assert_eq!(value(&zones[1], "min"), Some(16));
        assert_eq!(value(&zones[1], "nr_inactive_anon"), None);
        assert_eq!((zones[2].node, zones[2].zone), ("1", "Movable"));
        assert!(zones[2].values.iter().all(Option::is_none));
    }

    #[test]
    fn headers_as_procfs_matches_them() {
        assert_eq!(header("Node 10, zone   Normal"), Some(("10", "Normal")));
        assert_eq!(header("Node x, zone Normal"), None);
        assert_eq!(header("Node 1, zone"), None);
        assert_eq!(header("Node 1, zoneX, 2, zone DMA"), Some(("2", "DMA")));
        assert_eq!(header("Node 1, zone Nor-mal"), Some(("1", "Nor")));
    }

    #[test]
    fn malformed_values_and_blocks_are_skipped() {
        let (zones, skipped) = parse(
            "  min 5\nNode 0, zone DMA\n  min x\n  low 3\n  protection: (0, a)\nNode 0 zone\n",
        );
        assert_eq!(zones.len(), 1);
        assert_eq!(value(&zones[0], "low"), Some(3));
        assert_eq!(value(&zones[0], "min"), None);
        assert!(zones[0].protection.is_empty());
        assert_eq!(skipped.count(), 3);
    }
}
