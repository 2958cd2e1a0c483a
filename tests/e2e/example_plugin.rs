//! The example third-party plugin (`examples/cgroups`, built against the SDK only), built to
//! wasm and loaded into the agent by path with its grants, as an operator would, on the
//! example's fixture tree (a cgroup v2 hierarchy shaped like a systemd Kubernetes node).

use crate::support::{parse_exposition, workspace};
use std::path::PathBuf;
use std::process::Command;

/// Builds `examples/cgroups` for wasm32-wasip2 (its own workspace) and returns the component.
fn build_example() -> PathBuf {
    let target = workspace().join("target/example-cgroups");
    let status = Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(workspace().join("examples/cgroups/Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .unwrap();
    assert!(status.success(), "building examples/cgroups failed");
    target.join("wasm32-wasip2/release/sonde_plugin_cgroups.wasm")
}

/// `sonde collect --once` with only the example plugin, granted `grants`.
fn collect(grants: &str) -> (Option<i32>, String, String) {
    let wasm = build_example();
    let sys = workspace().join("examples/cgroups/tests/fixtures/sys");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sonde.toml");
    let builtins: String = sonde::wasm::builtin::builtin_names()
        .map(|name| format!("[plugins.{name}]\nenabled = false\n"))
        .collect();
    std::fs::write(
        &config,
        format!(
            r#"[global]
cache_dir = {cache:?}
[paths]
sysfs = {sys:?}
{builtins}
[plugins.cgroups]
path = {wasm:?}
{grants}
"#,
            cache = dir.path().join("cache"),
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sonde"))
        .args(["collect", "--once", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_example_plugin_runs_in_the_agent_on_its_grant() {
    let (code, stdout, stderr) = collect(r#"grants = ["sys:fs/cgroup"]"#);
    assert_eq!(code, Some(0), "{stderr}");
    let ours = parse_exposition(&stdout);
    let fixture = workspace().join("examples/cgroups/tests/fixtures/sys/fs/cgroup");
    for service in ["sshd.service", "containerd.service"] {
        let current: f64 = std::fs::read_to_string(
            fixture
                .join("system.slice")
                .join(service)
                .join("memory.current"),
        )
        .unwrap()
        .trim()
        .parse()
        .unwrap();
        let series = format!("cgroup_memory_usage_bytes{{cgroup=\"/system.slice/{service}\"}}");
        assert_eq!(ours.get(&series), Some(&current), "{series}\n{stdout}");
    }
    assert!(
        stdout.contains("node_scrape_collector_success{collector=\"cgroups\"} 1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("sonde_plugin_refused_host_calls_total{plugin=\"cgroups\"} 0"),
        "{stdout}"
    );
}

#[test]
fn a_grant_elsewhere_refuses_the_reads_and_says_so() {
    let (_, stdout, stderr) = collect(r#"grants = ["sys:class/hwmon"]"#);
    assert!(!stdout.contains("cgroup_memory_usage_bytes{"), "{stdout}");
    assert!(stderr.contains("refused a plugin's host call"), "{stderr}");
}

#[test]
fn without_grants_the_config_is_refused_naming_the_plugin_and_what_it_needs() {
    // A plugin that cannot load makes the whole config invalid (exit 2, nothing collected), as
    // `check-config` and `run` refuse it: no command starts half-configured.
    let (code, stdout, stderr) = collect("");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("[plugins.cgroups]: the plugin needs sys but is not granted sys"),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "nothing is collected: {stdout}");
}
