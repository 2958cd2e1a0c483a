//! node_exporter's `btrfs` collector, the part that reads sysfs: each filesystem in
//! `/sys/fs/btrfs/<uuid>` (label, global reserve, commit statistics, allocation per block group
//! type and RAID profile, device sizes), as procfs' `btrfs` package reads them.
//!
//! Not here: node_exporter also opens every mounted btrfs filesystem and asks it with ioctls
//! (`BTRFS_IOC_FS_INFO`, `BTRFS_IOC_DEV_INFO`, `BTRFS_IOC_GET_DEV_STATS`) for each device's
//! size, used bytes and error counters. A plugin reads files only, so it reports what
//! node_exporter reports when those ioctls fail (as they do without the right to open the mount
//! point): `node_btrfs_device_size_bytes{device,uuid}` from sysfs, and neither
//! `node_btrfs_device_unused_bytes` nor `node_btrfs_device_errors_total`, nor the
//! `btrfs_dev_uuid` label.

use crate::sysfs::{self, Families, Problems};
use sonde_sdk::bundle::Part;
use sonde_sdk::{EntryKind, Error, FsError, Host, MetricFamily};

/// The btrfs part.
pub struct Btrfs;

/// `devices/<dev>/size` counts sectors of 512 bytes.
const SECTOR_BYTES: f64 = 512.0;

/// The block group types, in node_exporter's order.
const BLOCK_GROUP_TYPES: [&str; 3] = ["data", "metadata", "system"];

impl Part for Btrfs {
    /// One listing of `/sys/fs/btrfs` when there is none. A file that does not exist reads as
    /// 0 (procfs' rule); one that cannot be read or parsed leaves out its series and fails the
    /// part.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(entries) = sysfs::list(host, "fs/btrfs")? else {
            return Ok(());
        };
        let mut families = Families::default();
        let mut problems = Problems::default();
        // procfs globs `fs/btrfs/*-*`: the filesystems, not `features`.
        for entry in entries.iter().filter(|e| e.name.contains('-')) {
            if sysfs::readable_name(&entry.name) {
                filesystem(host, &entry.name, &mut families, &mut problems);
            } else {
                problems.add(format!(
                    "/sys/fs/btrfs: {:?} is not valid UTF-8, skipped",
                    entry.name
                ));
            }
        }
        families.into_out(out);
        problems.result()
    }
}

/// Reads one value file: its number, 0 when it does not exist, `None` (and a problem) otherwise.
fn number(
    read: Result<Option<String>, FsError>,
    path: &str,
    problems: &mut Problems,
) -> Option<f64> {
    match read {
        Ok(Some(text)) => match text.trim().parse::<u64>() {
            Ok(v) => Some(v as f64),
            Err(e) => {
                problems.add(format!("/sys/{path}: {:?}: {e}", text.trim()));
                None
            }
        },
        Ok(None) => Some(0.0),
        Err(e) => {
            problems.read(path, &e);
            None
        }
    }
}

