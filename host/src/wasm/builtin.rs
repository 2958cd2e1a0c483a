//! The built-in plugins, embedded in the binary by `build.rs`: their components and the code
//! wasmtime compiled from them at build time, each set one zstd frame ([`Builtins`]
//! decompresses them).

use std::cell::OnceCell;
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

/// Whether `name` is a built-in plugin.
pub fn is_builtin(name: &str) -> bool {
    BUILTIN_PLUGINS.iter().any(|(n, ..)| *n == name)
}

/// The component bytes of the built-in plugin `name` (decompressing all of them: to load
/// several, use one [`Builtins`]).
pub fn builtin(name: &str) -> Option<Vec<u8>> {
    Builtins::new().component(name).map(<[u8]>::to_vec)
}

/// The embedded plugins, decompressed on first use and freed when dropped: the components
/// (~4 MB) when a plugin is loaded, the precompiled code (~12 MB) only when a plugin needs it
/// (the compile cache has none yet).
#[derive(Default)]
pub struct Builtins {
    components: OnceCell<Vec<u8>>,
    precompiled: OnceCell<Vec<u8>>,
}

impl Builtins {
    /// Nothing decompressed yet.
    pub fn new() -> Builtins {
        Builtins::default()
    }

    /// The component of the built-in plugin `name`.
    pub fn component(&self, name: &str) -> Option<&[u8]> {
        let (_, range, _) = BUILTIN_PLUGINS.iter().find(|(n, ..)| *n == name)?;
        let all = self
            .components
            .get_or_init(|| decompress(COMPONENTS, |(_, r, _)| r));
        Some(&all[range.clone()])
    }

    /// Whether `name` was precompiled at build time, for this binary's target and engine
    /// settings ([`crate::wasm::engine_config`]) on the architecture's baseline CPU (not when
    /// built without the `precompiled-builtins` feature).
    pub fn has_precompiled(name: &str) -> bool {
        BUILTIN_PLUGINS
            .iter()
            .any(|(n, _, range)| *n == name && !range.is_empty())
    }

    /// The precompiled code of `name`, when [`Builtins::has_precompiled`].
    pub fn precompiled(&self, name: &str) -> Option<&[u8]> {
        let (_, _, range) = BUILTIN_PLUGINS.iter().find(|(n, ..)| *n == name)?;
        if range.is_empty() {
            return None;
        }
        let all = self
            .precompiled
            .get_or_init(|| decompress(PRECOMPILED, |(.., r)| r));
        Some(&all[range.clone()])
    }
}

type Entry = (&'static str, std::ops::Range<usize>, std::ops::Range<usize>);

/// The bytes of a frame `build.rs` wrote, whose plugins' ranges `range` picks.
fn decompress(frame: &[u8], range: fn(&Entry) -> &std::ops::Range<usize>) -> Vec<u8> {
    let size = BUILTIN_PLUGINS
        .iter()
        .map(|e| range(e).end)
        .max()
        .unwrap_or(0);
    let mut out = Vec::with_capacity(size);
    if size > 0 {
        ruzstd::decoding::FrameDecoder::new()
            .decode_all_to_vec(frame, &mut out)
            .expect("the embedded plugins were compressed by build.rs");
    }
    assert_eq!(out.len(), size, "the embedded plugins are whole");
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
    fn every_built_in_is_a_whole_component_with_its_precompiled_code() {
        let builtins = Builtins::new();
        for name in builtin_names() {
            let component = builtins.component(name).unwrap();
            // A component's preamble: magic, then version 0x0d and layer 1.
            assert_eq!(&component[..8], b"\0asm\x0d\0\x01\0", "{name}");
            use wasmtime::wasmparser::{Validator, WasmFeatures};
            Validator::new_with_features(WasmFeatures::all())
                .validate_all(component)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            if Builtins::has_precompiled(name) {
                // wasmtime's artifacts are ELF files.
                assert_eq!(
                    &builtins.precompiled(name).unwrap()[..4],
                    b"\x7fELF",
                    "{name}"
                );
            }
        }
        assert_eq!(builtin("cpu").as_deref(), builtins.component("cpu"));
        assert!(builtins.component("nonesuch").is_none());
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
