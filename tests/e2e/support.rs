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

/// A scripted HTTP response of [`Receiver`].
#[derive(Debug, Clone)]
pub struct Scripted {
    /// Status code.
    pub status: u16,
    /// Extra headers, e.g. `("Retry-After", "1")`.
    pub headers: Vec<(&'static str, String)>,
    /// Wait this long before answering (to provoke client timeouts).
    pub delay: std::time::Duration,
}

impl Scripted {
    /// A plain answer with `status`.
    pub fn status(status: u16) -> Self {
        Scripted {
            status,
            headers: Vec::new(),
            delay: std::time::Duration::ZERO,
        }
    }
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Header lines, lowercased names: `("content-encoding", "snappy")`.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: std::time::Instant,
}

/// A local HTTP server that answers requests with a script (then 200s), recording each request:
/// a remote-write receiver that misbehaves on demand.
pub struct Receiver {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The requests so far.
    pub received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Starts the server; it runs until the test process ends.
    pub fn start(script: Vec<Scripted>) -> Receiver {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = received.clone();
        let script = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::from(
            script,
        )));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                let script = script.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut headers = Vec::new();
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap_or(0);
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                            break;
                        }
                        if let Some((n, v)) = line.trim_end().split_once(':') {
                            headers.push((n.trim().to_lowercase(), v.trim().to_owned()));
                        }
                    }
                    let length: usize = headers
                        .iter()
                        .find(|(n, _)| n == "content-length")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    let _ = reader.read_exact(&mut body);
                    log.lock().unwrap().push(Received {
                        headers,
                        body,
                        at: std::time::Instant::now(),
                    });
                    let answer = script
                        .lock()
                        .unwrap()
                        .pop_front()
                        .unwrap_or(Scripted::status(200));
                    std::thread::sleep(answer.delay);
                    let mut stream = stream;
                    let mut response = format!(
                        "HTTP/1.1 {} X\r\nContent-Length: 2\r\nConnection: close\r\n",
                        answer.status
                    );
                    for (n, v) in &answer.headers {
                        response.push_str(&format!("{n}: {v}\r\n"));
                    }
                    response.push_str("\r\nok");
                    let _ = stream.write_all(response.as_bytes());
                });
            }
        });
        Receiver { port, received }
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}