/// One filesystem's series.
fn filesystem(host: &Host, name: &str, families: &mut Families, problems: &mut Problems) {
    let dir = format!("fs/btrfs/{name}");
    let devices_dir = format!("{dir}/devices");
    let devices: Vec<String> = match sysfs::list(host, &devices_dir) {
        Ok(entries) => entries
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.name)
            .collect(),
        Err(e) => {
            problems.add(e.to_string());
            Vec::new()
        }
    };
    let mut paths: Vec<String> = [
        "label",
        "metadata_uuid",
        "allocation/global_rsv_size",
        "commit_stats",
    ]
    .iter()
    .map(|file| format!("{dir}/{file}"))
    .collect();
    paths.extend(devices.iter().map(|d| format!("{devices_dir}/{d}/size")));
    let mut reads = sysfs::read_paths(host, &paths).into_iter();
    let mut text = |file: &str, problems: &mut Problems| match reads.next().unwrap_or(Ok(None)) {
        Ok(text) => text.map(|t| t.trim().to_owned()).unwrap_or_default(),
        Err(e) => {
            problems.read(&format!("{dir}/{file}"), &e);
            String::new()
        }
    };
    let label = text("label", problems);
    let metadata_uuid = text("metadata_uuid", problems);
    // procfs takes the UUID from `metadata_uuid`, the directory's name when that is empty.
    let uuid = if metadata_uuid.is_empty() {
        name.to_owned()
    } else {
        metadata_uuid
    };
    let uuid = uuid.as_str();
    let labels = [("uuid", uuid)];
    families.gauge(
        "node_btrfs_info",
        "Filesystem information",
        &[("uuid", uuid), ("label", &label)],
        1.0,
    );
    let path = format!("{dir}/allocation/global_rsv_size");
    if let Some(v) = number(reads.next().unwrap_or(Ok(None)), &path, problems) {
        families.gauge(
            "node_btrfs_global_rsv_size_bytes",
            "Size of global reserve.",
            &labels,
            v,
        );
    }
    let commits = match reads.next().unwrap_or(Ok(None)) {
        Ok(text) => parse_commit_stats(text.as_deref().unwrap_or(""))
            .map_err(|e| problems.add(format!("/sys/{dir}/commit_stats: {e}")))
            .ok(),
        Err(e) => {
            problems.read(&format!("{dir}/commit_stats"), &e);
            None
        }
    };
    if let Some(c) = commits {
        families.counter(
            "node_btrfs_commits_total",
            "The total number of commits that have occurred.",
            &labels,
            c.commits,
        );
        families.gauge(
            "node_btrfs_last_commit_seconds",
            "Duration of the most recent commit, in seconds.",
            &labels,
            c.last_ms / 1000.0,
        );
        families.gauge(
            "node_btrfs_max_commit_seconds",
            "Duration of the slowest commit, in seconds.",
            &labels,
            c.max_ms / 1000.0,
        );
        families.counter(
            "node_btrfs_commit_seconds_total",
            "Sum of the duration of all commits, in seconds.",
            &labels,
            c.total_ms / 1000.0,
        );
    }
    for (device, read) in devices.iter().zip(reads) {
        if !sysfs::readable_name(device) {
            problems.add(format!(
                "/sys/{devices_dir}: {device:?} is not valid UTF-8, skipped"
            ));
            continue;
        }
        let path = format!("{devices_dir}/{device}/size");
        if let Some(sectors) = number(read, &path, problems) {
            families.gauge(
                "node_btrfs_device_size_bytes",
                "Size of a device that is part of the filesystem.",
                &[("uuid", uuid), ("device", device)],
                sectors * SECTOR_BYTES,
            );
        }
    }
    for block_group_type in BLOCK_GROUP_TYPES {
        allocation(
            host,
            &dir,
            uuid,
            block_group_type,
            devices.len(),
            families,
            problems,
        );
    }
}

