//! The chips under `/sys/class/hwmon` and node_exporter's stable names for them.
//!
//! `hwmonN` numbers depend on the order drivers load, so node_exporter names a chip after its
//! device: `class/hwmon/hwmon0 -> ../../devices/platform/coretemp.0/hwmon/hwmon0`, whose
//! `device -> ../../../coretemp.0` resolves to `devices/platform/coretemp.0`, gives
//! `platform_coretemp_0`. Without a device it uses the `name` file, then `hwmonN`. Chips whose
//! names collide (several hwmon nodes on one device) get the `name` file, or `hwmonN`, appended.
//!
//! Symlinks are resolved here from their targets (`read_link`), never by reading below
//! `devices/`: every path this plugin passes the host starts with `class/hwmon/`, so a grant of
//! `sys:class/hwmon` covers it (the host follows the links inside the sysfs root).

use super::text::clean_metric_name;
use sonde_sdk::{DirEntry, EntryKind, Error, FsError, Host, ResultExt, Root};
use std::collections::HashMap;

/// Where the chips are listed, relative to the sysfs root.
pub const CLASS_DIR: &str = "class/hwmon";

/// One hwmon chip.
#[derive(Debug)]
pub struct Chip {
    /// Its directory as the plugin reads it: `class/hwmon/hwmonN`.
    pub dir: String,
    /// node_exporter's `chip` label, unique among the chips.
    pub name: String,
    /// The contents of its `name` file, if it has one.
    pub name_file: Option<Vec<u8>>,
    /// The directories holding its sensor files (the chip's, then its device's) with their
    /// entries.
    pub sources: Vec<(String, Vec<DirEntry>)>,
}

