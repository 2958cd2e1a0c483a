//! The built-in plugins, embedded in the binary by `build.rs`.

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

/// The component bytes of the built-in plugin `name`.
pub fn builtin(name: &str) -> Option<&'static [u8]> {
    BUILTIN_PLUGINS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, bytes)| *bytes)
}

/// The names of the built-in plugins.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTIN_PLUGINS.iter().map(|(name, _)| *name)
}

/// The node_exporter collectors whose series sonde's built-in plugins reproduce; benchmarks and
/// the live comparison run node_exporter with exactly these.
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
];
