//! Plugins built for an earlier 0.1.x plugin API keep running: `tests/fixtures/plugins` holds
//! components built by earlier sonde-sdk releases (see its README), loaded here as third-party
//! plugins by the current host.

use crate::support::fixtures;
use sonde::sandbox::grants::Grants;
use sonde::sandbox::{DEFAULT_READ_CAP, RootPaths, Sandbox};
use sonde::wasm::plugin::{Limits, Plugin};
use sonde::wasm::runtime::Runtime;
use sonde_sdk::Capability;
use std::sync::Arc;

#[test]
fn a_plugin_built_for_api_0_1_0_runs_on_this_host() {
    let tree = fixtures().join("node-exporter");
    let paths = RootPaths {
        procfs: tree.join("proc"),
        sysfs: tree.join("sys"),
        rootfs: tree.clone(),
    };
    let runtime = Arc::new(Runtime::new(Sandbox::open(paths, DEFAULT_READ_CAP)).unwrap());
    let wasm = std::fs::read(fixtures().join("plugins/mem-api-0.1.0.wasm")).unwrap();
    let component = wasmtime::component::Component::new(runtime.engine(), &wasm).unwrap();
    assert_eq!(
        sonde::wasm::plugin::api_version(runtime.engine(), &component).as_deref(),
        Some("0.1.0")
    );
    assert_ne!(sonde_sdk::API_VERSION, "0.1.0", "this host is newer");

    let grants = Grants::new([Capability::Proc]);
    let plugin = Plugin::load(&runtime, "mem", &wasm, grants, Limits::default()).unwrap();
    let families = plugin.collect("").unwrap();
    let total = families
        .iter()
        .find(|f| f.name == "node_memory_MemTotal_bytes")
        .expect("node_memory_MemTotal_bytes");
    // /proc/meminfo of node_exporter's fixture: MemTotal: 3742148 kB.
    assert_eq!(total.samples[0].value, 3_742_148.0 * 1024.0);

    // The 0.1.0 plugin answers through `collect` (a list of records), the built-in mem plugin
    // of this SDK through `collect-encoded` (one buffer): the same families either way.
    let builtin = sonde::wasm::builtin::builtin("mem").unwrap();
    let grants = Grants::new([Capability::Proc]);
    let current = Plugin::load(&runtime, "mem", builtin, grants, Limits::default()).unwrap();
    assert_eq!(current.collect("").unwrap(), families);
}
