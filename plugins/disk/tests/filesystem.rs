//! The filesystem part (off in node_exporter's e2e run) against mount tables with canned
//! `statfs` answers: node_exporter's own fixture table (escaped mount points, excluded types),
//! a capture from a Debian 12 machine, and small tables built in a temporary directory.

use sonde_plugin_disk::Disk;
use sonde_sdk::testing::{Fixture, Tree, collect_text, sample_lines};
use sonde_sdk::{FsError, FsStats, Level, Root};
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// Only the filesystem part.
const ONLY_FILESYSTEM: &str = r#"{"diskstats": false, "pressure": false, "bcache": {"enabled": false}, "btrfs": {"enabled": false}, "xfs": {"enabled": false}, "bcachefs": {"enabled": false}}"#;

fn stats(
    block_size: u64,
    blocks: u64,
    free: u64,
    avail: u64,
    files: u64,
    files_free: u64,
) -> FsStats {
    FsStats {
        block_size,
        blocks,
        blocks_free: free,
        blocks_available: avail,
        files,
        files_free,
        read_only: false,
    }
}

/// The mount point in node_exporter's fixture whose name holds `\040`, decoded to a space
/// (its twin holds `\011`, decoded to a tab).
const VMDK: &str = "/var/lib/kubelet/plugins/kubernetes.io/vsphere-volume/mounts/[vsanDatastore] bafb9e5a-8856-7e6c-699c-801844e77a4a/kubernetes-dynamic-pvc-3eba5bba-48a3-11e8-89ab-005056b92113.vmdk";

fn node_exporter_table() -> Fixture {
    Fixture::new().root(Root::Proc, fixtures().join("node-exporter/proc"))
}

