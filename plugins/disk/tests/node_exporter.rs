//! The disk collector against node_exporter's own fixture tree: every `node_disk_*`,
//! `node_pressure_io_*`, `node_bcache_*`, `node_btrfs_*`, `node_xfs_*` and `node_bcachefs_*` family must equal
//! node_exporter 1.12's end-to-end output, HELP and TYPE included. The e2e run had
//! `--path.udev.data=collector/fixtures/udev/data` (here below the rootfs root: `/udev/data`),
//! `--collector.bcache.priorityStats` and `--no-collector.filesystem`.

use sonde_plugin_disk::Disk;
use sonde_sdk::testing::{
    Fixture, collect_text, diff_families, family_lines, family_names, restore_empty_dirs,
};
use sonde_sdk::{Level, Root};
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/node-exporter")
}

fn host() -> sonde_sdk::Host {
    let dir = fixtures();
    restore_empty_dirs(&dir, &dir.join("empty-dirs.txt")).unwrap();
    Fixture::new()
        .root(Root::Proc, dir.join("proc"))
        .root(Root::Sys, dir.join("sys"))
        .root(Root::Rootfs, &dir)
        .host()
}

/// The e2e run's flags as this plugin's config.
const E2E_CONFIG: &str = r#"{"filesystem": false, "udev_data_path": "/udev/data",
                             "bcache": {"priority_stats": true}}"#;

/// The prefixes of the families this plugin reports, and how many of each node_exporter's
/// e2e output has.
const PREFIXES: [(&str, usize); 6] = [
    ("node_disk_", 23),
    ("node_pressure_io_", 2),
    ("node_bcache_", 28),
    ("node_btrfs_", 11),
    ("node_xfs_", 39),
    ("node_bcachefs_", 143),
];

/// The names of the families in `text` (from its `# TYPE` lines) that start with `prefix`.
fn families<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    family_names(text)
        .into_iter()
        .filter(|name| name.starts_with(prefix))
        .collect()
}

#[test]
fn matches_node_exporter_e2e_output() {
    let host = host();
    let ours = collect_text::<Disk>(&host, E2E_CONFIG).unwrap();
    let theirs = std::fs::read_to_string(fixtures().join("e2e-output.txt")).unwrap();
    let mut expected = Vec::new();
    for (prefix, count) in PREFIXES {
        let theirs = families(&theirs, prefix);
        assert_eq!(theirs.len(), count, "{prefix}: {theirs:?}");
        expected.extend(theirs);
    }
    expected.sort();
    // The same families, no more, no fewer.
    assert_eq!(families(&ours, "node_"), expected);
    assert_eq!(diff_families(&ours, &theirs), Vec::<String>::new());
    for family in &expected {
        let lines = family_lines(&theirs, family);
        assert!(!lines.is_empty(), "{family} has no samples upstream");
        assert_eq!(family_lines(&ours, family), lines, "{family}");
        for prefix in ["# HELP", "# TYPE"] {
            let header = format!("{prefix} {family} ");
            let line = theirs.lines().find(|l| l.starts_with(&header)).unwrap();
            assert!(ours.lines().any(|l| l == line), "{line}");
        }
    }
    assert_eq!(host.logged(), []);
}

#[test]
fn discard_and_flush_series_follow_the_kernel_columns() {
    let text = collect_text::<Disk>(&host(), E2E_CONFIG).unwrap();
    // sdb has 18 columns (discards, no flushes), sdc 20, sda 14.
    assert_eq!(
        family_lines(&text, "node_disk_discarded_sectors_total"),
        [
            "node_disk_discarded_sectors_total{device=\"sdb\"} 1.925173784e+09",
            "node_disk_discarded_sectors_total{device=\"sdc\"} 1.25173784e+08",
        ]
    );
    assert_eq!(
        family_lines(&text, "node_disk_flush_requests_total"),
        ["node_disk_flush_requests_total{device=\"sdc\"} 1555"]
    );
    assert_eq!(
        family_lines(&text, "node_disk_read_bytes_total")[0],
        "node_disk_read_bytes_total{device=\"dm-0\"} 5.13708655616e+11"
    );
}

