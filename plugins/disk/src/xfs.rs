//! node_exporter's `xfs` collector: the statistics of each mounted XFS filesystem, from
//! `/sys/fs/xfs/<device>/stats/stats` (kernel ≥ 4.4), parsed as procfs' `xfs` package parses
//! them. node_exporter reads only these per-filesystem files (`SysStats`), not the global
//! `/proc/fs/xfs/stat`.

use crate::sysfs::{self, Families, Problems};
use sonde_sdk::bundle::Part;
use sonde_sdk::{Error, FsError, Host, MetricFamily};

/// The xfs part.
pub struct Xfs;

/// One counter: the stats line, how many values that line must have (procfs' check; `vnodes`
/// has 7 or 8), the value's index, the metric name without `node_xfs_`, HELP.
struct Counter {
    line: &'static str,
    lengths: &'static [usize],
    index: usize,
    name: &'static str,
    help: &'static str,
}

const fn counter(
    line: &'static str,
    lengths: &'static [usize],
    index: usize,
    name: &'static str,
    help: &'static str,
) -> Counter {
    Counter {
        line,
        lengths,
        index,
        name,
        help,
    }
}

/// node_exporter's counters, in its order.
const COUNTERS: [Counter; 39] = [
    counter(
        "extent_alloc",
        &[4],
        0,
        "extent_allocation_extents_allocated_total",
        "Number of extents allocated for a filesystem.",
    ),
    counter(
        "extent_alloc",
        &[4],
        1,
        "extent_allocation_blocks_allocated_total",
        "Number of blocks allocated for a filesystem.",
    ),
    counter(
        "extent_alloc",
        &[4],
        2,
        "extent_allocation_extents_freed_total",
        "Number of extents freed for a filesystem.",
    ),
    counter(
        "extent_alloc",
        &[4],
        3,
        "extent_allocation_blocks_freed_total",
        "Number of blocks freed for a filesystem.",
    ),
    counter(
        "abt",
        &[4],
        0,
        "allocation_btree_lookups_total",
        "Number of allocation B-tree lookups for a filesystem.",
    ),
    counter(
        "abt",
        &[4],
        1,
        "allocation_btree_compares_total",
        "Number of allocation B-tree compares for a filesystem.",
    ),
    counter(
        "abt",
        &[4],
        2,
        "allocation_btree_records_inserted_total",
        "Number of allocation B-tree records inserted for a filesystem.",
    ),
    counter(
        "abt",
        &[4],
        3,
        "allocation_btree_records_deleted_total",
        "Number of allocation B-tree records deleted for a filesystem.",
    ),
    counter(
        "blk_map",
        &[7],
        0,
        "block_mapping_reads_total",
        "Number of block map for read operations for a filesystem.",
    ),
    counter(
        "blk_map",
        &[7],
        1,
        "block_mapping_writes_total",
        "Number of block map for write operations for a filesystem.",
    ),
    counter(
        "blk_map",
        &[7],
        2,
        "block_mapping_unmaps_total",
        "Number of block unmaps (deletes) for a filesystem.",
    ),
    counter(
        "blk_map",
        &[7],
        3,
        "block_mapping_extent_list_insertions_total",
        "Number of extent list insertions for a filesystem.",
    ),
    counter(
        "blk_map",
        &[7],
        4,
        "block_mapping_extent_list_deletions_total",
        "Number of extent list deletions for a filesystem.",
    ),
    counter(
        "blk_map",
        &[7],
        5,
        "block_mapping_extent_list_lookups_total",
        "Number of extent list lookups for a filesystem.",
    ),
    counter(
        "blk_map",
        &[7],
        6,
        "block_mapping_extent_list_compares_total",
        "Number of extent list compares for a filesystem.",
    ),
    counter(
        "bmbt",
        &[4],
        0,
        "block_map_btree_lookups_total",
        "Number of block map B-tree lookups for a filesystem.",
    ),
    counter(
        "bmbt",
        &[4],
        1,
        "block_map_btree_compares_total",
        "Number of block map B-tree compares for a filesystem.",
    ),
    counter(
        "bmbt",
        &[4],
        2,
        "block_map_btree_records_inserted_total",
        "Number of block map B-tree records inserted for a filesystem.",
    ),
    counter(
        "bmbt",
        &[4],
        3,
        "block_map_btree_records_deleted_total",
        "Number of block map B-tree records deleted for a filesystem.",
    ),
    counter(
        "dir",
        &[4],
        0,
        "directory_operation_lookup_total",
        "Number of file name directory lookups which miss the operating systems directory name lookup cache.",
    ),
    counter(
        "dir",
        &[4],
        1,
        "directory_operation_create_total",
        "Number of times a new directory entry was created for a filesystem.",
    ),
    counter(
        "dir",
        &[4],
        2,
        "directory_operation_remove_total",
        "Number of times an existing directory entry was created for a filesystem.",
    ),
    counter(
        "dir",
        &[4],
        3,
        "directory_operation_getdents_total",
        "Number of times the directory getdents operation was performed for a filesystem.",
    ),
    counter(
        "ig",
        &[7],
        0,
        "inode_operation_attempts_total",
        "Number of times the OS looked for an XFS inode in the inode cache.",
    ),
    counter(
        "ig",
        &[7],
        1,
        "inode_operation_found_total",
        "Number of times the OS looked for and found an XFS inode in the inode cache.",
    ),
    counter(
        "ig",
        &[7],
        2,
        "inode_operation_recycled_total",
        "Number of times the OS found an XFS inode in the cache, but could not use it as it was being recycled.",
    ),
    counter(
        "ig",
        &[7],
        3,
        "inode_operation_missed_total",
        "Number of times the OS looked for an XFS inode in the cache, but did not find it.",
    ),
    counter(
        "ig",
        &[7],
        4,
        "inode_operation_duplicates_total",
        "Number of times the OS tried to add a missing XFS inode to the inode cache, but found it had already been added by another process.",
    ),
    counter(
        "ig",
        &[7],
        5,
        "inode_operation_reclaims_total",
        "Number of times the OS reclaimed an XFS inode from the inode cache to free memory for another purpose.",
    ),
    counter(
        "ig",
        &[7],
        6,
        "inode_operation_attribute_changes_total",
        "Number of times the OS explicitly changed the attributes of an XFS inode.",
    ),
    counter(
        "rw",
        &[2],
        1,
        "read_calls_total",
        "Number of read(2) system calls made to files in a filesystem.",
    ),
    counter(
        "rw",
        &[2],
        0,
        "write_calls_total",
        "Number of write(2) system calls made to files in a filesystem.",
    ),
    counter(
        "vnodes",
        &[7, 8],
        0,
        "vnode_active_total",
        "Number of vnodes not on free lists for a filesystem.",
    ),
    counter(
        "vnodes",
        &[7, 8],
        1,
        "vnode_allocate_total",
        "Number of times vn_alloc called for a filesystem.",
    ),
    counter(
        "vnodes",
        &[7, 8],
        2,
        "vnode_get_total",
        "Number of times vn_get called for a filesystem.",
    ),
    counter(
        "vnodes",
        &[7, 8],
        3,
        "vnode_hold_total",
        "Number of times vn_hold called for a filesystem.",
    ),
    counter(
        "vnodes",
        &[7, 8],
        4,
        "vnode_release_total",
        "Number of times vn_rele called for a filesystem.",
    ),
    counter(
        "vnodes",
        &[7, 8],
        5,
        "vnode_reclaim_total",
        "Number of times vn_reclaim called for a filesystem.",
    ),
    counter(
        "vnodes",
        &[7, 8],
        6,
        "vnode_remove_total",
        "Number of times vn_remove called for a filesystem.",
    ),
];