#[test]
fn node_exporter_mount_table_with_errors_and_timeouts() {
    let host = node_exporter_table()
        .statfs("/", Ok(stats(4096, 1000, 600, 500, 200, 150)))
        .statfs("/boot", Ok(stats(1024, 8, 4, 2, 16, 15)))
        .statfs(
            "/run",
            Ok(stats(4096, 404429, 404000, 404000, 2020000, 2019000)),
        )
        .statfs("/run/lock", Err(FsError::PermissionDenied))
        .statfs("/run/user/1000/gvfs", Err(FsError::TimedOut))
        .statfs(VMDK, Ok(stats(4096, 3, 2, 1, 5, 4)))
        .host();
    // "/run/user/1000" and the tab-named mount get no answer: the fixture says NotFound.
    let text = collect_text::<Disk>(&host, ONLY_FILESYSTEM).unwrap();
    let tab_named = VMDK.replace("] ", "]\t");
    // Kept by the default filters: 8 of the 32 mounts (the others are below /dev, /proc, /sys,
    // /var/lib/containers/storage/ or of an excluded type such as rpc_pipefs).
    let expected = format!(
        r#"node_filesystem_device_error{{device="/dev/dm-2",device_error="",fstype="ext4",mountpoint="/"}} 0
node_filesystem_device_error{{device="/dev/sda",device_error="",fstype="ext4",mountpoint="{VMDK}"}} 0
node_filesystem_device_error{{device="/dev/sda",device_error="no such file or directory",fstype="ext4",mountpoint="{tab_named}"}} 1
node_filesystem_device_error{{device="/dev/sda3",device_error="",fstype="ext2",mountpoint="/boot"}} 0
node_filesystem_device_error{{device="gvfsd-fuse",device_error="mountpoint timeout",fstype="fuse.gvfsd-fuse",mountpoint="/run/user/1000/gvfs"}} 1
node_filesystem_device_error{{device="tmpfs",device_error="",fstype="tmpfs",mountpoint="/run"}} 0
node_filesystem_device_error{{device="tmpfs",device_error="no such file or directory",fstype="tmpfs",mountpoint="/run/user/1000"}} 1
node_filesystem_device_error{{device="tmpfs",device_error="permission denied",fstype="tmpfs",mountpoint="/run/lock"}} 1
node_filesystem_size_bytes{{device="/dev/dm-2",device_error="",fstype="ext4",mountpoint="/"}} 4.096e+06
node_filesystem_size_bytes{{device="/dev/sda",device_error="",fstype="ext4",mountpoint="{VMDK}"}} 12288
node_filesystem_size_bytes{{device="/dev/sda3",device_error="",fstype="ext2",mountpoint="/boot"}} 8192
node_filesystem_size_bytes{{device="tmpfs",device_error="",fstype="tmpfs",mountpoint="/run"}} 1.656541184e+09
"#
    );
    let lines = sample_lines(&text);
    let pick = |family: &str| {
        lines
            .iter()
            .filter(|l| l.starts_with(&format!("{family}{{")))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    assert_eq!(
        pick("node_filesystem_device_error") + &pick("node_filesystem_size_bytes"),
        expected
    );
    // Every mount has a read-only flag (none is mounted ro); only those statfs answered have
    // figures and mount info.
    assert_eq!(pick("node_filesystem_readonly").lines().count(), 8);
    assert!(!pick("node_filesystem_readonly").contains("} 1"));
    assert_eq!(
        pick("node_filesystem_avail_bytes"),
        format!(
            r#"node_filesystem_avail_bytes{{device="/dev/dm-2",device_error="",fstype="ext4",mountpoint="/"}} 2.048e+06
node_filesystem_avail_bytes{{device="/dev/sda",device_error="",fstype="ext4",mountpoint="{VMDK}"}} 4096
node_filesystem_avail_bytes{{device="/dev/sda3",device_error="",fstype="ext2",mountpoint="/boot"}} 2048
node_filesystem_avail_bytes{{device="tmpfs",device_error="",fstype="tmpfs",mountpoint="/run"}} 1.654784e+09
"#
        )
    );
    assert!(text.contains(
        "\nnode_filesystem_mount_info{device=\"/dev/sda3\",major=\"260\",minor=\"3\",mountpoint=\"/boot\"} 1\n"
    ));
    assert!(text.contains("\nnode_filesystem_free_bytes{device=\"/dev/sda3\",device_error=\"\",fstype=\"ext2\",mountpoint=\"/boot\"} 4096\n"));
    assert!(text.contains("\nnode_filesystem_files{device=\"tmpfs\",device_error=\"\",fstype=\"tmpfs\",mountpoint=\"/run\"} 2.02e+06\n"));
    assert!(text.contains("\nnode_filesystem_files_free{device=\"/dev/dm-2\",device_error=\"\",fstype=\"ext4\",mountpoint=\"/\"} 150\n"));
    for family in [
        "node_filesystem_free_bytes",
        "node_filesystem_files",
        "node_filesystem_files_free",
        "node_filesystem_mount_info",
        "node_filesystem_purgeable_bytes",
    ] {
        assert_eq!(pick(family).lines().count(), 4, "{family}");
    }
    assert!(
        pick("node_filesystem_purgeable_bytes")
            .lines()
            .all(|l| l.ends_with("} 0"))
    );
    assert_eq!(host.logged(), []);
}

#[test]
fn help_and_type_are_node_exporters() {
    let host = node_exporter_table()
        .statfs("/", Ok(stats(4096, 1, 1, 1, 1, 1)))
        .host();
    let text = collect_text::<Disk>(&host, ONLY_FILESYSTEM).unwrap();
    for (family, help) in [
        (
            "node_filesystem_avail_bytes",
            "Filesystem space available to non-root users in bytes.",
        ),
        (
            "node_filesystem_device_error",
            "Whether an error occurred while getting statistics for the given device.",
        ),
        ("node_filesystem_files", "Filesystem total file nodes."),
        (
            "node_filesystem_files_free",
            "Filesystem total free file nodes.",
        ),
        (
            "node_filesystem_free_bytes",
            "Filesystem free space in bytes.",
        ),
        (
            "node_filesystem_mount_info",
            "Filesystem mount information.",
        ),
        (
            "node_filesystem_purgeable_bytes",
            "Filesystem space available including purgeable space (MacOS specific).",
        ),
        ("node_filesystem_readonly", "Filesystem read-only status."),
        ("node_filesystem_size_bytes", "Filesystem size in bytes."),
    ] {
        assert!(
            text.contains(&format!("# HELP {family} {help}\n# TYPE {family} gauge\n")),
            "{family}"
        );
    }
}

#[test]
fn include_patterns_replace_the_default_excludes() {
    let host = node_exporter_table()
        .statfs("/sys/fs/cgroup", Ok(stats(4096, 0, 0, 0, 10, 9)))
        .statfs("/sys/fs/cgroup/cpuset", Ok(stats(4096, 0, 0, 0, 0, 0)))
        .host();
    // The mount point include drops the mount point exclude; cgroup types stay excluded.
    let config = r#"{"diskstats": false, "pressure": false, "bcache": {"enabled": false}, "btrfs": {"enabled": false}, "xfs": {"enabled": false}, "bcachefs": {"enabled": false}, "mount_points_include": "^/sys/fs/cgroup"}"#;
    let text = collect_text::<Disk>(&host, config).unwrap();
    assert_eq!(
        sample_lines(&text)
            .into_iter()
            .filter(|l| l.starts_with("node_filesystem_readonly"))
            .collect::<Vec<_>>(),
        [
            "node_filesystem_readonly{device=\"tmpfs\",device_error=\"\",fstype=\"tmpfs\",mountpoint=\"/sys/fs/cgroup\"} 1"
        ]
    );
    let config = r#"{"diskstats": false, "pressure": false, "bcache": {"enabled": false}, "btrfs": {"enabled": false}, "xfs": {"enabled": false}, "bcachefs": {"enabled": false}, "mount_points_include": "^/sys/fs/cgroup/cpuset$",
                     "fs_types_include": "^cgroup$"}"#;
    let text = collect_text::<Disk>(&host, config).unwrap();
    assert!(text.contains("\nnode_filesystem_files_free{device=\"cgroup\",device_error=\"\",fstype=\"cgroup\",mountpoint=\"/sys/fs/cgroup/cpuset\"} 0\n"), "{text}");
    assert_eq!(sample_lines(&text).len(), 9);
    let both = r#"{"fs_types_include": "^ext4$", "fs_types_exclude": "^tmpfs$"}"#;
    let err = collect_text::<Disk>(&host, both).unwrap_err();
    assert_eq!(
        err.to_string(),
        "filesystem: fs_types_include and fs_types_exclude are mutually exclusive"
    );
}

