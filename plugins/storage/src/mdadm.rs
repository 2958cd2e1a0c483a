//! node_exporter's `mdadm` collector: software RAID arrays from `/proc/mdstat` (disks by state,
//! activity, blocks and blocks synced) and from `/sys/block/md*/md/` (`raid_disks`, `degraded`).
//!
//! `node_md_disks_required` and `node_md_disks{state="active"|"failed"|"spare"}` are what
//! node_exporter's mixin alerts `NodeRAIDDegraded` and `NodeRAIDDiskFailure` read.
//!
//! As in node_exporter, nothing is read from sysfs when `/proc/mdstat` does not exist. Of
//! `/sys/block/<md>/md/` only the files behind the two metrics are read: `level`, `raid_disks`
//! and, for the redundant levels (raid1, 4, 5, 6, 10), `degraded`. An array whose `level`,
//! `raid_disks` or `degraded` is missing (it is being stopped) is left out without an error, as
//! node_exporter reports no data then; one whose `degraded` does not parse is left out and fails
//! the part. node_exporter drops the sysfs metrics of every array when one array fails; here the
//! others are kept.

use crate::Problems;
use sonde_procfs::mdstat;
use sonde_sdk::bundle::{Part, read_optional};
use sonde_sdk::{EntryKind, Error, FsError, Host, MetricFamily, Root};
use std::collections::HashSet;

/// The mdadm part.
pub struct Mdadm;

const STATE_HELP: &str = "Indicates the state of md-device.";

/// The `state` label values of `node_md_state` and the activity each stands for.
const STATES: [(&str, &str); 5] = [
    ("active", "active"),
    ("inactive", "inactive"),
    ("recovering", "recovering"),
    ("resync", "resyncing"),
    ("check", "checking"),
];

impl Part for Mdadm {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(text) = read_optional(host, Root::Proc, "mdstat")? else {
            return Ok(());
        };
        let (arrays, skipped) = mdstat::parse(&text);
        let mut disks_required =
            MetricFamily::gauge("node_md_disks_required", "Total number of disks of device.");
        let mut disks = MetricFamily::gauge(
            "node_md_disks",
            "Number of active/failed/spare disks of device.",
        );
        let mut state = MetricFamily::gauge("node_md_state", STATE_HELP);
        let mut blocks = MetricFamily::gauge("node_md_blocks", "Total number of blocks on device.");
        let mut blocks_synced = MetricFamily::gauge(
            "node_md_blocks_synced",
            "Number of blocks synced on device.",
        );
        let mut seen = HashSet::new();
        let mut problems = Problems::default();
        for array in &arrays {
            // Two entries of one name would be duplicate series: keep the first.
            if !seen.insert(array.name.as_str()) {
                problems.add(format!(
                    "/proc/mdstat: md device {:?} listed twice, the second left out",
                    array.name
                ));
                continue;
            }
            let device = array.name.as_str();
            disks_required.sample(&[("device", device)], array.disks_total as f64);
            for (label, value) in [
                ("active", array.disks_active),
                ("failed", array.disks_failed),
                ("spare", array.disks_spare),
            ] {
                disks.sample(&[("device", device), ("state", label)], value as f64);
            }
            for (label, activity) in STATES {
                let on = array.activity_state == activity;
                state.sample(
                    &[("device", device), ("state", label)],
                    if on { 1.0 } else { 0.0 },
                );
            }
            blocks.sample(&[("device", device)], array.blocks_total as f64);
            blocks_synced.sample(&[("device", device)], array.blocks_synced as f64);
        }
        out.extend([disks_required, disks, state, blocks, blocks_synced]);
        let sysfs = sysfs_arrays(host, out);
        skipped.result("/proc/mdstat", !arrays.is_empty())?;
        problems.result()?;
        sysfs
    }
}

/// `node_md_raid_disks` and `node_md_degraded` of the arrays below `/sys/block/md*/md`.
fn sysfs_arrays(host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let entries = match host.read_dir(Root::Sys, "block") {
        Ok(entries) => entries,
        Err(FsError::NotFound | FsError::PermissionDenied) => return Ok(()),
        Err(e) => return Err(Error::msg(format!("listing /sys/block: {e}"))),
    };
    let mut raid_disks =
        MetricFamily::gauge("node_md_raid_disks", "Number of raid disks on device.");
    let mut degraded =
        MetricFamily::gauge("node_md_degraded", "Number of degraded disks on device.");
    let mut problems = Problems::default();
    for entry in entries.iter().filter(|e| {
        e.name.starts_with("md") && matches!(e.kind, EntryKind::Dir | EntryKind::Symlink)
    }) {
        match array(host, &entry.name) {
            Ok(Some((disks, degraded_disks))) => {
                let device = [("device", entry.name.as_str())];
                if let Some(disks) = disks {
                    raid_disks.sample(&device, disks as f64);
                }
                degraded.sample(&device, degraded_disks as f64);
            }
            Ok(None) => {}
            Err(e) => problems.add(e),
        }
    }
    out.extend([raid_disks, degraded]);
    problems.result()
}

/// `raid_disks` (`None` for containers, an unknown level or an unreadable count) and `degraded`
/// of `/sys/block/<name>/md`; `Ok(None)` when it is not an array or is going away.
fn array(host: &Host, name: &str) -> Result<Option<(Option<u64>, u64)>, String> {
    let dir = format!("block/{name}/md");
    let files = ["level", "raid_disks", "degraded"].map(|f| format!("{dir}/{f}"));
    let mut read = host.read_many(Root::Sys, &files).into_iter();
    let mut next = |file: &str| match read.next() {
        Some(Ok(bytes)) => Ok(Some(bytes)),
        Some(Err(FsError::NotFound)) | None => Ok(None),
        Some(Err(e)) => Err(format!("reading /sys/{dir}/{file}: {e}")),
    };
    let (level, raid_disks, degraded) = (next("level")?, next("raid_disks")?, next("degraded")?);
    let Some(level) = level else {
        return Ok(None);
    };
    let level = crate::sys_text(&level);
    let disks = match level.as_str() {
        "container" | "imsm" | "ddf" | "" => None,
        _ => {
            let Some(raid_disks) = raid_disks else {
                return Ok(None);
            };
            raid_disks_count(&String::from_utf8_lossy(&raid_disks))
        }
    };
    let degraded = match level.as_str() {
        "raid1" | "raid4" | "raid5" | "raid6" | "raid10" => {
            let Some(degraded) = degraded else {
                return Ok(None);
            };
            let text = String::from_utf8_lossy(&degraded);
            text.trim()
                .parse()
                .map_err(|e| format!("/sys/{dir}/degraded: {:?}: {e}", text.trim()))?
        }
        _ => 0,
    };
    Ok(Some((disks, degraded)))
}

/// `raid_disks`: a count, or `current (previous)` during a reshape; `None` when empty or neither.
fn raid_disks_count(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Ok(count) = text.parse() {
        return Some(count);
    }
    match text.find(' ') {
        Some(at) if at > 0 => text[..at].parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raid_disks_during_a_reshape() {
        assert_eq!(raid_disks_count("4\n"), Some(4));
        assert_eq!(raid_disks_count("11 (10)\n"), Some(11));
        assert_eq!(raid_disks_count("\n"), None);
        assert_eq!(raid_disks_count("x (10)"), None);
    }
}