/// Finds the chips and names them. A chip that cannot be read is left out and reported in the
/// second value; `Ok` with no chips when the kernel has no hwmon class.
pub fn discover(host: &Host) -> Result<(Vec<Chip>, Vec<Error>), Error> {
    let entries = match host.read_dir(Root::Sys, CLASS_DIR) {
        Err(FsError::NotFound) => return Ok((Vec::new(), Vec::new())),
        listing => listing.context(format!("listing /sys/{CLASS_DIR}"))?,
    };
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for entry in entries {
        match probe(host, &entry) {
            Ok(Some(chip)) => found.push(chip),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    Ok((disambiguate(found), errors))
}

/// A chip before its name is made unique.
struct Found {
    chip: Chip,
    base_name: String,
    /// The `name` file, whitespace-trimmed (empty when missing).
    name_text: String,
}

/// Reads what naming a chip takes: its listing, its device's and its `name` file. `Ok(None)`
/// for entries that are not chip directories (or vanished).
fn probe(host: &Host, entry: &DirEntry) -> Result<Option<Found>, Error> {
    let dir = format!("{CLASS_DIR}/{}", entry.name);
    // Where the directory really is, as `filepath.EvalSymlinks` would say.
    let real_dir = match entry.kind {
        EntryKind::Dir => Some(dir.clone()),
        EntryKind::Symlink => host
            .read_link(Root::Sys, &dir)
            .ok()
            .and_then(|target| resolve(CLASS_DIR, &target)),
        _ => return Ok(None),
    };
    let files = match host.read_dir(Root::Sys, &dir) {
        Err(FsError::NotFound) => return Ok(None),
        listing => listing.context(format!("listing /sys/{dir}"))?,
    };
    let device = device(host, &dir, real_dir.as_deref(), &files)?;
    let has_name_file = files.iter().any(|e| e.name == "name");
    let mut sources = vec![(dir.clone(), files)];
    let mut device_path = None;
    if let Some(device) = device {
        sources.push((format!("{dir}/device"), device.entries));
        device_path = device.path;
    }
    // An unreadable `name` file counts as none, as in node_exporter.
    let name_file = has_name_file
        .then(|| host.read(Root::Sys, &format!("{dir}/name")).ok())
        .flatten();
    let Some(base_name) = base_name(device_path.as_deref(), name_file.as_deref(), real_dir) else {
        return Ok(None);
    };
    let name_text = name_file
        .as_deref()
        .map(|b| String::from_utf8_lossy(b).trim().to_owned())
        .unwrap_or_default();
    Ok(Some(Found {
        chip: Chip {
            dir,
            name: String::new(),
            name_file,
            sources,
        },
        base_name,
        name_text,
    }))
}

/// A chip's `device` directory.
struct Device {
    /// Its real path, when it could be resolved.
    path: Option<String>,
    /// Its entries.
    entries: Vec<DirEntry>,
}

/// The chip's `device` directory, if it has one.
fn device(
    host: &Host,
    dir: &str,
    real_dir: Option<&str>,
    files: &[DirEntry],
) -> Result<Option<Device>, Error> {
    let Some(entry) = files.iter().find(|e| e.name == "device") else {
        return Ok(None);
    };
    let path = format!("{dir}/device");
    let entries = match host.read_dir(Root::Sys, &path) {
        // A dangling link, as some drivers leave: no device.
        Err(FsError::NotFound) => return Ok(None),
        listing => listing.context(format!("listing /sys/{path}"))?,
    };
    let resolved = match entry.kind {
        EntryKind::Symlink => host
            .read_link(Root::Sys, &path)
            .ok()
            .zip(real_dir)
            .and_then(|(target, real_dir)| resolve(real_dir, &target)),
        _ => real_dir.map(|d| format!("{d}/device")),
    };
    Ok(Some(Device {
        path: resolved,
        entries,
    }))
}

/// node_exporter's `hwmonName`: `<parent dir>_<device dir>` of the device's real path, else the
/// `name` file, else the chip directory's own name (`hwmonN`), each cleaned.
fn base_name(
    device: Option<&str>,
    name_file: Option<&[u8]>,
    real_dir: Option<String>,
) -> Option<String> {
    if let Some(device) = device {
        let mut parts = device.rsplit('/');
        let dev_name = clean_metric_name(parts.next().unwrap_or_default().as_bytes());
        let dev_type = clean_metric_name(parts.next().unwrap_or_default().as_bytes());
        match (dev_type.is_empty(), dev_name.is_empty()) {
            (false, false) => return Some(format!("{dev_type}_{dev_name}")),
            (true, false) => return Some(dev_name),
            _ => {}
        }
    }
    if let Some(name) = name_file.map(clean_metric_name).filter(|n| !n.is_empty()) {
        return Some(name);
    }
    let real_dir = real_dir?;
    let last = real_dir.rsplit('/').next().unwrap_or_default();
    Some(clean_metric_name(last.as_bytes())).filter(|n| !n.is_empty())
}

/// Makes chip names unique as node_exporter 1.12 does: a base name shared by several chips gets
/// `_<name file>` appended, or `_<hwmonN>` when the name file is missing or shared too.
fn disambiguate(found: Vec<Found>) -> Vec<Chip> {
    let mut bases: HashMap<&str, usize> = HashMap::new();
    let mut pairs: HashMap<(&str, &str), usize> = HashMap::new();
    for f in &found {
        *bases.entry(&f.base_name).or_default() += 1;
        *pairs.entry((&f.base_name, &f.name_text)).or_default() += 1;
    }
    let names: Vec<String> = found
        .iter()
        .map(|f| {
            if bases[f.base_name.as_str()] == 1 {
                return f.base_name.clone();
            }
            let mut suffix = clean_metric_name(f.name_text.as_bytes());
            if suffix.is_empty() || pairs[&(f.base_name.as_str(), f.name_text.as_str())] > 1 {
                let hwmon = f.chip.dir.rsplit('/').next().unwrap_or_default();
                suffix = clean_metric_name(hwmon.as_bytes());
            }
            format!("{}_{suffix}", f.base_name)
        })
        .collect();
    found
        .into_iter()
        .zip(names)
        .map(|(f, name)| Chip { name, ..f.chip })
        .collect()
}

/// Resolves the relative symlink `target` found in the directory `dir` (both relative to the
/// sysfs root) to a normalized path, as the kernel would. sysfs links are relative and point at
/// real directories, so `..` can be applied textually. `None` for an absolute target or one that
/// leaves the root.
pub fn resolve(dir: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            _ => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_like_the_kernel() {
        let real = resolve(CLASS_DIR, "../../devices/platform/coretemp.0/hwmon/hwmon0").unwrap();
        assert_eq!(real, "devices/platform/coretemp.0/hwmon/hwmon0");
        assert_eq!(
            resolve(&real, "../../../coretemp.0").unwrap(),
            "devices/platform/coretemp.0"
        );
        assert_eq!(
            resolve(CLASS_DIR, "../../devices/platform/bogus.0/hwmon/hwmon5/").unwrap(),
            "devices/platform/bogus.0/hwmon/hwmon5"
        );
        assert_eq!(resolve(CLASS_DIR, "../../../../etc"), None);
        assert_eq!(resolve(CLASS_DIR, "/sys/devices/x"), None);
    }

    #[test]
    fn names_prefer_the_device_then_the_name_file() {
        let name =
            |device, file: Option<&[u8]>, dir: &str| base_name(device, file, Some(dir.into()));
        assert_eq!(
            name(Some("devices/platform/applesmc.768"), None, "x/hwmon2").unwrap(),
            "platform_applesmc_768"
        );
        assert_eq!(
            name(None, Some(b"nct6779\n"), "x/hwmon3").unwrap(),
            "nct6779"
        );
        assert_eq!(name(None, Some(b"--\n"), "x/hwmon4").unwrap(), "hwmon4");
        assert_eq!(name(Some("phy0"), None, "x/hwmon8").unwrap(), "phy0");
        assert_eq!(base_name(None, None, None), None);
    }
}
