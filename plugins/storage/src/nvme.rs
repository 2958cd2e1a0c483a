//! node_exporter's `nvme` collector: NVMe controllers of `/sys/class/nvme/<device>/` (firmware,
//! model, serial, state, controller id) and their namespaces (`<device>/nvme<C>n<N>/`: used
//! blocks, size, logical block size, ANA state), as procfs' `NVMeClass` reads them.
//!
//! As procfs, sizes in bytes are the block counts of `size` and `nuse` times
//! `queue/logical_block_size`, a count that does not parse reads as 0, and a namespace without
//! `ana_state` has the state `unknown`. A controller without one of its attributes is left out
//! (node_exporter then reports no data for all); one whose files cannot be read is left out and
//! fails the part (node_exporter fails the whole collector).

use crate::{Problems, sys_text};
use sonde_sdk::bundle::Part;
use sonde_sdk::{Error, FsError, Host, MetricFamily, Root};
use std::collections::HashSet;

/// The nvme part.
pub struct Nvme;

/// The controller attributes read, in the order of `node_nvme_info`'s labels below.
const ATTRIBUTES: [&str; 5] = ["firmware_rev", "model", "serial", "state", "cntlid"];

/// A controller's attributes (in [`ATTRIBUTES`] order) and namespaces.
type Controller = ([String; 5], Vec<Namespace>);

struct Namespace {
    id: String,
    ana_state: String,
    used_bytes: u64,
    size_bytes: u64,
    logical_block_size: u64,
}

impl Part for Nvme {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let devices = match host.read_dir(Root::Sys, "class/nvme") {
            Ok(devices) => devices,
            Err(FsError::NotFound) => return Ok(()),
            Err(e) => return Err(Error::msg(format!("listing /sys/class/nvme: {e}"))),
        };
        let mut info = MetricFamily::gauge(
            "node_nvme_info",
            "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
        );
        let mut ns_info = MetricFamily::gauge(
            "node_nvme_namespace_info",
            "Information about NVMe namespaces. Value is always 1",
        );
        let mut capacity = MetricFamily::gauge(
            "node_nvme_namespace_capacity_bytes",
            "Capacity of the NVMe namespace in bytes. Computed as namespace_size * namespace_logical_block_size",
        );
        let mut size = MetricFamily::gauge(
            "node_nvme_namespace_size_bytes",
            "Size of the NVMe namespace in bytes. Available in /sys/class/nvme/<device>/<namespace>/size",
        );
        let mut used = MetricFamily::gauge(
            "node_nvme_namespace_used_bytes",
            "Used space of the NVMe namespace in bytes. Available in /sys/class/nvme/<device>/<namespace>/nuse",
        );
        let mut block_size = MetricFamily::gauge(
            "node_nvme_namespace_logical_block_size_bytes",
            "Logical block size of the NVMe namespace in bytes. Usually 4Kb. Available in /sys/class/nvme/<device>/<namespace>/queue/logical_block_size",
        );
        let mut problems = Problems::default();
        for device in &devices {
            let name = device.name.as_str();
            let (attributes, namespaces) = match read_device(host, name) {
                Ok(Some(found)) => found,
                Ok(None) => continue,
                Err(e) => {
                    problems.add(e);
                    continue;
                }
            };
            let [firmware, model, serial, state, cntlid] = &attributes;
            info.sample(
                &[
                    ("device", name),
                    ("firmware_revision", firmware),
                    ("model", model),
                    ("serial", serial),
                    ("state", state),
                    ("cntlid", cntlid),
                ],
                1.0,
            );
            for ns in &namespaces {
                ns_info.sample(
                    &[
                        ("device", name),
                        ("nsid", &ns.id),
                        ("ana_state", &ns.ana_state),
                    ],
                    1.0,
                );
                let labels = [("device", name), ("nsid", ns.id.as_str())];
                capacity.sample(&labels, ns.size_bytes as f64);
                size.sample(&labels, ns.size_bytes as f64);
                used.sample(&labels, ns.used_bytes as f64);
                block_size.sample(&labels, ns.logical_block_size as f64);
            }
        }
        out.extend([info, ns_info, capacity, size, used, block_size]);
        problems.result()
    }
}