/// The series of one block group type (`allocation/data` …): reserved bytes, and per RAID
/// profile directory its size, use and allocation ratio. Nothing when the directory does not
/// exist.
fn allocation(
    host: &Host,
    fs_dir: &str,
    uuid: &str,
    block_group_type: &str,
    devices: usize,
    families: &mut Families,
    problems: &mut Problems,
) {
    let dir = format!("{fs_dir}/allocation/{block_group_type}");
    let layouts: Vec<String> = match sysfs::list(host, &dir) {
        Ok(Some(entries)) => entries
            .into_iter()
            .filter(|e| e.kind == EntryKind::Dir)
            .map(|e| e.name)
            .collect(),
        Ok(None) => return,
        Err(e) => return problems.add(e.to_string()),
    };
    let mut paths = vec![format!("{dir}/bytes_reserved")];
    for layout in &layouts {
        paths.push(format!("{dir}/{layout}/total_bytes"));
        paths.push(format!("{dir}/{layout}/used_bytes"));
    }
    let mut reads = sysfs::read_paths(host, &paths).into_iter();
    let reserved = number(reads.next().unwrap_or(Ok(None)), &paths[0], problems);
    if let Some(v) = reserved {
        families.gauge(
            "node_btrfs_reserved_bytes",
            "Amount of space reserved for a data type",
            &[("uuid", uuid), ("block_group_type", block_group_type)],
            v,
        );
    }
    for (i, layout) in layouts.iter().enumerate() {
        if !sysfs::readable_name(layout) {
            problems.add(format!(
                "/sys/{dir}: {layout:?} is not valid UTF-8, skipped"
            ));
            reads.next();
            reads.next();
            continue;
        }
        let labels = [
            ("uuid", uuid),
            ("block_group_type", block_group_type),
            ("mode", layout.as_str()),
        ];
        let total = number(
            reads.next().unwrap_or(Ok(None)),
            &paths[1 + 2 * i],
            problems,
        );
        let used = number(
            reads.next().unwrap_or(Ok(None)),
            &paths[2 + 2 * i],
            problems,
        );
        if let Some(v) = used {
            families.gauge(
                "node_btrfs_used_bytes",
                "Amount of used space by a layout/data type",
                &labels,
                v,
            );
        }
        if let Some(v) = total {
            families.gauge(
                "node_btrfs_size_bytes",
                "Amount of space allocated for a layout/data type",
                &labels,
                v,
            );
        }
        families.gauge(
            "node_btrfs_allocation_ratio",
            "Data allocation ratio for a layout/data type",
            &labels,
            allocation_ratio(layout, devices),
        );
    }
}

/// How many bytes of disk a byte of data takes in a RAID profile, with `devices` devices in the
/// filesystem (procfs' `calcRatio`: 0 for a profile it does not know).
pub fn allocation_ratio(mode: &str, devices: usize) -> f64 {
    let devices = devices as f64;
    match mode {
        "single" | "raid0" => 1.0,
        "dup" | "raid1" | "raid10" => 2.0,
        "raid1c3" => 3.0,
        "raid1c4" => 4.0,
        "raid5" => devices / (devices - 1.0),
        "raid6" => devices / (devices - 2.0),
        _ => 0.0,
    }
}

/// `commit_stats` (kernel ≥ 6.0), in milliseconds; all 0 when the file does not exist.
#[derive(Debug, Default, PartialEq)]
pub struct CommitStats {
    pub commits: f64,
    pub last_ms: f64,
    pub max_ms: f64,
    pub total_ms: f64,
}

/// Parses `commit_stats`: `<key> <value>` lines. A line that is not (procfs fails the whole
/// filesystem then) is an error.
pub fn parse_commit_stats(text: &str) -> Result<CommitStats, String> {
    let mut stats = CommitStats::default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [key, value] = fields[..] else {
            return Err(format!("invalid line {line:?}"));
        };
        let value = value
            .parse::<u64>()
            .map_err(|e| format!("line {line:?}: {e}"))? as f64;
        match key {
            "commits" => stats.commits = value,
            "last_commit_ms" => stats.last_ms = value,
            "max_commit_ms" => stats.max_ms = value,
            "total_commit_ms" => stats.total_ms = value,
            _ => {}
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_follow_procfs() {
        assert_eq!(allocation_ratio("raid5", 4), 4.0 / 3.0);
        assert_eq!(allocation_ratio("raid6", 4), 2.0);
        assert_eq!(allocation_ratio("raid6", 2), f64::INFINITY);
        assert_eq!(allocation_ratio("dup", 1), 2.0);
        assert_eq!(allocation_ratio("weird", 1), 0.0);
    }

    #[test]
    fn commit_stats() {
        let text =
            "commits 258051\nlast_commit_ms 1000\nmax_commit_ms 51462\ntotal_commit_ms 47836090";
        assert_eq!(
            parse_commit_stats(text),
            Ok(CommitStats {
                commits: 258051.0,
                last_ms: 1000.0,
                max_ms: 51462.0,
                total_ms: 47836090.0
            })
        );
        assert_eq!(parse_commit_stats(""), Ok(CommitStats::default()));
        assert!(parse_commit_stats("commits\n").is_err());
        assert!(parse_commit_stats("commits x\n").is_err());
    }
}
