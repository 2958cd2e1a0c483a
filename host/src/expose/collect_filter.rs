//! node_exporter's `collect[]` and `exclude[]` parameters of `/metrics`: which collectors'
//! families a scrape gets, with node_exporter's answers to bad queries.
//!
//! As in node_exporter 1.x (`handler.ServeHTTP`): `/metrics?collect[]=cpu&collect[]=meminfo`
//! serves those collectors' families, their `node_scrape_collector_*` series and the other
//! meta-metrics (sonde's `sonde_*` and `process_*`, as node_exporter keeps its `go_*` and
//! `process_*`); `exclude[]` serves every enabled collector but those named (unknown names are
//! ignored, and excluding every collector serves them all, as node_exporter does); both at
//! once, or a name that is not an enabled collector, is answered 400 with node_exporter's
//! message. Duplicates are harmless. The names are the `collector` labels of
//! `node_scrape_collector_success` ([`CollectorSource`]).
//!
//! sonde collects on its schedule and stores a plugin's families together, so a family is
//! attributed to a part by its name: node_exporter's metric names per collector
//! ([`FAMILY_PATTERNS`]), the longest pattern among the parts its plugin reported, and
//! `node_<part>_` for a part the table does not know. A plugin without parts is one collector; a
//! family of a bundled plugin that no pattern matches is served when any of its plugin's
//! collectors is selected (more rather than silently less).

use crate::expose::CollectorSource;
use sonde_sdk::MetricFamily;
use std::collections::{BTreeSet, HashSet};

/// node_exporter's answer to `collect[]` and `exclude[]` together (HTTP 400).
pub const COMBINED_QUERY: &str = "Combined collect and exclude queries are not allowed.";

/// node_exporter 1.12's Linux collectors: a name among them that sonde does not report now is
/// a "disabled collector", any other unknown name a "missing collector".
const NODE_EXPORTER_COLLECTORS: &[&str] = &[
    "arp",
    "bcache",
    "bcachefs",
    "bonding",
    "btrfs",
    "buddyinfo",
    "cgroups",
    "conntrack",
    "cpu",
    "cpu_vulnerabilities",
    "cpufreq",
    "diskstats",
    "dmi",
    "dmmultipath",
    "drbd",
    "drm",
    "edac",
    "entropy",
    "ethtool",
    "fibrechannel",
    "filefd",
    "filesystem",
    "hwmon",
    "infiniband",
    "interrupts",
    "ipvs",
    "kernel_hung",
    "ksmd",
    "lnstat",
    "loadavg",
    "logind",
    "mdadm",
    "meminfo",
    "meminfo_numa",
    "mountstats",
    "netclass",
    "netdev",
    "netstat",
    "network_route",
    "nfs",
    "nfsd",
    "ntp",
    "nvme",
    "nvmesubsystem",
    "os",
    "pcidevice",
    "perf",
    "powersupplyclass",
    "pressure",
    "processes",
    "qdisc",
    "rapl",
    "runit",
    "schedstat",
    "selinux",
    "slabinfo",
    "sockstat",
    "softirqs",
    "softnet",
    "stat",
    "supervisord",
    "swap",
    "sysctl",
    "systemd",
    "tapestats",
    "tcpstat",
    "textfile",
    "thermal_zone",
    "time",
    "timex",
    "udp_queues",
    "uname",
    "vmstat",
    "watchdog",
    "wifi",
    "xfrm",
    "xfs",
    "zfs",
    "zoneinfo",
];

