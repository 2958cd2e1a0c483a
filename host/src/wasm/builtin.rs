//! The built-in plugins, embedded in the binary by `build.rs`: their components and the code
//! wasmtime compiled from them at build time.

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

/// The component bytes of the built-in plugin `name`.
pub fn builtin(name: &str) -> Option<&'static [u8]> {
    BUILTIN_PLUGINS
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|(_, bytes, _)| *bytes)
}

/// The built-in plugin `name` precompiled by wasmtime at build time, for this binary's target
/// and engine settings ([`crate::wasm::engine_config`]) on the architecture's baseline CPU (`None`
/// when built without the `precompiled-builtins` feature).
pub fn precompiled(name: &str) -> Option<&'static [u8]> {
    BUILTIN_PLUGINS
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|(.., artifact)| *artifact)
        .filter(|artifact| !artifact.is_empty())
}

/// The names of the built-in plugins.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTIN_PLUGINS.iter().map(|(name, ..)| *name)
}

/// The node_exporter collectors whose series sonde's built-in plugins reproduce; benchmarks and
/// the live comparison run node_exporter with exactly these ([`node_exporter_args`]).
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
