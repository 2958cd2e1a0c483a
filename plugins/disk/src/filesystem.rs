//! node_exporter's `filesystem` collector: size, free space and inodes of every mounted
//! filesystem in init's mount table, from `statfs(2)` through the host.

use crate::{Config, patterns};
use sonde_procfs::Skipped;
use sonde_procfs::mountinfo::{self, MountInfo};
use sonde_sdk::filter::NameFilter;
use sonde_sdk::{Error, FsError, FsStats, Host, MetricFamily, Root};
use std::collections::HashSet;

/// node_exporter's `--collector.filesystem.mount-points-exclude` default.
pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";

/// node_exporter's `--collector.filesystem.fs-types-exclude` default.
pub const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$";

/// The `device_error` label of a mount whose `statfs` did not answer in time, as node_exporter
/// labels a mount it found stuck.
const TIMEOUT_ERROR: &str = "mountpoint timeout";

/// The filesystem part, with its config resolved.
pub struct Filesystem {
    mount_points: NameFilter,
    fs_types: NameFilter,
}

impl Filesystem {
    /// Compiles the mount point and filesystem type filters.
    pub fn new(config: &Config) -> Result<Self, Error> {
        Ok(Filesystem {
            mount_points: patterns::include_exclude(
                "mount_points",
                &config.mount_points_include,
                &config.mount_points_exclude,
                DEFAULT_MOUNT_POINTS_EXCLUDE,
            )?,
            fs_types: patterns::include_exclude(
                "fs_types",
                &config.fs_types_include,
                &config.fs_types_exclude,
                DEFAULT_FS_TYPES_EXCLUDE,
            )?,
        })
    }

    /// Reads the mount table and `statfs`es every mount the filters keep. A malformed line of
    /// the table is left out (no series for that mount) and fails the part.
    pub fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some((path, mounts, skipped)) = mount_table(host)? else {
            return Ok(());
        };
        let kept = !mounts.is_empty();
        let mut families = Families::new();
        let mut seen = HashSet::new();
        for mount in mounts {
            if self.mount_points.ignored(&mount.mount_point)
                || self.fs_types.ignored(&mount.fs_type)
            {
                continue;
            }
            let status = match host.statfs(&mount.mount_point) {
                Err(FsError::NotGranted) => {
                    return Err(Error::msg("statfs: not granted to this plugin"));
                }
                status => Status::from(status),
            };
            // A mount point mounted twice with the same device reports once.
            let key = (
                mount.source.clone(),
                mount.mount_point.clone(),
                mount.fs_type.clone(),
                status.error_label(),
                mount.major,
                mount.minor,
            );
            if seen.insert(key) {
                families.add(&mount, &status);
            }
        }
        out.extend(families.into_vec());
        skipped.result(&format!("/proc/{path}"), kept)
    }
}

