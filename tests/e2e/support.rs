//! Shared helpers: paths, the test plugins (built to wasm on first use), a runtime over a tree.

use sonde::sandbox::grants::Grants;
use sonde::sandbox::{DEFAULT_READ_CAP, RootPaths, Sandbox};
use sonde::wasm::plugin::{Limits, Plugin};
use sonde::wasm::runtime::Runtime;
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
        ..RootPaths::default()
    };
    Arc::new(Runtime::new(Sandbox::open(paths, DEFAULT_READ_CAP)).unwrap())
}

/// Loads a built-in plugin with the grants it declares.
pub fn builtin(runtime: &Arc<Runtime>, name: &str) -> Plugin {
    let wasm = sonde::wasm::builtin::builtin(name).unwrap();
    let mut plugin =
        Plugin::load(runtime, name, &wasm, Grants::default(), Limits::default()).unwrap();
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
    // A child acting as an old kernel cannot run cargo (OpenSSL wants `getrandom`): its
    // parent built the plugin.
    if !built.iter().any(|b| b == name) && !crate::old_kernel::acting_as_old_kernel() {
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

/// Whether a real peer this test runs against (Prometheus, node_exporter) is installed at `path`.
/// When it is not, the test is skipped with a message on stdout and stderr, unless
/// `SONDE_REQUIRE_PEERS` is set (as `.ci/run` sets it): then a missing peer fails the test, so a
/// CI that lost its peers cannot pass by skipping what they test.
pub fn peer_installed(path: &str, package: &str) -> bool {
    if Path::new(path).exists() {
        return true;
    }
    let message = format!("{path} is not installed (apt-get install {package})");
    assert!(
        std::env::var_os("SONDE_REQUIRE_PEERS").is_none(),
        "{message}, and SONDE_REQUIRE_PEERS is set"
    );
    println!("\n*** SKIPPED: {message} ***\n");
    eprintln!("\n*** SKIPPED: {message} ***\n");
    false
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

/// `GET http://127.0.0.1:<port><path>` with HTTP/1.0: the status code and the body, whatever
/// the status.
pub fn http_get_status(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of header"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head}")))?;
    Ok((status, body.to_owned()))
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
    /// What is sent after the request is read.
    pub action: Action,
}

/// How [`Receiver`] answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A response with the status, headers and a two-byte body.
    Answer,
    /// A response whose body is this many bytes (sent until the client hangs up).
    Body(usize),
    /// The connection is reset (RST), nothing is answered.
    Reset,
    /// Bytes that are not HTTP.
    Garbage,
}

impl Scripted {
    /// A plain answer with `status`.
    pub fn status(status: u16) -> Self {
        Scripted {
            status,
            headers: Vec::new(),
            delay: std::time::Duration::ZERO,
            action: Action::Answer,
        }
    }

    /// `status` with a body of `bytes` bytes.
    pub fn with_body(status: u16, bytes: usize) -> Self {
        Scripted {
            action: Action::Body(bytes),
            ..Scripted::status(status)
        }
    }

    /// A redirect with `status` to `location`.
    pub fn redirect(status: u16, location: String) -> Self {
        let mut scripted = Scripted::status(status);
        scripted.headers.push(("Location", location));
        scripted
    }

    /// A connection reset instead of an answer.
    pub fn reset() -> Self {
        Scripted {
            action: Action::Reset,
            ..Scripted::status(0)
        }
    }

    /// Garbage instead of an answer.
    pub fn garbage() -> Self {
        Scripted {
            action: Action::Garbage,
            ..Scripted::status(0)
        }
    }
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request line, e.g. `POST /api/v1/write HTTP/1.1`.
    pub request_line: String,
    /// Header lines, lowercased names: `("content-encoding", "snappy")`.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: std::time::Instant,
    /// The status it was answered with.
    pub status: u16,
}

type Script = std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<Scripted>>>;
type Log = std::sync::Arc<std::sync::Mutex<Vec<Received>>>;

/// A local HTTP server that answers requests with a script (then 200s), recording each request:
/// a remote-write receiver that misbehaves on demand.
pub struct Receiver {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The requests so far.
    pub received: Log,
}