#[test]
fn live_debian12_capture() {
    let host = Fixture::new()
        .root(Root::Proc, fixtures().join("live-debian12/proc"))
        .statfs(
            "/",
            Ok(stats(
                4096, 66053021, 60199124, 17967575, 16777216, 16346200,
            )),
        )
        .statfs(
            "/mnt/sandboxing/model_tools_env/v1/python",
            Ok(stats(4096, 1, 1, 1, 3085510, 3085509)),
        )
        .host();
    let text = collect_text::<Disk>(&host, ONLY_FILESYSTEM).unwrap();
    let python = r#"device="model_tools_unavailable",device_error="",fstype="tmpfs",mountpoint="/mnt/sandboxing/model_tools_env/v1/python""#;
    let root = r#"device="/dev/vda",device_error="",fstype="ext4",mountpoint="/""#;
    let expected = format!(
        "node_filesystem_avail_bytes{{{root}}} 7.35951872e+10
node_filesystem_avail_bytes{{{python}}} 4096
node_filesystem_device_error{{{root}}} 0
node_filesystem_device_error{{{python}}} 0
node_filesystem_files{{{root}}} 1.6777216e+07
node_filesystem_files{{{python}}} 3.08551e+06
node_filesystem_files_free{{{root}}} 1.63462e+07
node_filesystem_files_free{{{python}}} 3.085509e+06
node_filesystem_free_bytes{{{root}}} 2.46575611904e+11
node_filesystem_free_bytes{{{python}}} 4096
node_filesystem_mount_info{{device=\"/dev/vda\",major=\"254\",minor=\"0\",mountpoint=\"/\"}} 1
node_filesystem_mount_info{{device=\"model_tools_unavailable\",major=\"0\",minor=\"25\",mountpoint=\"/mnt/sandboxing/model_tools_env/v1/python\"}} 1
node_filesystem_purgeable_bytes{{{root}}} 0
node_filesystem_purgeable_bytes{{{python}}} 0
node_filesystem_readonly{{{root}}} 0
node_filesystem_readonly{{{python}}} 1
node_filesystem_size_bytes{{{root}}} 2.70553174016e+11
node_filesystem_size_bytes{{{python}}} 4096
"
    );
    assert_eq!(sample_lines(&text).join("\n") + "\n", expected);
}

#[test]
fn hidden_init_table_falls_back_to_self_and_duplicates_report_once() {
    // With hidepid, /proc/1 is not visible: node_exporter reads /proc/self/mountinfo instead.
    let table: &[u8] = b"21 0 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
        30 21 0:42 / /mnt/nfs rw shared:144 - nfs4 10.0.0.1:/srv rw,vers=4.0\n\
        31 21 0:42 / /mnt/nfs rw shared:130 - nfs4 10.0.0.1:/srv rw,vers=4.0\n\
        40 21 8:2 / /media/caf\xc3\xa9\xff\xfe\\040x ro,nosuid - vfat /dev/sdb1 rw\n";
    let tree = Tree::with_files("disk-hidepid", &[("self/mountinfo", table)]);
    let host = Fixture::new()
        .root(Root::Proc, tree.path())
        .statfs("/", Ok(stats(4096, 10, 5, 4, 3, 2)))
        .statfs("/mnt/nfs", Err(FsError::TimedOut))
        .statfs("/media/caf\u{e9}\u{fffd} x", Ok(stats(512, 4, 2, 2, 0, 0)))
        .host();
    let text = collect_text::<Disk>(&host, ONLY_FILESYSTEM).unwrap();
    let lines = sample_lines(&text);
    let family = |name: &str| -> Vec<&str> {
        lines
            .iter()
            .copied()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .collect()
    };
    assert_eq!(
        family("node_filesystem_device_error"),
        [
            "node_filesystem_device_error{device=\"/dev/sda1\",device_error=\"\",fstype=\"ext4\",mountpoint=\"/\"} 0",
            "node_filesystem_device_error{device=\"/dev/sdb1\",device_error=\"\",fstype=\"vfat\",mountpoint=\"/media/caf\u{e9}\u{fffd} x\"} 0",
            "node_filesystem_device_error{device=\"10.0.0.1:/srv\",device_error=\"mountpoint timeout\",fstype=\"nfs4\",mountpoint=\"/mnt/nfs\"} 1",
        ]
    );
    assert_eq!(
        family("node_filesystem_readonly"),
        [
            "node_filesystem_readonly{device=\"/dev/sda1\",device_error=\"\",fstype=\"ext4\",mountpoint=\"/\"} 0",
            "node_filesystem_readonly{device=\"/dev/sdb1\",device_error=\"\",fstype=\"vfat\",mountpoint=\"/media/caf\u{e9}\u{fffd} x\"} 1",
            "node_filesystem_readonly{device=\"10.0.0.1:/srv\",device_error=\"mountpoint timeout\",fstype=\"nfs4\",mountpoint=\"/mnt/nfs\"} 0",
        ]
    );
    assert_eq!(
        family("node_filesystem_size_bytes"),
        [
            "node_filesystem_size_bytes{device=\"/dev/sda1\",device_error=\"\",fstype=\"ext4\",mountpoint=\"/\"} 40960",
            "node_filesystem_size_bytes{device=\"/dev/sdb1\",device_error=\"\",fstype=\"vfat\",mountpoint=\"/media/caf\u{e9}\u{fffd} x\"} 2048",
        ]
    );
}

#[test]
fn statfs_not_granted_fails_the_filesystem_part_only() {
    let host = Fixture::new()
        .root(Root::Proc, fixtures().join("live-debian12/proc"))
        .statfs("/", Err(FsError::NotGranted))
        .host();
    // The pressure part still reports (microseconds divided twice by 1000, as node_exporter
    // does: 6166840 µs is 6.1668400000000005 s); the failure is logged.
    let config = r#"{"diskstats": false, "bcache": {"enabled": false}, "btrfs": {"enabled": false},
                     "xfs": {"enabled": false}, "bcachefs": {"enabled": false}}"#;
    let text = collect_text::<Disk>(&host, config).unwrap();
    assert_eq!(
        sample_lines(&text),
        [
            "node_pressure_io_stalled_seconds_total 6.1668400000000005",
            "node_pressure_io_waiting_seconds_total 9.157829",
        ]
    );
    assert_eq!(
        host.logged(),
        [(
            Level::Warn,
            "filesystem: statfs: not granted to this plugin".to_owned()
        )]
    );
    // Alone, it fails the collection.
    let err = collect_text::<Disk>(&host, ONLY_FILESYSTEM).unwrap_err();
    assert_eq!(
        err.to_string(),
        "filesystem: statfs: not granted to this plugin"
    );
}

#[test]
fn malformed_mount_table_is_an_error() {
    let tree = Tree::with_files(
        "disk-malformed",
        &[("1/mountinfo", b"21 0 8:1 / / rw - ext4\n")],
    );
    let host = Fixture::new().root(Root::Proc, tree.path()).host();
    let err = collect_text::<Disk>(&host, ONLY_FILESYSTEM).unwrap_err();
    assert_eq!(
        err.to_string(),
        "filesystem: /proc/1/mountinfo: mountinfo: too few fields: \"21 0 8:1 / / rw - ext4\""
    );
}

#[test]
fn a_malformed_mount_line_drops_only_its_mount() {
    let tree = Tree::with_files(
        "disk-malformed-line",
        &[(
            "1/mountinfo",
            b"21 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
              22 21 8:2 / /home rw - ext4\n\
              23 21 8:3 / /var rw - xfs /dev/sda3 rw\n",
        )],
    );
    let host = Fixture::new()
        .root(Root::Proc, tree.path())
        .statfs("/", Ok(stats(4096, 100, 50, 40, 10, 5)))
        .statfs("/var", Ok(stats(4096, 200, 20, 20, 30, 3)))
        .host();
    let text = collect_text::<Disk>(&host, ONLY_FILESYSTEM).unwrap();
    let sizes: Vec<&str> = sample_lines(&text)
        .into_iter()
        .filter(|l| l.starts_with("node_filesystem_size_bytes"))
        .collect();
    assert_eq!(
        sizes,
        [
            "node_filesystem_size_bytes{device=\"/dev/sda1\",device_error=\"\",fstype=\"ext4\",mountpoint=\"/\"} 409600",
            "node_filesystem_size_bytes{device=\"/dev/sda3\",device_error=\"\",fstype=\"xfs\",mountpoint=\"/var\"} 819200",
        ]
    );
    assert!(!text.contains("/home"));
    assert_eq!(
        host.logged(),
        [(
            Level::Warn,
            "filesystem: /proc/1/mountinfo: 1 malformed line skipped: line 2: mountinfo: too few \
             fields: \"22 21 8:2 / /home rw - ext4\""
                .to_owned()
        )]
    );
}
