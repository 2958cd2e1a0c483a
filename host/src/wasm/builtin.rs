//! The built-in plugins, embedded in the binary by `build.rs`: their components and the code
//! wasmtime compiled from them at build time, both deflated (inflated when loaded).

use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

/// Whether `name` is a built-in plugin.
pub fn is_builtin(name: &str) -> bool {
    BUILTIN_PLUGINS.iter().any(|(n, ..)| *n == name)
}

/// The component bytes of the built-in plugin `name`.
pub fn builtin(name: &str) -> Option<Vec<u8>> {
    BUILTIN_PLUGINS
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|(_, deflated, _)| inflate(deflated))
}

/// The built-in plugin `name` precompiled by wasmtime at build time, for this binary's target
/// and engine settings ([`crate::wasm::engine_config`]) on the architecture's baseline CPU (`None`
/// when built without the `precompiled-builtins` feature), still deflated: the compile cache
/// holds it after the first start, and [`Precompiled::inflate`] is needed only when it does not.
pub fn precompiled(name: &str) -> Option<Precompiled> {
    BUILTIN_PLUGINS
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|(.., artifact)| Precompiled(artifact))
        .filter(|artifact| !artifact.0.is_empty())
}

/// A built-in's precompiled code as embedded (deflated).
#[derive(Debug, Clone, Copy)]
pub struct Precompiled(&'static [u8]);

impl Precompiled {
    /// The code, inflated (~1–1.5 MB a plugin).
    pub fn inflate(&self) -> Vec<u8> {
        inflate(self.0)
    }
}

/// Bytes `build.rs` deflated.
fn inflate(deflated: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(deflated.len() * 3);
    std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(deflated), &mut out)
        .expect("the embedded plugins were deflated by build.rs");
    out
}

/// The names of the built-in plugins.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTIN_PLUGINS.iter().map(|(name, ..)| *name)
}

/// What each built-in plugin is granted when its `[plugins.<name>]` table sets no `grants`: the
/// roots it reads, narrowed to the paths its collectors open, and the calls it makes. A root a
/// plugin reads at operator-chosen paths stays whole: the textfile directories and the udev
/// database are configured below the rootfs, and process groups read every `/proc/<pid>`.
/// The node_exporter fixture test runs every collector and expects no refused host call.
pub const DEFAULT_GRANTS: &[(&str, &[&str])] = &[
    (
        "cpu",
        &[
            "proc:stat",
            "proc:cpuinfo",
            "proc:loadavg",
            "proc:pressure/cpu",
            "proc:pressure/irq",
            "proc:schedstat",
            "proc:interrupts",
            "proc:softirqs",
            "sys:devices/system/cpu",
        ],
    ),
    (
        "disk",
        &[
            "proc:diskstats",
            "proc:pressure/io",
            "proc:1/mountinfo",
            "proc:self/mountinfo",
            "sys:block",
            "sys:fs/bcache",
            "sys:fs/btrfs",
            "sys:fs/xfs",
            "sys:fs/bcachefs",
            "rootfs",
            "statfs",
        ],
    ),
    (
        "hardware",
        &[
            "sys:class/hwmon",
            "sys:class/thermal",
            "sys:class/power_supply",
            "sys:class/powercap",
            "sys:class/dmi/id",
            "sys:class/watchdog",
            "sys:devices/system/edac/mc",
            "sys:bus/pci/devices",
            "rootfs:usr/share/misc/pci.ids",
            "rootfs:usr/share/hwdata/pci.ids",
        ],
    ),
    (
        "mem",
        &[
            "proc:meminfo",
            "proc:vmstat",
            "proc:pressure/memory",
            "proc:buddyinfo",
            "proc:zoneinfo",
            "proc:swaps",
            "proc:slabinfo",
            "sys:devices/system/node",
            "sys:kernel/mm/ksm",
        ],
    ),
    (
        "net",
        &[
            "proc:net",
            "proc:1/net",
            "proc:self/auxv",
            "proc:sys/net/netfilter",
            "sys:class/net",
            "sys:class/infiniband",
        ],
    ),
    (
        "nfs",
        &[
            "proc:net/rpc/nfs",
            "proc:net/rpc/nfsd",
            "proc:self/mountstats",
            "proc:self/mountinfo",
        ],
    ),
    ("process", &["proc"]),
    (
        "storage",
        &[
            "proc:mdstat",
            "proc:drbd",
            "sys:block",
            "sys:class/nvme",
            "sys:class/fc_host",
            "sys:class/scsi_tape",
        ],
    ),
    (
        "system",
        &[
            "proc:stat",
            "proc:sys",
            "proc:cgroups",
            "sys:devices/system/clocksource",
            "sys:fs/selinux/enforce",
            "rootfs:etc/os-release",
            "rootfs:usr/lib/os-release",
            "rootfs:etc/selinux/config",
            "timex",
        ],
    ),
    ("systemd", &["systemd"]),
    ("textfile", &["rootfs"]),
    ("zfs", &["proc:spl/kstat/zfs"]),
];

