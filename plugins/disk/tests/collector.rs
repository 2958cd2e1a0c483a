//! The whole collector on a capture from a Debian 12 machine (kernel 6.x: 20-column diskstats,
//! no udev database), and how it treats missing sources and failing parts.

use sonde_plugin_disk::Disk;
use sonde_sdk::testing::{Fixture, collect, collect_text, sample_lines};
use sonde_sdk::{Level, Root};
use std::path::PathBuf;

fn live() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/live-debian12")
}

#[test]
fn exact_output_on_a_live_capture() {
    let host = Fixture::new()
        .root(Root::Proc, live().join("proc"))
        .root(Root::Sys, live().join("sys"))
        .root(Root::Rootfs, live())
        .host();
    let text = collect_text::<Disk>(&host, r#"{"filesystem": false}"#).unwrap();
    // loop0-7 and zram0 are excluded by default; vda is rotational; there is no udev data.
    let expected = "\
node_disk_discard_time_seconds_total{device=\"vda\"} 2.466
node_disk_discarded_sectors_total{device=\"vda\"} 4.54384e+06
node_disk_discards_completed_total{device=\"vda\"} 9588
node_disk_discards_merged_total{device=\"vda\"} 46
node_disk_flush_requests_time_seconds_total{device=\"vda\"} 0.056
node_disk_flush_requests_total{device=\"vda\"} 1002
node_disk_info{device=\"vda\",major=\"254\",minor=\"0\",model=\"\",path=\"\",revision=\"\",rotational=\"1\",serial=\"\",wwn=\"\"} 1
node_disk_io_now{device=\"vda\"} 0
node_disk_io_time_seconds_total{device=\"vda\"} 19.504
node_disk_io_time_weighted_seconds_total{device=\"vda\"} 317.413
node_disk_read_bytes_total{device=\"vda\"} 5.592654848e+09
node_disk_read_time_seconds_total{device=\"vda\"} 193.934
node_disk_reads_completed_total{device=\"vda\"} 188754
node_disk_reads_merged_total{device=\"vda\"} 8401
node_disk_write_time_seconds_total{device=\"vda\"} 120.956
node_disk_writes_completed_total{device=\"vda\"} 21147
node_disk_writes_merged_total{device=\"vda\"} 58854
node_disk_written_bytes_total{device=\"vda\"} 1.4512758784e+10
node_pressure_io_stalled_seconds_total 6.1668400000000005
node_pressure_io_waiting_seconds_total 9.157829
";
    assert_eq!(sample_lines(&text).join("\n") + "\n", expected);
    assert_eq!(host.logged(), []);
}

#[test]
fn missing_sources_are_skipped_silently() {
    let empty = std::env::temp_dir().join(format!("sonde-disk-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let host = Fixture::new()
        .root(Root::Proc, &empty)
        .root(Root::Sys, &empty)
        .root(Root::Rootfs, &empty)
        .host();
    let families = collect::<Disk>(&host, "").unwrap();
    std::fs::remove_dir_all(&empty).unwrap();
    assert_eq!(families, []);
    assert_eq!(host.logged(), []);
}

#[test]
fn udev_data_that_cannot_be_read_is_logged() {
    // No rootfs root: the udev database is not granted, the counters still report.
    let host = Fixture::new()
        .root(Root::Proc, live().join("proc"))
        .root(Root::Sys, live().join("sys"))
        .host();
    let text = collect_text::<Disk>(&host, r#"{"filesystem": false, "pressure": false}"#).unwrap();
    assert_eq!(sample_lines(&text).len(), 18);
    assert_eq!(
        host.logged(),
        [(
            Level::Warn,
            "diskstats: reading udev data in /run/udev/data: not granted to this plugin".to_owned()
        )]
    );
}

#[test]
fn fails_only_when_every_part_fails() {
    let host = Fixture::new().host();
    let err = collect_text::<Disk>(&host, "").unwrap_err();
    assert_eq!(
        err.to_string(),
        "diskstats: reading /proc/diskstats: not granted to this plugin; \
         filesystem: reading /proc/1/mountinfo: not granted to this plugin; \
         pressure: reading /proc/pressure/io: not granted to this plugin; \
         bcache: reading /sys/fs/bcache: not granted to this plugin; \
         btrfs: reading /sys/fs/btrfs: not granted to this plugin; \
         xfs: reading /sys/fs/xfs: not granted to this plugin; \
         bcachefs: reading /sys/fs/bcachefs: not granted to this plugin"
    );
}

#[test]
fn bad_config_is_an_error() {
    let host = Fixture::new().root(Root::Proc, live().join("proc")).host();
    let err = collect_text::<Disk>(&host, r#"{"device_exclud": "x"}"#).unwrap_err();
    assert!(
        err.to_string().contains("unknown field `device_exclud`"),
        "{err}"
    );
    let err = collect_text::<Disk>(&host, r#"{"mount_points_exclude": "("}"#).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("filesystem: mount_points filter: invalid exclude pattern \"(\""),
        "{err}"
    );
}
