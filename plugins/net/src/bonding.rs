//! node_exporter's `bonding` collector: `node_bonding_slaves{master}` and
//! `node_bonding_active{master}`, the configured and the MII-up slaves of each bonding interface.
//!
//! The masters are listed in `/sys/class/net/bonding_masters`, their slaves in
//! `/sys/class/net/<master>/bonding/slaves`, and a slave counts as active when
//! `/sys/class/net/<master>/lower_<slave>/bonding_slave/mii_status` (`slave_<slave>/…` on older
//! kernels) reads `up`. A host without bonding has no `bonding_masters`: one read, no families.
//!
//! node_exporter fails the whole collector when one master's files cannot be read; here that
//! master is left out, the others are reported and the part fails naming the file.

use sonde_sdk::bundle::Part;
use sonde_sdk::{Error, FsError, Host, MetricFamily, Root};
use std::collections::{BTreeMap, BTreeSet};

/// The bonding part.
pub struct Bonding;

/// The directory of the interfaces, below the sysfs root.
const CLASS_DIR: &str = "class/net";

impl Part for Bonding {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let masters = match host.read(Root::Sys, "class/net/bonding_masters") {
            Ok(bytes) => bytes,
            Err(FsError::NotFound) => return Ok(()),
            Err(e) => {
                return Err(Error::msg(format!(
                    "reading /sys/class/net/bonding_masters: {e}"
                )));
            }
        };
        let mut problems = Vec::new();
        // A master listed twice is one master (node_exporter keeps them in a map).
        let masters: Vec<&str> = masters
            .split(u8::is_ascii_whitespace)
            .filter(|name| !name.is_empty())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter_map(|name| match std::str::from_utf8(name) {
                Ok(name) => Some(name),
                // A name that is not UTF-8 cannot be named to the host.
                Err(_) => {
                    problems.push(format!(
                        "/sys/class/net/bonding_masters: interface name {:?} is not UTF-8",
                        String::from_utf8_lossy(name)
                    ));
                    None
                }
            })
            .collect();
        let slave_paths: Vec<String> = masters
            .iter()
            .map(|m| format!("{CLASS_DIR}/{m}/bonding/slaves"))
            .collect();
        let mut counts: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
        for ((master, path), read) in masters
            .iter()
            .zip(&slave_paths)
            .zip(host.read_many(Root::Sys, &slave_paths))
        {
            match read {
                Ok(bytes) => match count_slaves(host, master, &bytes) {
                    Ok(count) => {
                        counts.insert(master, count);
                    }
                    Err(problem) => problems.push(problem),
                },
                Err(e) => problems.push(format!("reading /sys/{path}: {e}")),
            }
        }
        let mut slaves = MetricFamily::gauge(
            "node_bonding_slaves",
            "Number of configured slaves per bonding interface.",
        );
        let mut active = MetricFamily::gauge(
            "node_bonding_active",
            "Number of active slaves per bonding interface.",
        );
        for (master, (configured, up)) in &counts {
            slaves.sample(&[("master", master)], f64::from(*configured));
            active.sample(&[("master", master)], f64::from(*up));
        }
        out.extend([slaves, active]);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::msg(problems.join("; ")))
        }
    }
}

/// The configured and the active slaves of `master`, whose `bonding/slaves` file is `list`.
fn count_slaves(host: &Host, master: &str, list: &[u8]) -> Result<(u32, u32), String> {
    let list = String::from_utf8_lossy(list);
    let slaves: Vec<&str> = list.split_ascii_whitespace().collect();
    let status = |prefix: &str, slaves: &[&str]| -> (Vec<String>, Vec<Result<Vec<u8>, FsError>>) {
        let paths: Vec<String> = slaves
            .iter()
            .map(|s| format!("{CLASS_DIR}/{master}/{prefix}_{s}/bonding_slave/mii_status"))
            .collect();
        let reads = host.read_many(Root::Sys, &paths);
        (paths, reads)
    };
    let (paths, mut reads) = status("lower", &slaves);
    // Older kernels name the link `slave_<slave>`: read those only for the slaves that need it.
    let missing: Vec<usize> = (0..slaves.len())
        .filter(|i| reads[*i] == Err(FsError::NotFound))
        .collect();
    let mut paths = paths;
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|i| slaves[*i]).collect();
        let (old_paths, old_reads) = status("slave", &names);
        for ((i, path), read) in missing.into_iter().zip(old_paths).zip(old_reads) {
            paths[i] = path;
            reads[i] = read;
        }
    }
    let mut up = 0;
    for (path, read) in paths.iter().zip(reads) {
        match read {
            Ok(state) if String::from_utf8_lossy(&state).trim() == "up" => up += 1,
            Ok(_) => {}
            Err(e) => return Err(format!("reading /sys/{path}: {e}")),
        }
    }
    Ok((slaves.len() as u32, up))
}