/// The built-ins that run only when their `[plugins.<name>]` table says `enabled = true`, as
/// node_exporter's collectors of the same name are off unless `--collector.<name>` is given.
pub const DISABLED_BY_DEFAULT: &[&str] = &["systemd"];

/// Whether the built-in `name` runs only when enabled ([`DISABLED_BY_DEFAULT`]).
pub fn disabled_by_default(name: &str) -> bool {
    DISABLED_BY_DEFAULT.contains(&name)
}

/// The grants of the built-in plugin `name` when its config sets none ([`DEFAULT_GRANTS`]).
pub fn default_grants(name: &str) -> Option<&'static [&'static str]> {
    DEFAULT_GRANTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, grants)| *grants)
}

/// Resolves the config values a built-in leaves to the agent: the `net` plugin's
/// `netns = "auto"` (its default) becomes `"host"` when the procfs root is not `/proc` and has a
/// pid 1 (the host's `/proc` mounted in a container, where `<procfs>/net` is the container's own
/// network namespace and `<procfs>/1/net` the host's), `"self"` otherwise (the agent's own
/// `/proc`, or a tree of files such as node_exporter's fixtures). `config` is the plugin's config
/// table.
pub fn resolve_auto_config(name: &str, config: &mut serde_json::Value, procfs: &Path) {
    if name != "net" {
        return;
    }
    let Some(table) = config.as_object_mut() else {
        return;
    };
    let auto = table
        .get("netns")
        .is_none_or(|netns| netns.as_str() == Some("auto"));
    if auto {
        let host = procfs != Path::new("/proc") && procfs.join("1/net").is_dir();
        let netns = if host { "host" } else { "self" };
        table.insert("netns".to_owned(), netns.into());
    }
}

/// The node_exporter collectors whose series sonde's built-in plugins reproduce with their
/// default config; benchmarks and the live comparison run node_exporter with exactly these
/// ([`node_exporter_args`]). Those Debian's node_exporter 1.5 lacks (dmmultipath, kernel_hung,
/// watchdog, bcachefs) are left out, so that it starts.
pub const NODE_EXPORTER_COLLECTORS: &[&str] = &[
    "cpu",
    "cpufreq",
    "loadavg",
    "pressure",
    "meminfo",
    "vmstat",
    "diskstats",
    "filesystem",
    "netdev",
    "netclass",
    "netstat",
    "sockstat",
    "softnet",
    "arp",
    "conntrack",
    "udp_queues",
    "processes",
    "stat",
    "uname",
    "os",
    "time",
    "timex",
    "filefd",
    "entropy",
    "schedstat",
    "selinux",
    "hwmon",
    "thermal_zone",
    "powersupplyclass",
    "rapl",
    "dmi",
    "edac",
    "mdadm",
    "nvme",
    "fibrechannel",
    "tapestats",
    "bcache",
    "btrfs",
    "xfs",
    "zfs",
    "nfs",
    "nfsd",
    "bonding",
    "infiniband",
    "ipvs",
];

