//! node_exporter's `dmmultipath` collector: device-mapper multipath maps from `/sys/block/dm-*`
//! (those whose `dm/uuid` starts with `mpath-`), their size, whether they are suspended, and the
//! state of each path (`/sys/block/<slave>/device/state`), as procfs' `DMMultipathDevices`.
//!
//! A `dm-*` device without `dm/uuid` is not a device-mapper map and is skipped. A map whose
//! files cannot be read is left out and fails the part (node_exporter fails the whole collector).

use crate::{Problems, sys_text};
use sonde_sdk::bundle::Part;
use sonde_sdk::{Error, FsError, Host, MetricFamily, Root};
use std::collections::HashSet;

/// The dmmultipath part.
pub struct DmMultipath;

/// One multipath map.
struct Map {
    name: String,
    sysfs_name: String,
    uuid: String,
    suspended: bool,
    size_bytes: u64,
    /// `(path device, state)`.
    paths: Vec<(String, String)>,
}

impl Part for DmMultipath {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let entries = match host.read_dir(Root::Sys, "block") {
            Ok(entries) => entries,
            Err(FsError::NotFound | FsError::PermissionDenied) => return Ok(()),
            Err(e) => return Err(Error::msg(format!("listing /sys/block: {e}"))),
        };
        let labels = ["device", "sysfs_name"];
        let mut info = MetricFamily::gauge(
            "node_dmmultipath_device_info",
            "Non-numeric information about a DM-multipath device.",
        );
        let mut active = MetricFamily::gauge(
            "node_dmmultipath_device_active",
            "Whether the multipath device-mapper device is active (1) or suspended (0).",
        );
        let mut size = MetricFamily::gauge(
            "node_dmmultipath_device_size_bytes",
            "Size of the multipath device in bytes, read from /sys/block/<dm>/size.",
        );
        let mut paths = MetricFamily::gauge(
            "node_dmmultipath_device_paths",
            "Number of paths for a multipath device.",
        );
        let mut paths_active = MetricFamily::gauge(
            "node_dmmultipath_device_paths_active",
            "Number of paths in active state (SCSI running or NVMe live) for a multipath device.",
        );
        let mut paths_failed = MetricFamily::gauge(
            "node_dmmultipath_device_paths_failed",
            "Number of paths not in active state for a multipath device.",
        );
        let mut path_state = MetricFamily::gauge(
            "node_dmmultipath_path_state",
            "Reports the underlying device state for a multipath path, as read from /sys/block/<dev>/device/state.",
        );
        let mut problems = Problems::default();
        // Two maps of one dm name would be duplicate series (path_state is labelled by the map's
        // name only): keep the first.
        let mut seen_names = HashSet::new();
        for entry in entries.iter().filter(|e| e.name.starts_with("dm-")) {
            let map = match read_map(host, &entry.name) {
                Ok(Some(map)) => map,
                Ok(None) => continue,
                Err(e) => {
                    problems.add(e);
                    continue;
                }
            };
            if !seen_names.insert(map.name.clone()) {
                problems.add(format!(
                    "/sys/block/{}: multipath name {:?} taken by another map, left out",
                    map.sysfs_name, map.name
                ));
                continue;
            }
            let device: [(&str, &str); 2] = [(labels[0], &map.name), (labels[1], &map.sysfs_name)];
            info.sample(
                &[
                    ("device", &map.name),
                    ("sysfs_name", &map.sysfs_name),
                    ("uuid", &map.uuid),
                ],
                1.0,
            );
            active.sample(&device, if map.suspended { 0.0 } else { 1.0 });
            size.sample(&device, map.size_bytes as f64);
            let mut up = 0.0;
            for (path, state) in &map.paths {
                if state == "running" || state == "live" {
                    up += 1.0;
                }
                path_state.sample(
                    &[("device", &map.name), ("path", path), ("state", state)],
                    1.0,
                );
            }
            paths.sample(&device, map.paths.len() as f64);
            paths_active.sample(&device, up);
            paths_failed.sample(&device, map.paths.len() as f64 - up);
        }
        out.extend([
            info,
            active,
            size,
            paths,
            paths_active,
            paths_failed,
            path_state,
        ]);
        problems.result()
    }
}

/// The map `/sys/block/<name>`; `Ok(None)` when it is no multipath map (or went away).
fn read_map(host: &Host, name: &str) -> Result<Option<Map>, String> {
    let files = ["dm/uuid", "dm/name", "dm/suspended", "size"].map(|f| format!("block/{name}/{f}"));
    let mut read = host.read_many(Root::Sys, &files).into_iter();
    let uuid = match read.next() {
        Some(Ok(bytes)) => sys_text(&bytes),
        Some(Err(FsError::NotFound)) | None => return Ok(None),
        Some(Err(e)) => return Err(format!("reading /sys/block/{name}/dm/uuid: {e}")),
    };
    if !uuid.starts_with("mpath-") {
        return Ok(None);
    }
    let mut next = |file: &str| match read.next() {
        Some(Ok(bytes)) => Ok(bytes),
        Some(Err(e)) => Err(format!("reading /sys/block/{name}/{file}: {e}")),
        None => Err(format!("reading /sys/block/{name}/{file}: no answer")),
    };
    let map_name = sys_text(&next("dm/name")?);
    let number = |file: &str, bytes: Vec<u8>| -> Result<u64, String> {
        let text = String::from_utf8_lossy(&bytes);
        text.trim()
            .parse()
            .map_err(|e| format!("/sys/block/{name}/{file}: {:?}: {e}", text.trim()))
    };
    let suspended = number("dm/suspended", next("dm/suspended")?)?;
    let sectors = number("size", next("size")?)?;
    let slaves = match host.read_dir(Root::Sys, &format!("block/{name}/slaves")) {
        Ok(entries) => entries,
        Err(FsError::NotFound) => Vec::new(),
        Err(e) => return Err(format!("listing /sys/block/{name}/slaves: {e}")),
    };
    let state_files: Vec<String> = slaves
        .iter()
        .map(|s| format!("block/{}/device/state", s.name))
        .collect();
    let mut paths = Vec::with_capacity(slaves.len());
    for (slave, state) in slaves.iter().zip(host.read_many(Root::Sys, &state_files)) {
        let state =
            state.map_err(|e| format!("reading /sys/block/{}/device/state: {e}", slave.name))?;
        paths.push((slave.name.clone(), sys_text(&state)));
    }
    Ok(Some(Map {
        name: map_name,
        sysfs_name: name.to_owned(),
        uuid,
        suspended: suspended == 1,
        size_bytes: sectors.wrapping_mul(512),
        paths,
    }))
}