impl Part for Xfs {
    /// One listing of `/sys/fs/xfs` when there is none, then one batched read of every
    /// filesystem's `stats/stats`. A directory without that file (`/sys/fs/xfs/features` …) is
    /// not a filesystem. A malformed line leaves out its counters for that filesystem and fails
    /// the part; a line that is missing reads as zeros, as in procfs.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(entries) = sysfs::list(host, "fs/xfs")? else {
            return Ok(());
        };
        let mut problems = Problems::default();
        let mut devices = Vec::new();
        // `stats` holds the counters of all XFS filesystems together, not one filesystem's.
        for entry in entries.into_iter().filter(|e| e.name != "stats") {
            if sysfs::readable_name(&entry.name) {
                devices.push(entry.name);
            } else {
                problems.add(format!(
                    "/sys/fs/xfs: {:?} is not valid UTF-8, skipped",
                    entry.name
                ));
            }
        }
        let paths: Vec<String> = devices
            .iter()
            .map(|d| format!("fs/xfs/{d}/stats/stats"))
            .collect();
        let mut families = Families::default();
        for ((device, path), read) in devices
            .iter()
            .zip(&paths)
            .zip(sysfs::read_paths(host, &paths))
        {
            let text = match read {
                Ok(Some(text)) => text,
                Ok(None) => continue,
                // A file where the glob expects a directory: not a filesystem either.
                Err(FsError::Other(e)) if e.contains("Not a directory") => continue,
                Err(e) => {
                    problems.read(path, &e);
                    continue;
                }
            };
            let lines = parse(&text);
            for c in &COUNTERS {
                let value = match lines.iter().find(|(label, _)| *label == c.line) {
                    None => 0.0,
                    Some((_, Ok(values))) if c.lengths.contains(&values.len()) => {
                        f64::from(values[c.index])
                    }
                    Some((_, Ok(values))) => {
                        if c.index == 0 {
                            problems.add(format!(
                                "/sys/{path}: line {:?}: {} values, expected {:?}",
                                c.line,
                                values.len(),
                                c.lengths
                            ));
                        }
                        continue;
                    }
                    Some((_, Err(e))) => {
                        if c.index == 0 {
                            problems.add(format!("/sys/{path}: line {:?}: {e}", c.line));
                        }
                        continue;
                    }
                };
                families.counter(
                    &format!("node_xfs_{}", c.name),
                    c.help,
                    &[("device", device)],
                    value,
                );
            }
        }
        families.into_out(out);
        problems.result()
    }
}

/// The lines of a `stats` file: label and its values (32-bit, as procfs reads the lines used
/// here), or why they do not parse. A later line with the same label wins, as in procfs.
pub fn parse(text: &str) -> Vec<(&str, Result<Vec<u32>, String>)> {
    let mut lines: Vec<(&str, Result<Vec<u32>, String>)> = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        // procfs skips a line without a label and at least one value.
        let (Some(label), true) = (fields.next(), line.split_whitespace().nth(1).is_some()) else {
            continue;
        };
        let values: Result<Vec<u32>, String> = fields
            .map(|f| f.parse::<u32>().map_err(|e| format!("{f:?}: {e}")))
            .collect();
        lines.retain(|(l, _)| *l != label);
        lines.push((label, values));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines() {
        let lines = parse(
            "rw 28 0\nvnodes 4 0 0 0 1 1 1 0\nxpc 3571712 3568056 0\nabt x 1\n\ndebug\nrw 1 2\n",
        );
        assert_eq!(lines[0], ("vnodes", Ok(vec![4, 0, 0, 0, 1, 1, 1, 0])));
        assert!(lines[2].1.is_err());
        assert_eq!(lines[3], ("rw", Ok(vec![1, 2])));
    }
}
