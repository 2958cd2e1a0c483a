//! The bcache, btrfs and xfs parts on trees built here: hostile names (quotes, backslashes,
//! newlines, invalid UTF-8), missing and malformed files, many filesystems, and hosts without
//! any of them.

use sonde_plugin_disk::Disk;
use sonde_sdk::testing::{Tree, collect_text, family_lines, sample_lines};
use sonde_sdk::{Level, Root};
use std::path::PathBuf;

/// Only the sysfs filesystem parts.
const ONLY_FS: &str = r#"{"diskstats": false, "filesystem": false, "pressure": false}"#;

/// Every sample line has a name, optional labels and a number: the exposition parses back.
fn assert_valid(text: &str) {
    for line in sample_lines(text) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        assert!(series.starts_with("node_"), "{line}");
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
}

#[test]
fn no_sysfs_filesystems_no_families_no_logs() {
    let tree = Tree::new("disk-fs-none");
    tree.file("fs/ext4/features/lazy_itable_init", "supported\n");
    let host = tree.serve(&[Root::Sys]).host();
    assert_eq!(collect_text::<Disk>(&host, ONLY_FS).unwrap(), "");
    assert_eq!(host.logged(), []);
    // Empty directories are no filesystems either.
    for dir in ["fs/bcache", "fs/btrfs", "fs/xfs"] {
        tree.dir(dir);
    }
    tree.file("fs/bcache/register", "")
        .file("fs/btrfs/features/raid56", "0\n");
    tree.file("fs/xfs/features/x", "1\n")
        .file("fs/xfs/stats/stats", "rw 1 2\n");
    let host = tree.serve(&[Root::Sys]).host();
    assert_eq!(collect_text::<Disk>(&host, ONLY_FS).unwrap(), "");
    assert_eq!(host.logged(), []);
}

#[test]
fn xfs_hostile_names_and_malformed_lines() {
    let tree = Tree::new("disk-xfs");
    tree.file(
        "fs/xfs/sd\"a\\1\nx/stats/stats",
        "rw 5 6\nig 1 2 3 4 5 6 x\n",
    );
    tree.file(
        "fs/xfs/vdb/stats/stats",
        "extent_alloc 1 2 3\nvnodes 1 2 3 4 5 6 7\n",
    );
    // A device whose name is not UTF-8 cannot be read back by name: skipped, said so.
    tree.file(b"fs/xfs/sd\xffz/stats/stats", "rw 1 1\n");
    let host = tree.serve(&[Root::Sys]).host();
    let text = collect_text::<Disk>(&host, ONLY_FS).unwrap();
    assert_valid(&text);
    assert_eq!(
        family_lines(&text, "node_xfs_write_calls_total"),
        [
            "node_xfs_write_calls_total{device=\"sd\\\"a\\\\1\\nx\"} 5",
            "node_xfs_write_calls_total{device=\"vdb\"} 0",
        ]
    );
    // The malformed `ig` line leaves out its 7 counters for that device only; the malformed
    // `extent_alloc` (3 values) its 4.
    assert!(family_lines(&text, "node_xfs_inode_operation_found_total")[0].contains("vdb"));
    assert_eq!(
        family_lines(&text, "node_xfs_inode_operation_found_total").len(),
        1
    );
    assert_eq!(
        family_lines(&text, "node_xfs_extent_allocation_blocks_freed_total").len(),
        1
    );
    assert_eq!(
        family_lines(&text, "node_xfs_vnode_remove_total"),
        [
            "node_xfs_vnode_remove_total{device=\"sd\\\"a\\\\1\\nx\"} 0",
            "node_xfs_vnode_remove_total{device=\"vdb\"} 7",
        ]
    );
    assert_eq!(sample_lines(&text).len(), 2 * 39 - 7 - 4);
    assert_eq!(
        host.logged(),
        [(
            Level::Warn,
            "xfs: /sys/fs/xfs: \"sd\u{fffd}z\" is not valid UTF-8, skipped; \
             /sys/fs/xfs/sd\"a\\1\nx/stats/stats: line \"ig\": \"x\": invalid digit found in string; \
             /sys/fs/xfs/vdb/stats/stats: line \"extent_alloc\": 3 values, expected [4]"
                .to_owned()
        )]
    );
}

