//! Shared helpers: paths, the test plugins (built to wasm on first use), a runtime over a tree.

use sonde::grants::Grants;
use sonde::plugin::{Limits, Plugin};
use sonde::runtime::Runtime;
use sonde::sandbox::{DEFAULT_READ_CAP, RootPaths, Sandbox};
use sonde_sdk::Capability;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `tests/fixtures`.
pub fn fixtures() -> PathBuf {
    workspace().join("tests/fixtures")
}

/// A runtime whose roots are the given directories (missing ones are served as absent).
pub fn runtime(procfs: &Path) -> Arc<Runtime> {
    let paths = RootPaths {
        procfs: procfs.to_path_buf(),
        sysfs: procfs.join("../sys"),
        rootfs: procfs.join(".."),
    };
    Arc::new(Runtime::new(Sandbox::open(paths, DEFAULT_READ_CAP)).unwrap())
}

/// Loads a built-in plugin with the grants it declares.
pub fn builtin(runtime: &Arc<Runtime>, name: &str) -> Plugin {
    let wasm = sonde::builtin::builtin(name).unwrap();
    let mut plugin =
        Plugin::load(runtime, name, wasm, Grants::default(), Limits::default()).unwrap();
    plugin.set_grants(Grants::new(plugin.info().needs.iter().copied()));
    plugin
}

/// Loads the test plugin `tests/plugins/<name>` with `grants` and `limits`.
pub fn test_plugin(
    runtime: &Arc<Runtime>,
    name: &str,
    grants: &[Capability],
    limits: Limits,
) -> Plugin {
    let wasm = std::fs::read(test_plugin_path(name)).unwrap();
    Plugin::load(
        runtime,
        name,
        &wasm,
        Grants::new(grants.iter().copied()),
        limits,
    )
    .unwrap()
}

/// Builds `tests/plugins/<name>` for wasm32-wasip2 (once per test run) and returns its path.
pub fn test_plugin_path(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let target_dir = target_root().join("wasm-plugins");
    let wasm = target_dir
        .join("wasm32-wasip2/plugin")
        .join(format!("sonde_test_plugin_{name}.wasm"));
    let mut built = BUILT.lock().unwrap();
    if !built.iter().any(|b| b == name) {
        let status = Command::new(option_env!("CARGO").unwrap_or("cargo"))
            .current_dir(workspace())
            .args([
                "build",
                "--quiet",
                "--profile",
                "plugin",
                "--target",
                "wasm32-wasip2",
            ])
            .arg("-p")
            .arg(format!("sonde-test-plugin-{name}"))
            .arg("--target-dir")
            .arg(&target_dir)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .status()
            .expect("run cargo");
        assert!(status.success(), "building test plugin {name} failed");
        built.push(name.to_owned());
    }
    wasm
}

/// The cargo target directory this test binary was built in.
fn target_root() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .find(|p| p.join("CACHEDIR.TAG").exists())
        .expect("test binary inside a cargo target dir")
        .to_path_buf()
}

/// The series of an exposition text: `name{labels}` → value, without `#` lines. Label values may
/// contain spaces, so the value is what follows the last space.
pub fn parse_exposition(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().ok()?,
            };
            Some((series.to_owned(), value))
        })
        .collect()
}

/// The metric name of a series key `name{…}`.
pub fn metric_name(series: &str) -> &str {
    series.split('{').next().unwrap_or(series)
}

/// A child process killed when dropped (a receiver or exporter started by a test).
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET http://127.0.0.1:<port><path>` with HTTP/1.0; the body, or an error.
pub fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    match response.split_once("\r\n\r\n") {
        Some((head, body))
            if head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200") =>
        {
            Ok(body.to_owned())
        }
        _ => Err(std::io::Error::other(format!(
            "bad response: {}",
            response.lines().next().unwrap_or("")
        ))),
    }
}