#[test]
fn device_include_replaces_the_default_exclude() {
    let config = r#"{"filesystem": false, "pressure": false, "udev_data_path": "/udev/data",
                     "device_include": "^sda[12]?$"}"#;
    let text = collect_text::<Disk>(&host(), config).unwrap();
    assert_eq!(
        family_lines(&text, "node_disk_info"),
        [
            "node_disk_info{device=\"sda\",major=\"8\",minor=\"0\",model=\"TOSHIBA_KSDB4U86\",path=\"pci-0000:3b:00.0-sas-phy7-lun-0\",revision=\"0102\",rotational=\"1\",serial=\"2160A0D5FVGG\",wwn=\"0x7c72382b8de36a64\"} 1",
            "node_disk_info{device=\"sda1\",major=\"8\",minor=\"1\",model=\"\",path=\"\",revision=\"\",rotational=\"0\",serial=\"\",wwn=\"\"} 1",
            "node_disk_info{device=\"sda2\",major=\"8\",minor=\"2\",model=\"\",path=\"\",revision=\"\",rotational=\"0\",serial=\"\",wwn=\"\"} 1",
        ]
    );
    assert_eq!(
        family_lines(&text, "node_disk_io_time_seconds_total"),
        [
            "node_disk_io_time_seconds_total{device=\"sda\"} 9653.880000000001",
            "node_disk_io_time_seconds_total{device=\"sda1\"} 0.036000000000000004",
            "node_disk_io_time_seconds_total{device=\"sda2\"} 0.032",
        ]
    );
    let both = r#"{"device_include": "^sda$", "device_exclude": "^sdb$"}"#;
    let err = collect_text::<Disk>(&host(), both).unwrap_err();
    assert_eq!(
        err.to_string(),
        "diskstats: device_include and device_exclude are mutually exclusive"
    );
}

#[test]
fn without_udev_data_the_labels_are_empty() {
    for config in [
        r#"{"filesystem": false, "udev_data_path": ""}"#,
        r#"{"filesystem": false, "udev_data_path": "/no/such/dir"}"#,
    ] {
        let host = host();
        let text = collect_text::<Disk>(&host, config).unwrap();
        assert_eq!(
            family_lines(&text, "node_disk_info")[10],
            "node_disk_info{device=\"sda\",major=\"8\",minor=\"0\",model=\"\",path=\"\",revision=\"\",rotational=\"1\",serial=\"\",wwn=\"\"} 1"
        );
        for family in [
            "node_disk_filesystem_info",
            "node_disk_device_mapper_info",
            "node_disk_ata_write_cache",
        ] {
            assert!(family_lines(&text, family).is_empty(), "{family}");
        }
        assert_eq!(host.logged(), [], "{config}");
    }
}

#[test]
fn a_malformed_diskstats_line_drops_only_its_device() {
    let dir = fixtures();
    restore_empty_dirs(&dir, &dir.join("empty-dirs.txt")).unwrap();
    let diskstats = std::fs::read_to_string(dir.join("proc/diskstats")).unwrap();
    let line = diskstats.lines().find(|l| l.contains(" dm-2 ")).unwrap();
    let proc = std::env::temp_dir().join(format!("sonde-disk-bad-line-{}", std::process::id()));
    std::fs::create_dir_all(&proc).unwrap();
    std::fs::write(
        proc.join("diskstats"),
        diskstats.replace(line, &line.replacen(" 11571 ", " 11x71 ", 1)),
    )
    .unwrap();
    let host = Fixture::new()
        .root(Root::Proc, &proc)
        .root(Root::Sys, dir.join("sys"))
        .root(Root::Rootfs, &dir)
        .host();
    let config = r#"{"filesystem": false, "pressure": false, "udev_data_path": "/udev/data"}"#;
    let ours = collect_text::<Disk>(&host, config).unwrap();
    std::fs::remove_dir_all(&proc).unwrap();
    // Every other device's series are node_exporter's, HELP and TYPE included.
    let theirs = std::fs::read_to_string(dir.join("e2e-output.txt")).unwrap();
    for family in families(&theirs, "node_disk_") {
        let expected: Vec<&str> = family_lines(&theirs, family)
            .into_iter()
            .filter(|l| !l.contains("device=\"dm-2\""))
            .collect();
        assert_eq!(family_lines(&ours, family), expected, "{family}");
    }
    assert!(!ours.contains("dm-2"));
    assert_eq!(
        family_lines(&ours, "node_disk_info").len(),
        family_lines(&theirs, "node_disk_info").len() - 1
    );
    assert_eq!(
        host.logged(),
        [(
            Level::Warn,
            "diskstats: /proc/diskstats: 1 malformed line skipped: line 32: column 4 \"11x71\": \
             invalid digit found in string in line \" 252       2 dm-2 11x71 0 308350 6536 153522 \
             0 5093416 122884 0 65400 129416\""
                .to_owned()
        )]
    );
}