#[test]
fn many_xfs_filesystems() {
    let tree = Tree::new("disk-xfs-many");
    let stats = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/node-exporter/sys/fs/xfs/sda1/stats/stats"),
    )
    .unwrap();
    for i in 0..500 {
        tree.file(format!("fs/xfs/dm-{i}/stats/stats"), &stats);
    }
    let host = tree.serve(&[Root::Sys]).host();
    let started = std::time::Instant::now();
    let text = collect_text::<Disk>(&host, ONLY_FS).unwrap();
    assert_eq!(sample_lines(&text).len(), 500 * 39);
    assert_eq!(host.logged(), []);
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
}

/// A btrfs filesystem as the kernel shows it, below `fs/btrfs/<dir>`.
fn btrfs(tree: &Tree, dir: &str, label: &str) {
    let d = format!("fs/btrfs/{dir}");
    tree.file(format!("{d}/label"), label)
        .file(format!("{d}/allocation/global_rsv_size"), "1024\n")
        .file(format!("{d}/allocation/data/bytes_reserved"), "7\n")
        .file(format!("{d}/allocation/data/single/total_bytes"), "100\n")
        .file(format!("{d}/allocation/data/single/used_bytes"), "50\n")
        .file(format!("{d}/devices/sda/size"), "8\n");
}

#[test]
fn btrfs_hostile_labels_missing_and_malformed_files() {
    let tree = Tree::new("disk-btrfs");
    // No metadata_uuid: the directory's name is the uuid. The label has every awkward byte.
    btrfs(&tree, "a-\"quoted\\", "my \"fs\"\\\nline two\n");
    // metadata_uuid names the filesystem; commit_stats is malformed; a device size is garbage;
    // the metadata allocation has no profile directory, system none at all.
    btrfs(&tree, "b-1", "");
    tree.file("fs/btrfs/b-1/metadata_uuid", "meta-uuid\n")
        .file("fs/btrfs/b-1/commit_stats", "commits 3\nbroken\n")
        .file("fs/btrfs/b-1/devices/sdb/size", "lots\n")
        .file("fs/btrfs/b-1/allocation/metadata/bytes_reserved", "1\n")
        .file("fs/btrfs/b-1/allocation/data/raid5/total_bytes", "9\n");
    let host = tree.serve(&[Root::Sys]).host();
    let text = collect_text::<Disk>(&host, ONLY_FS).unwrap();
    assert_valid(&text);
    assert_eq!(
        family_lines(&text, "node_btrfs_info"),
        [
            "node_btrfs_info{label=\"\",uuid=\"meta-uuid\"} 1",
            "node_btrfs_info{label=\"my \\\"fs\\\"\\\\\\nline two\",uuid=\"a-\\\"quoted\\\\\"} 1",
        ]
    );
    // The malformed commit_stats leaves out the commit series of that filesystem only.
    assert_eq!(
        family_lines(&text, "node_btrfs_commits_total"),
        ["node_btrfs_commits_total{uuid=\"a-\\\"quoted\\\\\"} 0"]
    );
    assert_eq!(
        family_lines(&text, "node_btrfs_device_size_bytes"),
        [
            "node_btrfs_device_size_bytes{device=\"sda\",uuid=\"a-\\\"quoted\\\\\"} 4096",
            "node_btrfs_device_size_bytes{device=\"sda\",uuid=\"meta-uuid\"} 4096",
        ]
    );
    // raid5 over the 2 devices of b-1: 2 / (2 - 1); its used_bytes file is missing: 0.
    assert_eq!(
        family_lines(&text, "node_btrfs_allocation_ratio"),
        [
            "node_btrfs_allocation_ratio{block_group_type=\"data\",mode=\"raid5\",uuid=\"meta-uuid\"} 2",
            "node_btrfs_allocation_ratio{block_group_type=\"data\",mode=\"single\",uuid=\"a-\\\"quoted\\\\\"} 1",
            "node_btrfs_allocation_ratio{block_group_type=\"data\",mode=\"single\",uuid=\"meta-uuid\"} 1",
        ]
    );
    assert_eq!(
        family_lines(&text, "node_btrfs_reserved_bytes"),
        [
            "node_btrfs_reserved_bytes{block_group_type=\"data\",uuid=\"a-\\\"quoted\\\\\"} 7",
            "node_btrfs_reserved_bytes{block_group_type=\"data\",uuid=\"meta-uuid\"} 7",
            "node_btrfs_reserved_bytes{block_group_type=\"metadata\",uuid=\"meta-uuid\"} 1",
        ]
    );
    assert_eq!(
        host.logged(),
        [(
            Level::Warn,
            "btrfs: /sys/fs/btrfs/b-1/commit_stats: invalid line \"broken\"; \
             /sys/fs/btrfs/b-1/devices/sdb/size: \"lots\": invalid digit found in string"
                .to_owned()
        )]
    );
}