/// The family names of each part of the built-in plugins (node_exporter's per collector): a
/// pattern is a prefix, or `prefix*suffix`. Among the parts of a family's plugin, the longest
/// matching pattern wins (`node_cpu_frequency_` is cpufreq's, `node_cpu_` cpu's).
pub const FAMILY_PATTERNS: &[(&str, &[&str])] = &[
    // cpu
    ("cpu", &["node_cpu_"]),
    ("cpufreq", &["node_cpu_frequency_", "node_cpu_scaling_"]),
    ("loadavg", &["node_load1", "node_load5", "node_load15"]),
    ("pressure", &["node_pressure_"]),
    ("schedstat", &["node_schedstat_"]),
    ("interrupts", &["node_interrupts_"]),
    ("softirqs", &["node_softirqs_functions_"]),
    // disk
    ("diskstats", &["node_disk_"]),
    ("filesystem", &["node_filesystem_"]),
    ("bcache", &["node_bcache_"]),
    ("btrfs", &["node_btrfs_"]),
    ("xfs", &["node_xfs_"]),
    ("bcachefs", &["node_bcachefs_"]),
    // hardware
    ("hwmon", &["node_hwmon_"]),
    (
        "thermal_zone",
        &["node_thermal_zone_", "node_cooling_device_"],
    ),
    ("powersupplyclass", &["node_power_supply_"]),
    ("rapl", &["node_rapl_"]),
    ("dmi", &["node_dmi_"]),
    ("watchdog", &["node_watchdog_"]),
    ("edac", &["node_edac_"]),
    ("pcidevice", &["node_pcidevice_"]),
    // mem
    ("meminfo", &["node_memory_"]),
    ("meminfo_numa", &["node_memory_numa_"]),
    ("vmstat", &["node_vmstat_"]),
    ("buddyinfo", &["node_buddyinfo_"]),
    ("zoneinfo", &["node_zoneinfo_"]),
    ("swap", &["node_swap_"]),
    ("ksmd", &["node_ksmd_"]),
    ("slabinfo", &["node_slabinfo_"]),
    // net: netdev's counters are node_network_{receive,transmit}_*_total, netclass has the
    // rest of node_network_ (node_network_transmit_queue_length among them).
    (
        "netdev",
        &[
            "node_network_receive_*_total",
            "node_network_transmit_*_total",
        ],
    ),
    ("netclass", &["node_network_"]),
    ("netstat", &["node_netstat_"]),
    ("sockstat", &["node_sockstat_"]),
    ("softnet", &["node_softnet_"]),
    ("arp", &["node_arp_"]),
    ("conntrack", &["node_nf_conntrack_"]),
    ("udp_queues", &["node_udp_queues"]),
    ("bonding", &["node_bonding_"]),
    ("infiniband", &["node_infiniband_"]),
    ("ipvs", &["node_ipvs_"]),
    ("xfrm", &["node_xfrm_"]),
    ("lnstat", &["node_lnstat_"]),
    // nfs
    ("nfs", &["node_nfs_"]),
    ("nfsd", &["node_nfsd_"]),
    ("mountstats", &["node_mountstats_"]),
    // storage
    ("mdadm", &["node_md_"]),
    ("dmmultipath", &["node_dmmultipath_"]),
    ("nvme", &["node_nvme_"]),
    ("fibrechannel", &["node_fibrechannel_"]),
    ("tapestats", &["node_tape_"]),
    ("drbd", &["node_drbd_"]),
    // system
    (
        "stat",
        &[
            "node_boot_time_seconds",
            "node_context_switches_total",
            "node_forks_total",
            "node_intr_total",
            "node_procs_",
            "node_softirqs_total",
        ],
    ),
    ("uname", &["node_uname_"]),
    ("os", &["node_os_"]),
    ("time", &["node_time_"]),
    ("timex", &["node_timex_"]),
    ("filefd", &["node_filefd_"]),
    ("entropy", &["node_entropy_"]),
    ("kernel_hung", &["node_kernel_hung_"]),
    ("selinux", &["node_selinux_"]),
    ("sysctl", &["node_sysctl_"]),
    ("cgroups", &["node_cgroups_"]),
    // zfs, process
    ("zfs", &["node_zfs_"]),
    ("processes", &["node_processes_"]),
    ("process_groups", &["namedprocess_"]),
];

/// The collectors a filtered scrape serves.
#[derive(Debug)]
pub struct Selection {
    labels: HashSet<String>,
    sources: Vec<CollectorSource>,
}

/// What the query of a `/metrics` request selects: `Ok(None)` serves everything; `Err` is the
/// body of node_exporter's 400 answer. `collectors` are those reported now.
pub fn select(
    query: Option<&str>,
    collectors: Vec<CollectorSource>,
) -> Result<Option<Selection>, String> {
    let (mut collects, mut excludes) = (Vec::new(), Vec::new());
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*key {
            "collect[]" => collects.push(value.into_owned()),
            "exclude[]" => excludes.push(value.into_owned()),
            _ => {}
        }
    }
    if collects.is_empty() && excludes.is_empty() {
        return Ok(None);
    }
    if !collects.is_empty() && !excludes.is_empty() {
        return Err(COMBINED_QUERY.to_owned());
    }
    let enabled: BTreeSet<&str> = collectors.iter().map(|c| c.label.as_str()).collect();
    let filters: Vec<String> = if excludes.is_empty() {
        collects
    } else {
        enabled
            .iter()
            .filter(|label| !excludes.iter().any(|e| e == *label))
            .map(|label| (*label).to_owned())
            .collect()
    };
    if filters.is_empty() {
        // node_exporter builds its collector with no filter then: every collector.
        return Ok(None);
    }
    if let Some(unknown) = filters.iter().find(|f| !enabled.contains(f.as_str())) {
        let state = if NODE_EXPORTER_COLLECTORS.contains(&unknown.as_str()) {
            "disabled"
        } else {
            "missing"
        };
        return Err(format!(
            "Couldn't create filtered metrics handler: couldn't create collector: {state} collector: {unknown}"
        ));
    }
    Ok(Some(Selection {
        labels: filters.into_iter().collect(),
        sources: collectors,
    }))
}

