//! `sonde run`, the daemon, as operators run it: misbehaving plugins are contained while the
//! others keep their schedule and `/metrics` keeps answering; per-plugin enable, disable and
//! interval; SIGHUP reload (add, remove, reconfigure, bad config); SIGTERM flushes the queue.

use crate::support::{
    KillOnDrop, Receiver, free_port, http_get, parse_exposition, test_plugin_path,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A running `sonde run` with its config file, HTTP port and log file.
pub struct Daemon {
    process: KillOnDrop,
    config: PathBuf,
    /// Its /metrics port.
    pub port: u16,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl Daemon {
    /// Starts sonde with `body` (without `[http]`, which is added) and waits until it is ready.
    pub fn start(body: &str) -> Daemon {
        Self::start_with(body, "", None)
    }

    /// [`Daemon::start`] with more `[http]` keys and, if given, a descriptor limit.
    pub fn start_with(body: &str, http: &str, max_files: Option<u64>) -> Daemon {
        let daemon = Self::spawn_with(body, http, max_files);
        daemon.wait_for(Duration::from_secs(60), |_| true);
        daemon
    }

    /// [`Daemon::start_with`] without waiting for plain HTTP `/metrics` (an endpoint behind
    /// TLS or basic auth never answers [`http_get`]).
    pub fn spawn_with(body: &str, http: &str, max_files: Option<u64>) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("sonde.toml");
        let log = dir.path().join("sonde.log");
        write_config(
            &config,
            port,
            dir.path(),
            &format!("{body}\n[http]\n{http}"),
        );
        let process = spawn(&config, &log, max_files);
        Daemon {
            process,
            config,
            port,
            log,
            dir,
        }
    }

    /// Stops sonde with SIGKILL and waits for it (nothing flushed).
    pub fn kill9(&mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.process.0.wait();
    }

    /// Starts sonde again (after [`Daemon::kill9`]).
    pub fn restart(&mut self) {
        self.process = spawn(&self.config, &self.log, None);
        self.wait_for(Duration::from_secs(60), |_| true);
    }

    /// Sends SIGTERM and waits for sonde to exit (panics after `within`); its exit status.
    pub fn terminate(&self, within: Duration) -> std::process::ExitStatus {
        self.signal(libc::SIGTERM);
        let started = Instant::now();
        loop {
            // SAFETY: waitpid on our own child, without reaping anything else.
            let mut status = 0;
            let pid = unsafe { libc::waitpid(self.pid() as i32, &mut status, libc::WNOHANG) };
            if pid > 0 {
                use std::os::unix::process::ExitStatusExt;
                return std::process::ExitStatus::from_raw(status);
            }
            assert!(
                started.elapsed() < within,
                "did not exit {within:?} after SIGTERM; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process id of sonde.
    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }

    /// The directory with the config, the log and the state.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn rewrite(&self, body: &str) {
        write_config(&self.config, self.port, self.config.parent().unwrap(), body);
    }

    /// Sends a signal to sonde.
    pub fn signal(&self, signal: i32) {
        // SAFETY: sends a signal to our own child process.
        unsafe { libc::kill(self.process.0.id() as i32, signal) };
    }

    /// The current /metrics, parsed.
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        parse_exposition(&http_get(self.port, "/metrics").unwrap())
    }

    /// What sonde's queue for `endpoint` logged when it stopped with nothing left: the samples
    /// it delivered and those the receiver refused for good (`sent`, `failed`) since its start.
    pub fn flushed(&self, endpoint: &str) -> Option<(u64, u64)> {
        let field = |line: &str, key: &str| -> Option<u64> {
            let start = line.find(&format!(" {key}="))? + key.len() + 2;
            line[start..].split(' ').next()?.parse().ok()
        };
        self.log()
            .lines()
            .rfind(|l| l.contains("queue flushed") && l.contains(&format!("endpoint={endpoint} ")))
            .map(|line| (field(line, "sent").unwrap(), field(line, "failed").unwrap()))
    }

    /// Waits until sonde logged `line` `times` times (panics after `within`); the log.
    pub fn wait_for_log(&self, line: &str, times: usize, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let log = self.log();
            if log.matches(line).count() >= times {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "no {line:?} x{times}; log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What sonde logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `/metrics` answers and `check` holds, or panics with the log.
    pub fn wait_for(
        &self,
        within: Duration,
        check: impl Fn(&BTreeMap<String, f64>) -> bool,
    ) -> BTreeMap<String, f64> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(text) = http_get(self.port, "/metrics") {
                let metrics = parse_exposition(&text);
                if !metrics.is_empty() && check(&metrics) {
                    return metrics;
                }
            }
            assert!(
                Instant::now() < deadline,
                "condition not met in {within:?}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn spawn(config: &Path, log: &Path, max_files: Option<u64>) -> KillOnDrop {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_sonde"));
    command
        .args(["run", "--config", config.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log);
    if let Some(files) = max_files {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe; it runs in the child before exec.
        unsafe {
            command.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: files,
                    rlim_max: files,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    KillOnDrop(command.spawn().unwrap())
}

/// Writes a config: the cache and state directories in `dir`, then `body`, then the listen
/// address at the end of `body`'s `[http]` table (or of a new one).
fn write_config(path: &Path, port: u16, dir: &Path, body: &str) {
    let listen = format!("listen = \"127.0.0.1:{port}\"\n");
    let body = match body.find("\n[http]\n") {
        Some(at) => format!("{}\n[http]\n{listen}{}", &body[..at], &body[at + 8..]),
        None => format!("{body}\n[http]\n{listen}"),
    };
    let text = format!(
        "[global]\ncache_dir = {:?}\nstate_dir = {:?}\n{body}\n",
        dir.join("cache"),
        dir.join("state")
    );
    std::fs::write(path, text).unwrap();
}

/// A value of the parsed /metrics, NaN when absent.
pub fn value(metrics: &BTreeMap<String, f64>, series: &str) -> f64 {
    metrics.get(series).copied().unwrap_or(f64::NAN)
}

/// The built-ins other than cpu, disabled.
pub const ONLY_CPU: &str = "[plugins.mem]\nenabled = false\n[plugins.disk]\nenabled = false\n[plugins.net]\nenabled = false\n[plugins.process]\nenabled = false\n[plugins.system]\nenabled = false\n[plugins.textfile]\nenabled = false\n[plugins.hardware]\nenabled = false\n[plugins.storage]\nenabled = false\n[plugins.zfs]\nenabled = false\n[plugins.nfs]\nenabled = false\n";

#[test]
fn only_cpu_disables_every_other_built_in() {
    let runs_by_default = |n: &&str| !sonde::wasm::builtin::disabled_by_default(n);
    for name in sonde::wasm::builtin::builtin_names()
        .filter(|n| *n != "cpu")
        .filter(runs_by_default)
    {
        let disabled = format!("[plugins.{name}]\nenabled = false\n");
        assert!(ONLY_CPU.contains(&disabled), "{name}");
    }
}

/// A procfs tree whose ZFS has `pools` pools of `datasets` datasets each (one `objset-*` file
/// per dataset, as on a real host), with node_exporter fixture's `stat` for the cpu plugin.
fn zfs_tree(pools: usize, datasets: usize) -> sonde_sdk::testing::Tree {
    let fixture = crate::support::fixtures().join("node-exporter/proc");
    let tree = sonde_sdk::testing::Tree::new("agent-zfs");
    for file in ["stat", "loadavg", "spl/kstat/zfs/arcstats"] {
        tree.file(
            format!("proc/{file}"),
            std::fs::read(fixture.join(file)).unwrap(),
        );
    }
    let pool1 = fixture.join("spl/kstat/zfs/pool1");
    for pool in 0..pools {
        let dir = format!("proc/spl/kstat/zfs/tank{pool}");
        for file in ["io", "state"] {
            tree.file(
                format!("{dir}/{file}"),
                std::fs::read(pool1.join(file)).unwrap(),
            );
        }
        for dataset in 0..datasets {
            tree.file(
                format!("{dir}/objset-0x{dataset:x}"),
                format!(
                    "23 1 0x01 7 2160 221578688875 6665999035587\n\
                     name                            type data\n\
                     dataset_name                    7    tank{pool}/ds{dataset}\n\
                     writes                          4    {dataset}\n\
                     nwritten                        4    0\n\
                     reads                           4    0\n\
                     nread                           4    0\n\
                     nunlinks                        4    0\n\
                     nunlinked                       4    0\n"
                ),
            );
        }
    }
    tree
}

#[test]
fn a_zfs_with_thousands_of_datasets_does_not_hold_the_other_plugins() {
    // 4 pools of 2,500 datasets: node_exporter reads one objset file per dataset (60,000
    // series here), the slowest source a host has. cpu, in the same 1 s group, keeps its
    // interval: a plugin that takes over a quarter of it moves to a thread of its own.
    // zfs gets 5 s (a debug build on a loaded 2-core machine needs over 1 s for 10,000 files).
    let tree = zfs_tree(4, 2_500);
    let body = format!(
        "interval = \"1s\"\n[paths]\nprocfs = {:?}\n{}",
        tree.path().join("proc"),
        ONLY_CPU.replace(
            "[plugins.zfs]\nenabled = false\n",
            "[plugins.zfs]\ninterval = \"5s\"\ntimeout = \"5s\"\n"
        ),
    );
    let daemon = Daemon::start(&body);
    let started = Instant::now();
    let metrics = daemon.wait_for(Duration::from_secs(60), |m| {
        value(m, r#"sonde_plugin_cycles_total{plugin="zfs"}"#) >= 2.0
            && value(m, r#"sonde_plugin_cycles_total{plugin="cpu"}"#) >= 5.0
    });
    let elapsed = started.elapsed().as_secs_f64();
    let datasets = metrics
        .keys()
        .filter(|k| k.starts_with("node_zfs_zpool_dataset_writes{"))
        .count();
    assert_eq!(datasets, 10_000);
    assert_eq!(
        value(
            &metrics,
            r#"node_zfs_zpool_dataset_writes{dataset="tank3/ds2499",zpool="tank3"}"#
        ),
        2499.0
    );
    assert_eq!(
        value(
            &metrics,
            r#"node_scrape_collector_success{collector="zfs"}"#
        ),
        1.0
    );
    let cycles = value(&metrics, r#"sonde_plugin_cycles_total{plugin="cpu"}"#);
    let zfs_seconds = value(
        &metrics,
        r#"node_scrape_collector_duration_seconds{collector="zfs"}"#,
    );
    println!(
        "zfs of 10,000 datasets: {zfs_seconds:.3} s a collection; cpu {cycles} cycles in {elapsed:.1} s"
    );
    assert!(
        cycles >= elapsed * 0.6,
        "cpu ran {cycles} cycles in {elapsed:.1}s"
    );
}

#[test]
fn misbehaving_plugins_are_contained_while_cpu_keeps_its_interval() {
    let wasm = test_plugin_path("misbehave");
    let plugin = |name: &str, mode: &str, extra: &str| {
        format!(
            "[plugins.{name}]\npath = {wasm:?}\ngrants = [\"proc\"]\nconfig = {{ mode = \"{mode}\" }}\n{extra}\n"
        )
    };
    let body = format!(
        "interval = \"1s\"\n{ONLY_CPU}{}{}{}{}{}{}{}",
        plugin("looping", "loop", "timeout = \"300ms\""),
        plugin("hog", "oom", "memory_limit = \"16MiB\""),
        plugin("crasher", "trap", ""),
        plugin("flood", "flood", ""),
        plugin("deep", "recurse", ""),
        plugin("huge", "huge-labels", ""),
        // A gigabyte of log lines through 262,144 host calls takes ~0.5–0.9 s in a debug build:
        // more than the default timeout (the 1 s interval) on a loaded machine, which would
        // test the machine, not the log limits.
        plugin("chatty", "log-flood", "interval = \"3s\"\ntimeout = \"3s\""),
    );
    let daemon = Daemon::start(&body);
    let started = Instant::now();
    // A third-party component has no precompiled code: the cold cache had it compiled, once,
    // in a child process (Cranelift's memory is not kept by the agent); cpu's came precompiled.
    let log = daemon.log();
    let compiled_at_load = log.matches("compiled in a child process").count();
    assert_eq!(compiled_at_load, 1, "{log}");
    // Every misbehaviour is reported with its reason while cpu succeeds, cycle after cycle.
    let failures = |m: &BTreeMap<String, f64>, plugin: &str, reason: &str| {
        value(
            m,
            &format!(r#"sonde_plugin_failures_total{{plugin="{plugin}",reason="{reason}"}}"#),
        )
    };
    let metrics = daemon.wait_for(Duration::from_secs(30), |m| {
        value(m, r#"sonde_plugin_cycles_total{plugin="cpu"}"#) >= 5.0
            && [
                ("looping", "timeout"),
                ("hog", "memory_limit"),
                ("crasher", "trap"),
                ("deep", "trap"),
                ("huge", "invalid_output"),
            ]
            .iter()
            .all(|(plugin, reason)| failures(m, plugin, reason) >= 2.0)
            // A million series: whichever limit is met first.
            && failures(m, "flood", "memory_limit") + failures(m, "flood", "sample_limit") >= 1.0
            // Two collections of 2^18 lines each, 16 KiB of them let through (16 lines).
            && value(
                m,
                r#"sonde_plugin_dropped_log_lines_total{plugin="chatty"}"#,
            ) >= 2.0 * 262_128.0
    });
    let elapsed = started.elapsed().as_secs_f64() + 1.0;
    assert_eq!(
        value(
            &metrics,
            r#"node_scrape_collector_success{collector="cpu"}"#
        ),
        1.0
    );
    for failing in ["looping", "hog", "crasher", "flood", "deep", "huge"] {
        assert_eq!(
            value(
                &metrics,
                &format!(r#"node_scrape_collector_success{{collector="{failing}"}}"#)
            ),
            0.0
        );
    }
    // cpu kept its 1s interval: roughly one cycle per second since start.
    let cycles = value(&metrics, r#"sonde_plugin_cycles_total{plugin="cpu"}"#);
    assert!(
        cycles >= elapsed * 0.6,
        "cpu ran {cycles} cycles in {elapsed:.1}s"
    );
    assert!(
        metrics
            .keys()
            .any(|k| k.starts_with("node_cpu_seconds_total{"))
    );
    // /metrics answers quickly even while a plugin loops.
    for _ in 0..5 {
        let t = Instant::now();
        http_get(daemon.port, "/metrics").unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "/metrics took {:?}",
            t.elapsed()
        );
    }
    // The chatty plugin's collections succeed; only its log lines beyond 100 are dropped.
    assert_eq!(
        value(
            &metrics,
            r#"node_scrape_collector_success{collector="chatty"}"#
        ),
        1.0
    );
    // All of it together stays within a bounded footprint: the plugins' caps, not the abuse,
    // decide the agent's memory.
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.pid())).unwrap();
    let peak_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap();
    println!("peak RSS with every abuse running: {} MB", peak_kb / 1024);
    assert!(peak_kb < 400 << 10, "peak RSS {peak_kb} kB");
    let log = daemon.log();
    assert!(log.contains("timed out"), "{log}");
    // The looping plugin left the 1s group, so its timeouts no longer hold cpu back.
    assert!(
        log.contains("plugin=looping")
            && log.contains("it collects on a thread of its own from now on"),
        "{log}"
    );
    assert!(log.contains("misbehave: deliberate panic"), "{log}");
    assert!(log.contains("more than the 16384"), "{log}");
    assert!(
        log.contains("plugin logged too much; lines dropped"),
        "{log}"
    );
}

#[test]
fn enable_disable_intervals_and_sighup_reload() {
    let daemon = Daemon::start(&format!(
        "{}[plugins.cpu]\ninterval = \"500ms\"\n",
        ONLY_CPU.replace(
            "[plugins.mem]\nenabled = false\n",
            "[plugins.mem]\ninterval = \"3s\"\n"
        )
    ));
    let metrics = daemon.wait_for(Duration::from_secs(20), |m| {
        value(m, r#"sonde_plugin_cycles_total{plugin="cpu"}"#) >= 6.0
    });
    assert!(metrics.contains_key("node_load1"));
    assert!(metrics.contains_key("node_memory_MemTotal_bytes"));
    assert!(
        !metrics.keys().any(|k| k.starts_with("node_network_")),
        "net is disabled"
    );
    let mem_cycles = value(&metrics, r#"sonde_plugin_cycles_total{plugin="mem"}"#);
    assert!(
        mem_cycles <= 2.0,
        "mem (3s) ran {mem_cycles} cycles while cpu (500ms) ran 6"
    );
    // A cold compile cache: the built-ins started on the code precompiled at build time (no
    // compilation before the first samples), then their code for this CPU was compiled in the
    // background and given to them.
    let compiled = format!("{SWITCHED_TO_NATIVE_CODE} plugins=2");
    let log = daemon.wait_for_log(&compiled, 1, Duration::from_secs(60));
    assert!(
        log.find("sonde is running").unwrap() < log.find(&compiled).unwrap(),
        "{log}"
    );
    assert!(!log.contains("compiled in a child process"), "{log}");
    assert_eq!(
        artifacts(&daemon.dir().join("cache")),
        (2, 0),
        "cpu and mem"
    );
    // They go on collecting on the new code, on their schedule.
    let cycles = value(
        &daemon.metrics(),
        r#"sonde_plugin_cycles_total{plugin="cpu"}"#,
    );
    let metrics = daemon.wait_for(Duration::from_secs(10), |m| {
        value(m, r#"sonde_plugin_cycles_total{plugin="cpu"}"#) >= cycles + 2.0
    });
    assert_eq!(
        value(
            &metrics,
            r#"node_scrape_collector_success{collector="cpu"}"#
        ),
        1.0
    );

    // Reload: cpu reconfigured (no load averages), mem removed, system added.
    daemon.rewrite(&format!(
        "{}[plugins.cpu]\ninterval = \"500ms\"\nconfig = {{ loadavg = false }}\n",
        ONLY_CPU.replace("[plugins.system]\nenabled = false\n", "")
    ));
    daemon.signal(libc::SIGHUP);
    let metrics = daemon.wait_for(Duration::from_secs(20), |m| {
        !m.contains_key("node_load1") && m.contains_key("node_boot_time_seconds")
    });
    assert!(
        !metrics.contains_key("node_memory_MemTotal_bytes"),
        "mem was removed"
    );
    assert!(!metrics.keys().any(|k| k.contains(r#"plugin="mem""#)));
    // The reload loaded cpu's code for this CPU from the cache; the new plugin started on its
    // precompiled code, and its own was compiled in turn.
    let log = daemon.wait_for_log(
        &format!("{SWITCHED_TO_NATIVE_CODE} plugins=1"),
        1,
        Duration::from_secs(60),
    );
    assert!(!log.contains("compiled in a child process"), "{log}");
    assert_eq!(
        artifacts(&daemon.dir().join("cache")),
        (3, 0),
        "cpu, mem, system"
    );

    // A bad config is refused; the running one stays.
    std::fs::write(&daemon.config, "[plugins.cpu]\ninterval = \"soon\"\n").unwrap();
    daemon.signal(libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !daemon.log().contains("reload failed") {
        assert!(Instant::now() < deadline, "{}", daemon.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(daemon.log().contains("sonde.toml:2:12"), "{}", daemon.log());
    let metrics = daemon.metrics();
    assert!(metrics.contains_key("node_boot_time_seconds"));
    assert_eq!(http_get(daemon.port, "/-/healthy").unwrap(), "OK\n");
}

#[test]
fn sigterm_flushes_queued_samples_and_exits_0() {
    crate::old_kernel::act_as_old_kernel_if_asked();
    let receiver = Receiver::start(vec![]);
    let daemon = Daemon::start(&format!(
        "interval = \"1s\"\n{ONLY_CPU}[[remote_write]]\nurl = \"http://127.0.0.1:{}/api/v1/write\"\nsend_metadata = true\nqueue = {{ batch_send_deadline = \"1h\", max_samples_per_send = 100000 }}\n",
        receiver.port
    ));
    daemon.wait_for(Duration::from_secs(20), |m| {
        value(
            m,
            r#"sonde_remote_write_samples_pending{endpoint="http://127.0.0.1:PORT/api/v1/write"}"#
                .replace("PORT", &receiver.port.to_string())
                .as_str(),
        ) > 0.0
            // The first cpu cycle was sent to the queue once the second one has started.
            && value(m, r#"sonde_plugin_cycles_total{plugin="cpu"}"#) >= 2.0
    });
    assert!(
        receiver.requests().is_empty(),
        "the batch deadline holds samples back"
    );
    let status = daemon.terminate(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0));
    // Exactly what was queued arrived, each sample once: every sample the queue counts as
    // delivered is in the receiver's requests, every cycle's `node_load1` is there once.
    let endpoint = format!("http://127.0.0.1:{}/api/v1/write", receiver.port);
    let (sent, failed) = daemon
        .flushed(&endpoint)
        .unwrap_or_else(|| panic!("{}", daemon.log()));
    let (arrived, mut load1) = receiver.accepted_samples("node_load1");
    assert_eq!((sent, failed), (arrived, 0), "{}", daemon.log());
    let cycles = load1.len();
    load1.sort_unstable();
    load1.dedup();
    assert_eq!(load1.len(), cycles, "a sample arrived twice");
    assert!(cycles >= 2, "both cycles before SIGTERM were flushed");
}

/// What the agent logs once the built-ins run the code compiled for this CPU in the background
/// after a cold start (on the precompiled baseline code until then).
pub const SWITCHED_TO_NATIVE_CODE: &str = "the built-in plugins now run code compiled for this CPU";

/// `[plugins.<name>]` running the misbehave test plugin in `mode`, with `extra` settings.
fn misbehaving(name: &str, mode: &str, extra: &str) -> String {
    let wasm = test_plugin_path("misbehave");
    format!(
        "[plugins.{name}]\npath = {wasm:?}\ngrants = [\"proc\"]\nconfig = {{ mode = \"{mode}\" }}\n{extra}\n"
    )
}

#[test]
fn plugin_logs_cannot_forge_lines_and_are_bounded_in_bytes() {
    // Regression: a plugin's `\n` printed a line that looked like the agent's own, and 4 KiB
    // ERROR lines at full rate wrote 8 MB of stderr in 40 s.
    let daemon = Daemon::start(&format!(
        "interval = \"1s\"\n{ONLY_CPU}{}{}",
        misbehaving("forger", "forge-log", ""),
        misbehaving("chatty", "log-flood", "")
    ));
    let metrics = daemon.wait_for(Duration::from_secs(30), |m| {
        value(m, r#"sonde_plugin_cycles_total{plugin="chatty"}"#) >= 4.0
    });
    let cycles = value(&metrics, r#"sonde_plugin_cycles_total{plugin="chatty"}"#);
    let log = daemon.log();
    assert!(
        !log.lines()
            .any(|l| l.trim_start().starts_with("ERROR sonde::agent")),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l
                .contains(r"broken\n ERROR sonde::agent: collection failed plugin=cpu\r\u{1b}[2K")),
        "{log}"
    );
    let chatty: usize = log
        .lines()
        .filter(|l| l.contains("plugin=chatty") && l.contains("yyyy"))
        .map(str::len)
        .sum();
    // 16 KiB of messages a collection, plus the level and fields of 16 lines.
    assert!(
        chatty as f64 <= (cycles + 1.0) * (16384.0 + 16.0 * 100.0),
        "{chatty} bytes of log in {cycles} collections"
    );
}

#[test]
fn a_plugin_failing_every_cycle_backs_off_and_says_so_once() {
    // Regression: a loop with a 200 ms timeout on a 250 ms interval burnt 80 % of a core forever.
    let daemon = Daemon::start(&format!(
        "{ONLY_CPU}{}",
        misbehaving(
            "looping",
            "loop",
            "interval = \"250ms\"\ntimeout = \"200ms\""
        )
    ));
    let started = Instant::now();
    let metrics = daemon.wait_for(Duration::from_secs(30), |m| {
        value(m, r#"sonde_plugin_skipped_cycles_total{plugin="looping"}"#) >= 16.0
    });
    let intervals = started.elapsed().as_secs_f64() / 0.25;
    let attempts = value(&metrics, r#"sonde_plugin_cycles_total{plugin="looping"}"#);
    // Three in a row, then pauses of 1, 2, 4, 8 intervals: 7 attempts in the first 22.
    assert!(
        attempts <= 8.0 && attempts < intervals / 2.0,
        "{attempts} attempts in {intervals:.0} intervals"
    );
    assert_eq!(
        value(&metrics, r#"sonde_plugin_backing_off{plugin="looping"}"#),
        1.0
    );
    assert_eq!(
        value(
            &metrics,
            r#"node_scrape_collector_success{collector="looping"}"#
        ),
        0.0
    );
    let log = daemon.log();
    let lines = |needle: &str| {
        log.lines()
            .filter(|l| l.contains(needle) && l.contains("looping"))
            .count()
    };
    assert_eq!(lines("collection failed"), 1, "{log}");
    assert_eq!(lines("backing off"), 1, "{log}");
}

#[test]
fn hostile_plugins_keep_the_agent_within_the_memory_the_docs_give() {
    // Regression: a plugin allocating toward 2 GiB took the agent's peak RSS to 85 MB, a refused
    // 20 MB label value kept 75 MB, and two such plugins got it OOM-killed under the unit's cap.
    let daemon = Daemon::start(&format!(
        "interval = \"1s\"\n{ONLY_CPU}{}{}{}",
        misbehaving("hog1", "oom", ""),
        misbehaving("hog2", "oom", ""),
        misbehaving(
            "huge",
            "huge-labels",
            "config = { mode = \"huge-labels\", series = 1, bytes = 20971520 }"
        )
        .replace("config = { mode = \"huge-labels\" }\n", ""),
    ));
    let metrics = daemon.wait_for(Duration::from_secs(60), |m| {
        value(m, r#"sonde_plugin_cycles_total{plugin="hog2"}"#) >= 3.0
            && value(m, r#"sonde_plugin_cycles_total{plugin="huge"}"#) >= 3.0
    });
    for hog in ["hog1", "hog2"] {
        assert!(
            value(
                &metrics,
                &format!(r#"sonde_plugin_failures_total{{plugin="{hog}",reason="memory_limit"}}"#)
            ) >= 1.0
        );
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.pid())).unwrap();
    let kb = |field: &str| -> f64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap()
    };
    let (peak, now) = (kb("VmHWM:") / 1024.0, kb("VmRSS:") / 1024.0);
    eprintln!("hostile plugins: peak RSS {peak:.1} MiB, now {now:.1} MiB");
    // docs/security.md: the agent (debug build here: ~40 MiB) + plugins_memory_limit (96 MiB)
    // + one output in transit (at most a plugin's 64 MiB memory_limit).
    assert!(peak < 200.0, "peak RSS {peak:.1} MiB");
    assert!(
        now < 96.0 + 40.0,
        "RSS {now:.1} MiB once the hogs were dropped"
    );
}

#[test]
fn a_reload_whose_plugin_does_not_load_keeps_the_running_config() {
    let daemon = Daemon::start(&format!("interval = \"1s\"\n{ONLY_CPU}"));
    daemon.rewrite(&format!(
        "interval = \"1s\"\n{ONLY_CPU}[plugins.third]\npath = \"/nonexistent/third.wasm\"\n"
    ));
    daemon.signal(libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !daemon.log().contains("reload failed") {
        assert!(Instant::now() < deadline, "{}", daemon.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        daemon
            .log()
            .contains("[plugins.third] path /nonexistent/third.wasm"),
        "{}",
        daemon.log()
    );
    let before = value(
        &daemon.metrics(),
        r#"sonde_plugin_cycles_total{plugin="cpu"}"#,
    );
    daemon.wait_for(Duration::from_secs(10), |m| {
        value(m, r#"sonde_plugin_cycles_total{plugin="cpu"}"#) >= before + 2.0
    });
}

#[test]
fn the_agents_own_process_metrics_are_served_and_sent() {
    let receiver = Receiver::start(vec![]);
    let unix_now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let before = unix_now();
    let daemon = Daemon::start_with(
        &format!(
            "interval = \"1s\"\n{ONLY_CPU}[[remote_write]]\nurl = \"http://127.0.0.1:{}/api/v1/write\"\nqueue = {{ batch_send_deadline = \"100ms\" }}\n",
            receiver.port
        ),
        "",
        Some(4000),
    );
    let after = unix_now();
    // Compared with /proc once the built-ins have switched to their code for this CPU (which
    // maps files and makes fresh instances) and a cycle ran on it.
    daemon.wait_for_log(SWITCHED_TO_NATIVE_CODE, 1, Duration::from_secs(60));
    let cycles = value(
        &daemon.metrics(),
        r#"sonde_plugin_cycles_total{plugin="cpu"}"#,
    );
    let m = daemon.wait_for(Duration::from_secs(20), |m| {
        value(m, r#"sonde_plugin_cycles_total{plugin="cpu"}"#) > cycles
    });
    // Against what the kernel says of the process.
    let proc = format!("/proc/{}", daemon.pid());
    let stat = std::fs::read_to_string(format!("{proc}/stat")).unwrap();
    let fields: Vec<f64> = stat[stat.rfind(')').unwrap() + 2..]
        .split(' ')
        .map(|f| f.trim().parse().unwrap_or(f64::NAN))
        .collect();
    let ticks = 100.0; // USER_HZ on Linux
    let cpu = (fields[11] + fields[12]) / ticks;
    assert!(
        m["process_cpu_seconds_total"] <= cpu && m["process_cpu_seconds_total"] > cpu - 1.0,
        "cpu {} vs {cpu}",
        m["process_cpu_seconds_total"]
    );
    let started = m["process_start_time_seconds"];
    assert!(
        started >= before.floor() - 1.0 && started <= after + 1.0,
        "started {started}, spawned between {before} and {after}"
    );
    assert_eq!(m["process_max_fds"], 4000.0);
    let open = std::fs::read_dir(format!("{proc}/fd")).unwrap().count() as f64;
    assert!(
        (m["process_open_fds"] - open).abs() <= 8.0,
        "open fds {} vs {open}",
        m["process_open_fds"]
    );
    let status = std::fs::read_to_string(format!("{proc}/status")).unwrap();
    let kib = |key: &str| -> f64 {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<f64>()
            .unwrap()
            * 1024.0
    };
    let rss = m["process_resident_memory_bytes"];
    assert!(
        (rss - kib("VmRSS:")).abs() < kib("VmRSS:") / 4.0,
        "rss {rss} vs {}",
        kib("VmRSS:")
    );
    assert!(
        (m["process_virtual_memory_bytes"] - kib("VmSize:")).abs() < kib("VmSize:") / 4.0,
        "vsize {} vs {}",
        m["process_virtual_memory_bytes"],
        kib("VmSize:")
    );
    // Names, HELP and TYPE as node_exporter's own (client_golang's).
    let help_and_type = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("# HELP process_") || l.starts_with("# TYPE process_"))
            .map(str::to_owned)
            .collect()
    };
    let ours = help_and_type(&http_get(daemon.port, "/metrics").unwrap());
    assert_eq!(ours.len(), 14, "{ours:#?}");
    if let Some(theirs) = crate::live_node_exporter::node_exporter_metrics(true) {
        assert_eq!(ours, help_and_type(&theirs));
    }
    // And through remote write, with the job and instance of every sample.
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver
        .accepted_samples("process_resident_memory_bytes")
        .1
        .is_empty()
    {
        assert!(Instant::now() < deadline, "{}", daemon.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let sent = receiver
        .requests()
        .iter()
        .flat_map(|r| {
            sonde::remote_write::encode::decode(&r.body)
                .unwrap()
                .timeseries
        })
        .find(|s| {
            s.labels
                .iter()
                .any(|l| l.name == "__name__" && l.value == "process_cpu_seconds_total")
        })
        .unwrap();
    let names: Vec<&str> = sent.labels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["__name__", "instance", "job"]);
}

/// The artifacts in a compile cache: compiled for this CPU, and precompiled baseline ones.
fn artifacts(cache: &Path) -> (usize, usize) {
    let names: Vec<String> = std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cwasm"))
        .collect();
    let baseline = names
        .iter()
        .filter(|n| n.ends_with(".baseline.cwasm"))
        .count();
    (names.len() - baseline, baseline)
}