#[test]
fn bcache_hostile_names_missing_and_malformed_files() {
    let tree = Tree::new("disk-bcache");
    let set = "fs/bcache/set-\"1\"\\";
    tree.file(format!("{set}/tree_depth"), "2\n")
        .file(format!("{set}/btree_cache_size"), "1.5M\n")
        .file(format!("{set}/congested"), "often\n")
        .file(
            format!("{set}/internal/btree_read_average_duration_us"),
            "1000\n",
        )
        // No writeback_rate_debug: no writeback series; a malformed counter is left out.
        .file(format!("{set}/bdev0/dirty_data"), "2.0k\n")
        .file(format!("{set}/bdev0/stats_total/cache_hits"), "12x\n")
        .file(format!("{set}/bdev0/stats_total/cache_readaheads"), "3\n")
        .file(format!("{set}/cache0/written"), "1G\n")
        .file(
            format!("{set}/cache0/priority_stats"),
            "Unused: 5%\nMetadata: 1%\n",
        )
        // Not a device directory (procfs' glob is `bdev[0-9]*`).
        .file(format!("{set}/bdevx/dirty_data"), "9\n");
    let host = tree.serve(&[Root::Sys]).host();
    let config = r#"{"diskstats": false, "filesystem": false, "pressure": false,
                     "bcache": {"priority_stats": true}}"#;
    let text = collect_text::<Disk>(&host, config).unwrap();
    assert_valid(&text);
    let uuid = "uuid=\"set-\\\"1\\\"\\\\\"";
    assert_eq!(
        family_lines(&text, "node_bcache_btree_cache_size_bytes"),
        [format!(
            "node_bcache_btree_cache_size_bytes{{{uuid}}} 1.560576e+06"
        )]
    );
    assert!(family_lines(&text, "node_bcache_congested").is_empty());
    assert_eq!(
        family_lines(&text, "node_bcache_tree_depth"),
        [format!("node_bcache_tree_depth{{{uuid}}} 2")]
    );
    assert_eq!(
        family_lines(&text, "node_bcache_dirty_data_bytes"),
        [format!(
            "node_bcache_dirty_data_bytes{{backing_device=\"bdev0\",{uuid}}} 2048"
        )]
    );
    assert!(family_lines(&text, "node_bcache_cache_hits_total").is_empty());
    assert!(family_lines(&text, "node_bcache_writeback_rate").is_empty());
    assert_eq!(
        family_lines(&text, "node_bcache_cache_readaheads_total"),
        [format!(
            "node_bcache_cache_readaheads_total{{backing_device=\"bdev0\",{uuid}}} 3"
        )]
    );
    assert_eq!(
        family_lines(&text, "node_bcache_priority_stats_unused_percent"),
        [format!(
            "node_bcache_priority_stats_unused_percent{{cache_device=\"cache0\",{uuid}}} 5"
        )]
    );
    assert_eq!(
        family_lines(&text, "node_bcache_written_bytes_total"),
        [format!(
            "node_bcache_written_bytes_total{{cache_device=\"cache0\",{uuid}}} 1.073741824e+09"
        )]
    );
    assert_eq!(
        host.logged(),
        [(
            Level::Warn,
            "bcache: /sys/fs/bcache/set-\"1\"\\/congested: \"often\" is not a number; \
             /sys/fs/bcache/set-\"1\"\\/bdev0/stats_total/cache_hits: \"12x\" is not a number"
                .to_owned()
        )]
    );
}

#[test]
fn bcache_priority_stats_only_when_asked() {
    let tree = Tree::new("disk-bcache-prio");
    tree.file("fs/bcache/a-b/cache0/priority_stats", "Unused: 5%\n");
    let host = tree.serve(&[Root::Sys]).host();
    let text = collect_text::<Disk>(&host, ONLY_FS).unwrap();
    assert!(!text.contains("priority_stats"));
    assert_eq!(
        family_lines(&text, "node_bcache_io_errors"),
        ["node_bcache_io_errors{cache_device=\"cache0\",uuid=\"a-b\"} 0"]
    );
    let off = r#"{"diskstats": false, "filesystem": false, "pressure": false,
                  "bcache": {"enabled": false}, "btrfs": {"enabled": false}}"#;
    assert_eq!(collect_text::<Disk>(&host, off).unwrap(), "");
    assert_eq!(host.logged(), []);
}