/// The attributes and namespaces of controller `name`; `Ok(None)` when it went away.
fn read_device(host: &Host, name: &str) -> Result<Option<Controller>, String> {
    let dir = format!("class/nvme/{name}");
    let files = ATTRIBUTES.map(|f| format!("{dir}/{f}"));
    let mut attributes: [String; 5] = Default::default();
    for ((value, read), file) in attributes
        .iter_mut()
        .zip(host.read_many(Root::Sys, &files))
        .zip(ATTRIBUTES)
    {
        *value = match read {
            Ok(bytes) => sys_text(&bytes),
            // node_exporter reports no data then: a controller going away, or a name that is
            // not UTF-8 (no path names it).
            Err(FsError::NotFound) => return Ok(None),
            Err(e) => return Err(format!("reading /sys/{dir}/{file}: {e}")),
        };
    }
    let entries = match host.read_dir(Root::Sys, &dir) {
        Ok(entries) => entries,
        Err(FsError::NotFound) => return Ok(None),
        Err(e) => return Err(format!("listing /sys/{dir}: {e}")),
    };
    let mut namespaces = Vec::new();
    let mut seen = HashSet::new();
    for entry in &entries {
        let Some(id) = namespace_id(&entry.name) else {
            continue;
        };
        // Two directories with one namespace id would be duplicate series: keep the first.
        if !seen.insert(id) {
            continue;
        }
        let ns_dir = format!("{dir}/{}", entry.name);
        let files = ["nuse", "size", "queue/logical_block_size", "ana_state"]
            .map(|f| format!("{ns_dir}/{f}"));
        let mut read = host.read_many(Root::Sys, &files).into_iter();
        let mut number = |file: &str| -> Result<u64, String> {
            match read.next() {
                Some(Ok(bytes)) => Ok(sys_text(&bytes).parse().unwrap_or(0)),
                Some(Err(e)) => Err(format!("reading /sys/{ns_dir}/{file}: {e}")),
                None => Err(format!("reading /sys/{ns_dir}/{file}: no answer")),
            }
        };
        let used_blocks = number("nuse")?;
        let size_blocks = number("size")?;
        let logical_block_size = number("queue/logical_block_size")?;
        let ana_state = match read.next() {
            Some(Ok(bytes)) => sys_text(&bytes),
            _ => "unknown".to_owned(),
        };
        namespaces.push(Namespace {
            id: id.to_owned(),
            ana_state,
            used_bytes: used_blocks.wrapping_mul(logical_block_size),
            size_bytes: size_blocks.wrapping_mul(logical_block_size),
            logical_block_size,
        });
    }
    Ok(Some((attributes, namespaces)))
}

/// The namespace id of a directory name, as procfs' unanchored `nvme\d+n(\d+)` finds it.
fn namespace_id(name: &str) -> Option<&str> {
    name.match_indices("nvme").find_map(|(at, _)| {
        let rest = &name[at + 4..];
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let rest = rest[digits..].strip_prefix('n').filter(|_| digits > 0)?;
        let id_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        (id_len > 0).then(|| &rest[..id_len])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_directories() {
        assert_eq!(namespace_id("nvme0n1"), Some("1"));
        assert_eq!(namespace_id("nvme12n34"), Some("34"));
        assert_eq!(namespace_id("nvme0c0n1"), None);
        assert_eq!(namespace_id("xnvme1n2p1"), Some("2"));
        assert_eq!(namespace_id("model"), None);
        assert_eq!(namespace_id("nvmen1"), None);
        assert_eq!(namespace_id("nvme0n"), None);
    }
}
