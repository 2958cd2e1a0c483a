//! Plugins built for an earlier plugin API keep running: `tests/fixtures/plugins` holds
//! components built by earlier sonde-sdk releases (see its README), loaded here as third-party
//! plugins by the current host.

use crate::support::fixtures;
use sonde::sandbox::grants::Grants;
use sonde::sandbox::{DEFAULT_READ_CAP, RootPaths, Sandbox};
use sonde::wasm::plugin::{Limits, Plugin};
use sonde::wasm::runtime::Runtime;
use sonde_sdk::Capability;
use std::sync::Arc;

/// Loads `tests/fixtures/plugins/<file>`, built for plugin API `api`, on node_exporter's fixture
/// tree, and checks that it collects the same families as the built-in mem plugin of this SDK.
fn old_mem_plugin_runs(file: &str, api: &str) {
    let tree = fixtures().join("node-exporter");
    let paths = RootPaths {
        procfs: tree.join("proc"),
        sysfs: tree.join("sys"),
        rootfs: tree.clone(),
        ..RootPaths::default()
    };
    let runtime = Arc::new(Runtime::new(Sandbox::open(paths, DEFAULT_READ_CAP)).unwrap());
    let wasm = std::fs::read(fixtures().join("plugins").join(file)).unwrap();
    let component = wasmtime::component::Component::new(runtime.engine(), &wasm).unwrap();
    assert_eq!(
        sonde::wasm::plugin::api_version(runtime.engine(), &component).as_deref(),
        Some(api)
    );
    assert_ne!(sonde_sdk::API_VERSION, api, "this host is newer");

    let grants = Grants::new([Capability::Proc]);
    let plugin = Plugin::load(&runtime, "mem", &wasm, grants, Limits::default()).unwrap();
    let families = plugin.collect("").unwrap();
    let total = families
        .iter()
        .find(|f| f.name == "node_memory_MemTotal_bytes")
        .expect("node_memory_MemTotal_bytes");
    // /proc/meminfo of node_exporter's fixture: MemTotal: 3742148 kB.
    assert_eq!(total.samples[0].value, 3_742_148.0 * 1024.0);

    // The old plugin answers through its API's `collect` (0.1.0: a list of records; 0.1.2:
    // `collect-encoded`, the config with every call; 0.2.0: `configure`, then `collect`), the
    // built-in mem plugin of this SDK through 0.2's `configure` and `collect`: the same
    // families either way.
    let builtin = sonde::wasm::builtin::builtin("mem").unwrap();
    let grants = Grants::new([Capability::Proc]);
    let current = Plugin::load(&runtime, "mem", &builtin, grants, Limits::default()).unwrap();
    assert_eq!(current.collect("").unwrap(), families);
}

#[test]
fn a_plugin_built_for_api_0_1_0_runs_on_this_host() {
    old_mem_plugin_runs("mem-api-0.1.0.wasm", "0.1.0");
}

#[test]
fn a_plugin_built_for_api_0_1_2_runs_on_this_host() {
    old_mem_plugin_runs("mem-api-0.1.2.wasm", "0.1.2");
}

#[test]
fn a_plugin_built_for_api_0_2_0_runs_on_this_host() {
    // Linked to 0.2.1's bindings by semver: it imports `host@0.2.0`, without `part-finished`.
    old_mem_plugin_runs("mem-api-0.2.0.wasm", "0.2.0");
}

#[test]
fn a_plugin_built_for_api_0_2_1_runs_on_this_host() {
    // 0.2.2's capability enum has a case more, so 0.2.1 components keep 0.2.1's bindings.
    old_mem_plugin_runs("mem-api-0.2.1.wasm", "0.2.1");
}

/// The `node_scrape_collector_success` lines after the component `old`, run as `old_mem`, and
/// the built-in mem plugin collected once through the agent's cycle.
fn scrape_series(old: &[u8]) -> Vec<String> {
    use sonde::agent::cycle::{Outgoing, Round, ScheduledPlugin};
    let tree = fixtures().join("node-exporter");
    let paths = RootPaths {
        procfs: tree.join("proc"),
        sysfs: tree.join("sys"),
        rootfs: tree.clone(),
        ..RootPaths::default()
    };
    let runtime = Arc::new(Runtime::new(Sandbox::open(paths, DEFAULT_READ_CAP)).unwrap());
    let load = |name: &str, wasm: &[u8]| ScheduledPlugin {
        plugin: Arc::new(
            Plugin::load(
                &runtime,
                name,
                wasm,
                Grants::new([Capability::Proc]),
                Limits::default(),
            )
            .unwrap(),
        ),
        config_json: "{}".into(),
        interval: std::time::Duration::from_secs(15),
    };
    let builtin = sonde::wasm::builtin::builtin("mem").unwrap();
    let mut round = Round::local(vec![load("old_mem", old), load("mem", &builtin)]);
    assert!(round.run(&mut Outgoing::default()).is_empty());
    let mut families = round.sinks().stats.families();
    sonde_sdk::exposition::normalize(&mut families);
    sonde_sdk::exposition::render(&families)
        .lines()
        .filter(|l| l.starts_with("node_scrape_collector_success"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn plugins_built_before_api_0_2_1_keep_their_plugin_level_scrape_series() {
    // A component of API 0.2.0 (or 0.1.x) never reports parts: one series for the plugin, as
    // before; the built-in mem plugin of this SDK reports one per part.
    for file in ["mem-api-0.2.0.wasm", "mem-api-0.1.2.wasm"] {
        let old = std::fs::read(fixtures().join("plugins").join(file)).unwrap();
        assert_eq!(
            scrape_series(&old),
            [
                "node_scrape_collector_success{collector=\"meminfo\"} 1",
                "node_scrape_collector_success{collector=\"old_mem\"} 1",
                "node_scrape_collector_success{collector=\"pressure\"} 1",
                "node_scrape_collector_success{collector=\"vmstat\"} 1",
            ],
            "{file}"
        );
    }
}