impl Selection {
    /// Whether the family `family` of `plugin` belongs to a selected collector.
    pub fn keeps(&self, plugin: &str, family: &str) -> bool {
        let sources: Vec<&CollectorSource> =
            self.sources.iter().filter(|s| s.plugin == plugin).collect();
        if let Some(whole) = sources.iter().find(|s| s.part.is_none()) {
            return self.labels.contains(&whole.label);
        }
        let owner = sources
            .iter()
            .filter_map(|s| {
                let part = s.part.as_deref()?;
                Some((longest_match(part, family)?, s))
            })
            .max_by_key(|(length, _)| *length);
        match owner {
            Some((_, source)) => self.labels.contains(&source.label),
            None => sources.iter().any(|s| self.labels.contains(&s.label)),
        }
    }

    /// Keeps the self-metric series of the selected collectors: `node_scrape_collector_*`
    /// samples of other collectors are removed, every other meta-metric is kept.
    pub fn retain_meta(&self, families: &mut [MetricFamily]) {
        for family in families
            .iter_mut()
            .filter(|f| f.name.starts_with("node_scrape_collector_"))
        {
            family.samples.retain(|s| {
                s.label("collector")
                    .is_some_and(|c| self.labels.contains(c))
            });
        }
    }
}

/// The length of the longest of `part`'s patterns that `family` matches.
fn longest_match(part: &str, family: &str) -> Option<usize> {
    let default = [format!("node_{part}_")];
    let known = FAMILY_PATTERNS.iter().find(|(name, _)| *name == part);
    let patterns: Vec<&str> = match known {
        Some((_, patterns)) => patterns.to_vec(),
        None => default.iter().map(String::as_str).collect(),
    };
    patterns
        .into_iter()
        .filter(|pattern| match pattern.split_once('*') {
            Some((prefix, suffix)) => {
                family.len() >= prefix.len() + suffix.len()
                    && family.starts_with(prefix)
                    && family.ends_with(suffix)
            }
            None => family.starts_with(pattern),
        })
        .map(str::len)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(label: &str, plugin: &str, part: Option<&str>) -> CollectorSource {
        CollectorSource {
            label: label.to_owned(),
            plugin: plugin.to_owned(),
            part: part.map(str::to_owned),
        }
    }

    /// cpu (cpu, cpufreq, pressure), mem (meminfo, meminfo_numa, pressure), net (netdev,
    /// netclass), textfile (no parts) and a third-party bundle `acme` (one part).
    fn reported() -> Vec<CollectorSource> {
        vec![
            source("cpu", "cpu", Some("cpu")),
            source("cpufreq", "cpu", Some("cpufreq")),
            source("pressure", "cpu", Some("pressure")),
            source("pressure", "mem", Some("pressure")),
            source("meminfo", "mem", Some("meminfo")),
            source("meminfo_numa", "mem", Some("meminfo_numa")),
            source("netdev", "net", Some("netdev")),
            source("netclass", "net", Some("netclass")),
            source("textfile", "textfile", None),
            source("widgets", "acme", Some("widgets")),
        ]
    }

    fn query(q: &str) -> Result<Option<Selection>, String> {
        select(Some(q), reported())
    }

    fn kept(q: &str, families: &[(&str, &str)]) -> Vec<String> {
        let selection = query(q).unwrap().unwrap();
        families
            .iter()
            .filter(|(plugin, family)| selection.keeps(plugin, family))
            .map(|(_, family)| (*family).to_owned())
            .collect()
    }

    const FAMILIES: &[(&str, &str)] = &[
        ("cpu", "node_cpu_seconds_total"),
        ("cpu", "node_cpu_frequency_hertz"),
        ("cpu", "node_cpu_scaling_governor"),
        ("cpu", "node_pressure_cpu_waiting_seconds_total"),
        ("mem", "node_memory_MemFree_bytes"),
        ("mem", "node_memory_numa_MemFree"),
        ("mem", "node_pressure_memory_stalled_seconds_total"),
        ("net", "node_network_receive_bytes_total"),
        ("net", "node_network_transmit_queue_length"),
        ("net", "node_network_up"),
        ("textfile", "node_textfile_scrape_error"),
        ("textfile", "my_batch_job_last_success"),
        ("acme", "node_widgets_spun_total"),
        ("acme", "acme_other"),
    ];

    #[test]
    fn no_filter_serves_everything() {
        assert!(select(None, reported()).unwrap().is_none());
        assert!(query("").unwrap().is_none());
        assert!(query("foo=bar").unwrap().is_none());
    }

    #[test]
    fn collect_serves_only_the_named_collectors_families() {
        assert_eq!(
            kept("collect[]=cpu&collect[]=meminfo", FAMILIES),
            ["node_cpu_seconds_total", "node_memory_MemFree_bytes"]
        );
        assert_eq!(
            kept("collect%5B%5D=cpufreq", FAMILIES),
            ["node_cpu_frequency_hertz", "node_cpu_scaling_governor"]
        );
        // A shared part is one collector: its families in every plugin.
        assert_eq!(
            kept("collect[]=pressure&collect[]=pressure", FAMILIES),
            [
                "node_pressure_cpu_waiting_seconds_total",
                "node_pressure_memory_stalled_seconds_total"
            ]
        );
        assert_eq!(
            kept("collect[]=netdev", FAMILIES),
            ["node_network_receive_bytes_total"]
        );
        assert_eq!(
            kept("collect[]=netclass", FAMILIES),
            ["node_network_transmit_queue_length", "node_network_up"]
        );
        assert_eq!(
            kept("collect[]=textfile", FAMILIES),
            ["node_textfile_scrape_error", "my_batch_job_last_success"]
        );
        // An unknown part: node_<part>_, and what matches no part goes with its plugin.
        assert_eq!(
            kept("collect[]=widgets", FAMILIES),
            ["node_widgets_spun_total", "acme_other"]
        );
    }

    #[test]
    fn exclude_serves_the_other_enabled_collectors() {
        assert_eq!(
            kept(
                "exclude[]=cpu&exclude[]=netclass&exclude[]=textfile&exclude[]=acme&exclude[]=widgets&exclude[]=nonexistent",
                FAMILIES
            ),
            [
                "node_cpu_frequency_hertz",
                "node_cpu_scaling_governor",
                "node_pressure_cpu_waiting_seconds_total",
                "node_memory_MemFree_bytes",
                "node_memory_numa_MemFree",
                "node_pressure_memory_stalled_seconds_total",
                "node_network_receive_bytes_total",
            ]
        );
        // Excluding every collector leaves no filter: node_exporter then serves them all.
        let all = reported()
            .iter()
            .map(|c| format!("exclude[]={}", c.label))
            .collect::<Vec<_>>()
            .join("&");
        assert!(query(&all).unwrap().is_none());
    }

    #[test]
    fn bad_queries_get_node_exporters_messages() {
        assert_eq!(
            query("collect[]=cpu&exclude[]=meminfo").unwrap_err(),
            COMBINED_QUERY
        );
        assert_eq!(
            query("collect[]=cpu&collect[]=nope").unwrap_err(),
            "Couldn't create filtered metrics handler: couldn't create collector: missing collector: nope"
        );
        assert_eq!(
            query("collect[]=systemd").unwrap_err(),
            "Couldn't create filtered metrics handler: couldn't create collector: disabled collector: systemd"
        );
        assert_eq!(
            query("collect[]=").unwrap_err(),
            "Couldn't create filtered metrics handler: couldn't create collector: missing collector: "
        );
    }

    #[test]
    fn only_the_selected_collectors_scrape_series_are_kept() {
        let selection = query("collect[]=cpu").unwrap().unwrap();
        let mut families = vec![
            MetricFamily::gauge("node_scrape_collector_success", "s.")
                .with_sample(&[("collector", "cpu")], 1.0)
                .with_sample(&[("collector", "meminfo")], 1.0),
            MetricFamily::gauge("sonde_plugin_samples", "s.")
                .with_sample(&[("plugin", "mem")], 3.0),
        ];
        selection.retain_meta(&mut families);
        assert_eq!(families[0].samples.len(), 1);
        assert_eq!(families[0].samples[0].label("collector"), Some("cpu"));
        assert_eq!(families[1].samples.len(), 1);
    }
}