#[test]
fn bcachefs_hostile_names_missing_and_malformed_files() {
    let tree = Tree::new("disk-bcachefs");
    let fs = "fs/bcachefs/fs\"1\\";
    tree.file(format!("{fs}/btree_cache_size"), "1k\n")
        .file(
            format!("{fs}/compression_stats"),
            "type compressed uncompressed\nlz4: 1k 2k\nzstd: lots 1k\n",
        )
        .file(format!("{fs}/errors"), "bad_thing 3 17\nworse x\nshort\n")
        // A counter named with awkward characters; one in an unknown format.
        .file(
            format!("{fs}/counters/odd-name\"x"),
            "since filesystem creation: 5\n",
        )
        .file(format!("{fs}/counters/garbled"), "5\n")
        .file(
            format!("{fs}/counters/errors"),
            "since filesystem creation: 1\n",
        )
        .file(format!("{fs}/dev-0/label"), "ssd \"fast\"\n")
        .file(format!("{fs}/dev-0/nbuckets"), "many\n")
        .file(format!("{fs}/dev-0/io_done"), "write:\nuser : 4096\n");
    // Not a device (procfs takes `dev-*` directories only) and not a filesystem.
    tree.file(format!("{fs}/options/dev-9"), "x\n")
        .file("fs/bcachefs/README", "x\n");
    let host = tree.serve(&[Root::Sys]).host();
    let text = collect_text::<Disk>(&host, ONLY_FS).unwrap();
    assert_valid(&text);
    let uuid = "uuid=\"fs\\\"1\\\\\"";
    assert_eq!(
        family_lines(&text, "node_bcachefs_info"),
        [format!("node_bcachefs_info{{{uuid}}} 1")]
    );
    assert_eq!(
        family_lines(&text, "node_bcachefs_compression_uncompressed_bytes"),
        [format!(
            "node_bcachefs_compression_uncompressed_bytes{{algorithm=\"lz4\",{uuid}}} 2048"
        )]
    );
    assert_eq!(
        family_lines(&text, "node_bcachefs_errors_total"),
        [format!(
            "node_bcachefs_errors_total{{error_type=\"bad_thing\",{uuid}}} 3"
        )]
    );
    assert_eq!(
        family_lines(&text, "node_bcachefs_odd_name_x_total"),
        [format!("node_bcachefs_odd_name_x_total{{{uuid}}} 5")]
    );
    assert!(text.contains("# HELP node_bcachefs_odd_name_x_total Bcachefs counter odd-name\"x since filesystem creation.\n"), "{text}");
    assert_eq!(
        family_lines(&text, "node_bcachefs_device_info"),
        [format!(
            "node_bcachefs_device_info{{device=\"0\",label=\"ssd \\\"fast\\\"\",state=\"\",{uuid}}} 1"
        )]
    );
    assert!(family_lines(&text, "node_bcachefs_device_buckets").is_empty());
    assert_eq!(
        family_lines(&text, "node_bcachefs_device_durability"),
        [format!(
            "node_bcachefs_device_durability{{device=\"0\",{uuid}}} 0"
        )]
    );
    assert_eq!(
        family_lines(&text, "node_bcachefs_device_io_done_bytes_total"),
        [format!(
            "node_bcachefs_device_io_done_bytes_total{{data_type=\"user\",device=\"0\",operation=\"write\",{uuid}}} 4096"
        )]
    );
    let logged = host.logged();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(
        logged[0].1,
        "bcachefs: /sys/fs/bcachefs/fs\"1\\/compression_stats: 1 malformed line skipped: \
         line 3: \"lots\" is not a size in line \"zstd: lots 1k\"; \
         /sys/fs/bcachefs/fs\"1\\/errors: 1 malformed line skipped: line 2: invalid digit found \
         in string in line \"worse x\"; \
         /sys/fs/bcachefs/fs\"1\\/counters/errors: node_bcachefs_errors_total would clash with \
         a family of its own, skipped; and 2 more"
    );
}