/// node_exporter's command-line flags to run exactly [`NODE_EXPORTER_COLLECTORS`], without its
/// own `go_`/`promhttp_` metrics, listening on `listen` (e.g. `127.0.0.1:9100`).
pub fn node_exporter_args(listen: &str) -> Vec<String> {
    let mut args = vec![
        format!("--web.listen-address={listen}"),
        "--collector.disable-defaults".to_owned(),
        "--web.disable-exporter-metrics".to_owned(),
    ];
    args.extend(
        NODE_EXPORTER_COLLECTORS
            .iter()
            .map(|c| format!("--collector.{c}")),
    );
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::grants::Grants;

    #[test]
    fn net_namespace_is_the_hosts_when_procfs_is_not_the_agents() {
        use serde_json::json;
        // A procfs root elsewhere with a pid 1 (the host's /proc in a container), and a tree
        // of files without one.
        let host_proc = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(host_proc.path().join("1/net")).unwrap();
        let files = tempfile::tempdir().unwrap();
        let resolved = |name: &str, config: serde_json::Value, procfs: &str| {
            let mut config = config;
            let procfs = match procfs {
                "/host/proc" => host_proc.path(),
                "/fixture/proc" => files.path(),
                other => Path::new(other),
            };
            resolve_auto_config(name, &mut config, procfs);
            config
        };
        assert_eq!(
            resolved("net", json!({}), "/fixture/proc"),
            json!({"netns": "self"})
        );
        assert_eq!(
            resolved("net", json!({}), "/proc"),
            json!({"netns": "self"})
        );
        assert_eq!(
            resolved("net", json!({}), "/host/proc"),
            json!({"netns": "host"})
        );
        assert_eq!(
            resolved("net", json!({"netns": "auto", "arp": false}), "/host/proc"),
            json!({"netns": "host", "arp": false})
        );
        // What the config sets stays, and other plugins are left alone.
        assert_eq!(
            resolved("net", json!({"netns": "self"}), "/host/proc"),
            json!({"netns": "self"})
        );
        assert_eq!(
            resolved("net", json!({"netns": "host"}), "/proc"),
            json!({"netns": "host"})
        );
        assert_eq!(resolved("cpu", json!({}), "/host/proc"), json!({}));
    }

    #[test]
    fn every_built_in_has_default_grants_that_parse() {
        for name in builtin_names() {
            let grants = default_grants(name).unwrap_or_else(|| panic!("{name}: no grants"));
            let grants: Vec<String> = grants.iter().map(|g| (*g).to_owned()).collect();
            Grants::parse(&grants).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert_eq!(DEFAULT_GRANTS.len(), builtin_names().count());
    }

    #[test]
    fn default_grants_open_a_plugins_own_paths_and_nothing_beside_them() {
        use sonde_sdk::Root;
        let grants = |name: &str| {
            let list: Vec<String> = default_grants(name)
                .unwrap()
                .iter()
                .map(|g| (*g).to_owned())
                .collect();
            Grants::parse(&list).unwrap()
        };
        let hardware = grants("hardware");
        assert!(hardware.allows_path(Root::Sys, "class/hwmon/hwmon0/temp1_input"));
        assert!(!hardware.allows_path(Root::Sys, "block/sda/stat"));
        assert!(!hardware.allows_path(Root::Proc, "meminfo"));
        let system = grants("system");
        assert!(system.allows_path(Root::Rootfs, "etc/os-release"));
        assert!(!system.allows_path(Root::Rootfs, "etc/shadow"));
        let zfs = grants("zfs");
        assert!(zfs.allows_path(Root::Proc, "spl/kstat/zfs/tank/objset-0x1"));
        assert!(!zfs.allows_path(Root::Proc, "1/environ"));
        assert!(!zfs.allows_path(Root::Sys, "class"));
        let storage = grants("storage");
        assert!(storage.allows_path(Root::Proc, "mdstat"));
        assert!(!storage.allows_path(Root::Proc, "self/mountinfo"));
    }
}