/// A mount table: the path read, the mounts, the lines skipped.
type MountTable = (&'static str, Vec<MountInfo>, Skipped);

/// init's mount table (`/proc/1/mountinfo`), or this process' when init's is hidden
/// (`hidepid`), as node_exporter reads it; `None` when neither exists.
fn mount_table(host: &Host) -> Result<Option<MountTable>, Error> {
    for path in ["1/mountinfo", "self/mountinfo"] {
        match host.read(Root::Proc, path) {
            Ok(bytes) => {
                let (mounts, skipped) = mountinfo::parse_skipping(&bytes);
                return Ok(Some((path, mounts, skipped)));
            }
            Err(FsError::NotFound) => continue,
            Err(e) => return Err(Error::from(e).context(format_args!("reading /proc/{path}"))),
        }
    }
    Ok(None)
}

/// What `statfs` said about one mount.
enum Status {
    Stats(FsStats),
    TimedOut,
    Failed(String),
}

impl From<Result<FsStats, FsError>> for Status {
    fn from(result: Result<FsStats, FsError>) -> Self {
        match result {
            Ok(stats) => Status::Stats(stats),
            Err(FsError::TimedOut) => Status::TimedOut,
            // Go's wording of the errno, which node_exporter puts in the label.
            Err(FsError::NotFound) => Status::Failed("no such file or directory".to_owned()),
            Err(FsError::PermissionDenied) => Status::Failed("permission denied".to_owned()),
            Err(e) => Status::Failed(e.to_string()),
        }
    }
}

impl Status {
    /// The `device_error` label: empty when `statfs` answered.
    fn error_label(&self) -> String {
        match self {
            Status::Stats(_) => String::new(),
            Status::TimedOut => TIMEOUT_ERROR.to_owned(),
            Status::Failed(message) => message.clone(),
        }
    }
}

/// The families being filled, one mount at a time.
struct Families {
    device_error: MetricFamily,
    readonly: MetricFamily,
    size: MetricFamily,
    free: MetricFamily,
    avail: MetricFamily,
    files: MetricFamily,
    files_free: MetricFamily,
    mount_info: MetricFamily,
    purgeable: MetricFamily,
}

impl Families {
    fn new() -> Self {
        let gauge = MetricFamily::gauge;
        Families {
            device_error: gauge(
                "node_filesystem_device_error",
                "Whether an error occurred while getting statistics for the given device.",
            ),
            readonly: gauge("node_filesystem_readonly", "Filesystem read-only status."),
            size: gauge("node_filesystem_size_bytes", "Filesystem size in bytes."),
            free: gauge(
                "node_filesystem_free_bytes",
                "Filesystem free space in bytes.",
            ),
            avail: gauge(
                "node_filesystem_avail_bytes",
                "Filesystem space available to non-root users in bytes.",
            ),
            files: gauge("node_filesystem_files", "Filesystem total file nodes."),
            files_free: gauge(
                "node_filesystem_files_free",
                "Filesystem total free file nodes.",
            ),
            mount_info: gauge(
                "node_filesystem_mount_info",
                "Filesystem mount information.",
            ),
            purgeable: gauge(
                "node_filesystem_purgeable_bytes",
                "Filesystem space available including purgeable space (MacOS specific).",
            ),
        }
    }

    /// Adds one mount's series: the error flag and read-only status always, the figures only
    /// when `statfs` answered. A mount whose `statfs` timed out is reported read-write, as
    /// node_exporter reports a stuck mount.
    fn add(&mut self, mount: &MountInfo, status: &Status) {
        let error = status.error_label();
        let labels = [
            ("device", mount.source.as_str()),
            ("mountpoint", mount.mount_point.as_str()),
            ("fstype", mount.fs_type.as_str()),
            ("device_error", error.as_str()),
        ];
        let failed = !matches!(status, Status::Stats(_));
        let read_only = !matches!(status, Status::TimedOut) && mount.read_only();
        self.device_error
            .sample(&labels, f64::from(u8::from(failed)));
        self.readonly
            .sample(&labels, f64::from(u8::from(read_only)));
        let Status::Stats(s) = status else { return };
        let block_size = s.block_size as f64;
        self.size.sample(&labels, s.blocks as f64 * block_size);
        self.free.sample(&labels, s.blocks_free as f64 * block_size);
        self.avail
            .sample(&labels, s.blocks_available as f64 * block_size);
        self.files.sample(&labels, s.files as f64);
        self.files_free.sample(&labels, s.files_free as f64);
        self.mount_info.sample(
            &[
                ("device", mount.source.as_str()),
                ("major", &mount.major.to_string()),
                ("minor", &mount.minor.to_string()),
                ("mountpoint", mount.mount_point.as_str()),
            ],
            1.0,
        );
        // node_exporter ≥ 1.10 reports 0 on Linux, which has no purgeable space.
        self.purgeable.sample(&labels, 0.0);
    }

    fn into_vec(self) -> Vec<MetricFamily> {
        vec![
            self.device_error,
            self.readonly,
            self.size,
            self.free,
            self.avail,
            self.files,
            self.files_free,
            self.mount_info,
            self.purgeable,
        ]
    }
}