impl Receiver {
    /// Starts the server; it runs until the test process ends.
    pub fn start(script: Vec<Scripted>) -> Receiver {
        Self::serve(script, Scripted::status(200), None)
    }

    /// Starts a server that answers every request as `answer` (a receiver that is down in some
    /// way for as long as the test runs).
    pub fn always(answer: Scripted) -> Receiver {
        Self::serve(Vec::new(), answer, None)
    }

    /// Starts the server behind TLS with `config` (its certificate).
    pub fn start_tls(
        script: Vec<Scripted>,
        config: std::sync::Arc<rustls::ServerConfig>,
    ) -> Receiver {
        Self::serve(script, Scripted::status(200), Some(config))
    }

    fn serve(
        script: Vec<Scripted>,
        then: Scripted,
        tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    ) -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received: Log = Default::default();
        let log = received.clone();
        let script: Script = std::sync::Arc::new(std::sync::Mutex::new(script.into()));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, script, tls, then) =
                    (log.clone(), script.clone(), tls.clone(), then.clone());
                std::thread::spawn(move || match tls {
                    Some(config) => {
                        let Ok(connection) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        let tcp = stream.try_clone().unwrap();
                        let stream = rustls::StreamOwned::new(connection, stream);
                        answer(stream, &tcp, &log, &script, &then);
                    }
                    None => {
                        let tcp = stream.try_clone().unwrap();
                        answer(stream, &tcp, &log, &script, &then);
                    }
                });
            }
        });
        Receiver { port, received }
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The samples of the remote-write requests answered 2xx so far: how many in all, and the
    /// timestamps (ms) of those of the metric `name`, in arrival order (repeats kept).
    pub fn accepted_samples(&self, name: &str) -> (u64, Vec<i64>) {
        let (mut total, mut times) = (0, Vec::new());
        for request in self.requests() {
            if !(200..300).contains(&request.status) {
                continue;
            }
            let decoded = sonde::remote_write::encode::decode(&request.body).unwrap();
            for series in decoded.timeseries {
                total += series.samples.len() as u64;
                if series
                    .labels
                    .iter()
                    .any(|l| l.name == "__name__" && l.value == name)
                {
                    times.extend(series.samples.iter().map(|s| s.timestamp));
                }
            }
        }
        (total, times)
    }
}

/// Reads one request from `stream`, records it and answers with the next scripted action.
fn answer(
    mut stream: impl std::io::Read + std::io::Write,
    tcp: &std::net::TcpStream,
    log: &Log,
    script: &Script,
    then: &Scripted,
) {
    use std::io::{BufRead, BufReader, Read};
    let mut reader = BufReader::new(&mut stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return; // e.g. a TLS handshake the client gave up on
    }
    let mut headers = Vec::new();
    let mut line = String::new();
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
    drop(reader);
    let at = std::time::Instant::now();
    // Requests on parallel connections may be logged in another order than they take their
    // scripted answers, so each logged request carries the status it gets.
    let scripted = script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| then.clone());
    log.lock().unwrap().push(Received {
        request_line: request_line.trim_end().to_owned(),
        headers,
        body,
        at,
        status: scripted.status,
    });
    std::thread::sleep(scripted.delay);
    let head = |length: usize| {
        let mut head = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {length}\r\nConnection: close\r\n",
            scripted.status
        );
        for (n, v) in &scripted.headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str("\r\n");
        head
    };
    match scripted.action {
        Action::Answer => {
            let _ = stream.write_all(format!("{}ok", head(2)).as_bytes());
        }
        Action::Body(bytes) => {
            let _ = stream.write_all(head(bytes).as_bytes());
            let chunk = vec![b'x'; 64 << 10];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(chunk.len());
                if stream.write_all(&chunk[..n]).is_err() {
                    break; // the client hung up, as it should
                }
                left -= n;
            }
        }
        Action::Reset => {
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: sets SO_LINGER on a socket we own; closing it then sends a RST.
            unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(tcp),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
        }
        Action::Garbage => {
            let _ = stream.write_all(b"\x00\xffSSH-2.0-not-http\r\n\x16\x03garbage\r\n\r\n");
        }
    }
    let _ = stream.flush();
}
