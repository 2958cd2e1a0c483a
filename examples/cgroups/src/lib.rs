//! `sonde-plugin-cgroups`: an example third-party sonde plugin. It reports the resource usage of
//! cgroup v2 groups — systemd's services and slices, Kubernetes' pods, machined's containers —
//! which node_exporter does not: CPU time and throttling, memory usage, limit, working set and
//! OOM events, block I/O per device, tasks, and pressure stall times, each labelled with the
//! cgroup's path (`cgroup="/system.slice/sshd.service"`).
//!
//! It depends on `sonde-sdk` only and reads nothing outside `fs/cgroup` of the sysfs root, so
//! the operator grants `["sys:fs/cgroup"]`.

mod cgroup;
mod families;
mod parse;
mod report;
mod walk;

use serde::{Deserialize, Serialize};
use sonde_sdk::filter::NameFilter;
use sonde_sdk::{Capability, Collector, Description, Error, Host, Level, MetricFamily, Root};
use std::collections::HashSet;

/// The default `include`: the slices at the top (`/system.slice`, `/user.slice`, …), the
/// services and scopes in `/system.slice` and `/machine.slice`, and Kubernetes' pods with their
/// QoS classes (`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod….slice` with
/// the systemd cgroup driver, `/kubepods/burstable/pod…` with cgroupfs), not their containers.
pub const DEFAULT_INCLUDE: &str = r"^/([^/]+\.slice|(system|machine)\.slice/[^/]+|kubepods[^/]*(/[^/]*(burstable|besteffort)[^/]*)?(/[^/]*pod[^/]*)?)$";

/// The default `max_depth`: deep enough for a burstable pod (three levels below the root).
pub const DEFAULT_MAX_DEPTH: u32 = 3;

/// The deepest `max_depth` accepted (systemd nests user services five levels deep; Kubernetes'
/// containers are four).
pub const MAX_DEPTH_LIMIT: u32 = 16;

/// The collector; see the crate documentation. It keeps the filter compiled from its config and
/// whether it has told the log that the host has no cgroup v2 hierarchy.
pub struct Cgroups {
    filter: NameFilter,
    max_depth: u32,
    noted_no_v2: bool,
    noted_lossy: bool,
}

/// `[plugins.cgroups] config = { … }`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Report only the cgroups whose path (the `cgroup` label, `/system.slice/sshd.service`)
    /// matches this regex (an unanchored search; `""` keeps every cgroup the walk reaches).
    pub include: String,
    /// Do not report the cgroups whose path matches this regex (`""`: none excluded).
    pub exclude: String,
    /// How many levels below the root the walk goes (1: only `/system.slice`, `/user.slice`, …).
    pub max_depth: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            include: DEFAULT_INCLUDE.to_owned(),
            exclude: String::new(),
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

impl Collector for Cgroups {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "cgroups",
            env!("CARGO_PKG_VERSION"),
            "resource usage of cgroup v2 groups: systemd services and slices, Kubernetes pods",
        )
        .needs(&[Capability::Sys])
    }

    fn new(config: Config) -> Result<Self, Error> {
        if !(1..=MAX_DEPTH_LIMIT).contains(&config.max_depth) {
            return Err(Error::msg(format!(
                "max_depth must be between 1 and {MAX_DEPTH_LIMIT}, not {}",
                config.max_depth
            )));
        }
        Ok(Cgroups {
            filter: NameFilter::new(&config.include, &config.exclude)?,
            max_depth: config.max_depth,
            noted_no_v2: false,
            noted_lossy: false,
        })
    }

    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        if walk::unified(host)?.is_none() {
            if !self.noted_no_v2 {
                self.noted_no_v2 = true;
                host.log(
                    Level::Info,
                    "no cgroup v2 hierarchy at /sys/fs/cgroup (a cgroup v1 or hybrid host): \
                     nothing to report",
                );
            }
            return Ok(Vec::new());
        }
        let mut report = report::Report::default();
        let cgroups = walk::walk(host, &self.filter, self.max_depth, &mut report)?;
        let mut out = families::Families::new();
        // Labels reported so far: names that are not UTF-8 can share one (see `walk::walk`).
        let mut reported = HashSet::new();
        let mut unreadable_names = Vec::new();
        for batch in cgroups.chunks(walk::BATCH) {
            let paths: Vec<String> = batch
                .iter()
                .flat_map(|c| {
                    let dir = walk::sys_path(&c.relative);
                    cgroup::FILES.iter().map(move |f| format!("{dir}/{f}"))
                })
                .collect();
            let mut reads = host.read_many(Root::Sys, &paths).into_iter();
            for c in batch {
                let files = cgroup::Files::new(
                    &c.label,
                    reads.by_ref().take(cgroup::FILES.len()),
                    &mut report,
                );
                if files.is_empty() {
                    if c.label.contains('\u{FFFD}') {
                        unreadable_names.push(c.label.as_str());
                    }
                } else if reported.insert(c.label.as_str()) {
                    files.emit(&mut out, &mut report);
                }
            }
        }
        if !unreadable_names.is_empty() && !self.noted_lossy {
            self.noted_lossy = true;
            host.log(
                Level::Debug,
                &format!(
                    "{} cgroups have names that are not UTF-8 and cannot be read, e.g. {:?}",
                    unreadable_names.len(),
                    unreadable_names[0]
                ),
            );
        }
        report.log(host);
        if out.samples() == 0 && report.any_unreadable() {
            return Err(Error::msg(report.summary().unwrap_or_default()));
        }
        Ok(out.into_vec())
    }
}

sonde_sdk::export!(Cgroups);
