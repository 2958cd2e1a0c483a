//! Finding the cgroups to report: a walk down the unified hierarchy to `max_depth`, keeping those
//! whose path the include/exclude patterns keep.

use crate::cgroup::absent;
use crate::parse;
use crate::report::Report;
use sonde_sdk::filter::NameFilter;
use sonde_sdk::{EntryKind, Error, FsError, Host, ResultExt, Root};

/// Where the cgroup v2 hierarchy is, relative to the sysfs root.
pub const ROOT: &str = "fs/cgroup";

/// How many directories' files one `read_many` asks for.
pub const BATCH: usize = 128;

/// The sysfs path of the cgroup at `relative` (`""` for the root cgroup).
pub fn sys_path(relative: &str) -> String {
    match relative {
        "" => ROOT.to_owned(),
        _ => format!("{ROOT}/{relative}"),
    }
}

/// A cgroup to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    /// Its path below the hierarchy's root: `system.slice/sshd.service`.
    pub relative: String,
    /// Its `cgroup` label: the path as `/proc/<pid>/cgroup` and systemd print it,
    /// `/system.slice/sshd.service`.
    pub label: String,
}

/// Walks the hierarchy to `max_depth` levels below the root (the root itself is not reported:
/// the whole machine is node_exporter's). A directory whose `cgroup.stat` says it has no
/// descendants is not listed. The cgroups the filter keeps come in the walk's order (by depth,
/// then by name).
///
/// A name that is not UTF-8 comes back from the host with U+FFFD in place of its invalid bytes:
/// such a cgroup cannot be read (its files are not found under that name), and two of them, or
/// one and a cgroup really named so, can have the same label. The caller keeps the first cgroup
/// of a label that has files.
pub fn walk(
    host: &Host,
    filter: &NameFilter,
    max_depth: u32,
    report: &mut Report,
) -> Result<Vec<Cgroup>, Error> {
    let mut found = Vec::new();
    let mut level = vec![String::new()];
    for depth in 1..=max_depth {
        let parents = if depth == 1 {
            level
        } else {
            with_descendants(host, level)
        };
        let mut next = Vec::new();
        for parent in parents {
            let entries = match host.read_dir(Root::Sys, &sys_path(&parent)) {
                Ok(entries) => entries,
                Err(e) if depth == 1 => {
                    return Err(Error::from(e).context(format!("listing /sys/{ROOT}")));
                }
                Err(e) if absent(&e) => continue,
                Err(e) => {
                    report.unreadable(&label(&parent), "", &e);
                    continue;
                }
            };
            for entry in entries {
                if entry.kind != EntryKind::Dir || matches!(entry.name.as_str(), "" | "." | "..") {
                    continue;
                }
                let relative = match parent.as_str() {
                    "" => entry.name.clone(),
                    _ => format!("{parent}/{}", entry.name),
                };
                let label = label(&relative);
                if filter.kept(&label) {
                    found.push(Cgroup {
                        relative: relative.clone(),
                        label,
                    });
                }
                if depth < max_depth {
                    next.push(relative);
                }
            }
        }
        level = next;
    }
    Ok(found)
}

/// The `cgroup` label of the cgroup at `relative`.
pub fn label(relative: &str) -> String {
    format!("/{relative}")
}

/// The cgroups of `level` that may have children: all but those whose `cgroup.stat` says
/// `nr_descendants 0` or that are gone. One host call per [`BATCH`] instead of one listing each:
/// most services have no child cgroups.
fn with_descendants(host: &Host, level: Vec<String>) -> Vec<String> {
    let mut keep = Vec::new();
    for batch in level.chunks(BATCH) {
        let paths: Vec<String> = batch
            .iter()
            .map(|c| format!("{}/cgroup.stat", sys_path(c)))
            .collect();
        for (cgroup, read) in batch.iter().zip(host.read_many(Root::Sys, &paths)) {
            match read {
                Ok(bytes) => {
                    let mut descendants = None;
                    parse::flat_keyed(
                        &String::from_utf8_lossy(&bytes),
                        |key, value| {
                            if key == "nr_descendants" {
                                descendants = Some(value);
                            }
                        },
                        &mut |_| {},
                    );
                    if descendants != Some(0) {
                        keep.push(cgroup.clone());
                    }
                }
                Err(e) if absent(&e) => {}
                // Listed anyway: the listing tells whether it has children.
                Err(_) => keep.push(cgroup.clone()),
            }
        }
    }
    keep
}

/// Whether the unified (v2) hierarchy is mounted at `/sys/fs/cgroup`: its root has
/// `cgroup.controllers`. `Ok(None)` on a cgroup v1 or hybrid host, else the controllers the
/// root has (`cpuset cpu io memory hugetlb pids rdma misc`).
pub fn unified(host: &Host) -> Result<Option<String>, Error> {
    let path = format!("{ROOT}/cgroup.controllers");
    match host.read_to_string(Root::Sys, &path) {
        Ok(text) => Ok(Some(text.trim().to_owned())),
        Err(FsError::NotFound) => Ok(None),
        Err(e) => Err(e).context(format!("reading /sys/{path}")),
    }
}
