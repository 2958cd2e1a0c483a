//! CPU time of one full collection cycle, side by side in one run:
//!
//! * **sonde**: every built-in plugin, in wasm, through the real host (fresh store per plugin,
//!   host calls, validation), measured with `CLOCK_PROCESS_CPUTIME_ID` over many cycles;
//! * **floor**: a minimal native loop that only opens and reads the same files, lists the same
//!   directories and `statfs`es the same mounts that the cycle did (recorded by the sandbox);
//! * **node_exporter** (Debian's `prometheus-node-exporter`, when installed): started with the
//!   matching collectors and scraped as Prometheus does (`Accept-Encoding: gzip`); its CPU time
//!   per scrape from `/proc/<pid>/stat`.
//!
//! `cargo bench -p sonde --bench cycle -- [--cycles N] [--procfs DIR] [--only PLUGIN]`
//!
//! Not a timed test: it prints figures and asserts nothing about them.

use sonde::config::Config;
use sonde::cycle::collect_once;
use sonde::runtime::Runtime;
use sonde::sandbox::{Access, DEFAULT_READ_CAP, RootPaths, Sandbox};
use sonde::{builtin, loader};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// node_exporter collectors equivalent to sonde's built-ins.
const NODE_EXPORTER_COLLECTORS: &[&str] = &[
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

struct Args {
    cycles: u32,
    procfs: Option<PathBuf>,
    only: Option<String>,
}

fn args() -> Args {
    let mut args = Args {
        cycles: 200,
        procfs: None,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--cycles" => args.cycles = it.next().and_then(|v| v.parse().ok()).expect("--cycles N"),
            "--procfs" => args.procfs = it.next().map(PathBuf::from),
            "--only" => args.only = it.next(),
            _ => {} // cargo bench passes --bench
        }
    }
    args
}

fn process_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn main() -> anyhow::Result<()> {
    let args = args();
    let mut paths = RootPaths::default();
    if let Some(procfs) = &args.procfs {
        paths.procfs = procfs.clone();
    }
    let sandbox = Sandbox::open(paths.clone(), DEFAULT_READ_CAP).record();
    let runtime = Arc::new(Runtime::new(sandbox)?);
    let mut config = Config::default();
    if let Some(only) = &args.only {
        for name in builtin::builtin_names().filter(|n| n != only) {
            config.plugins.insert(
                name.to_owned(),
                sonde::config::PluginConfig {
                    enabled: Some(false),
                    ..Default::default()
                },
            );
        }
    }
    let plugins = loader::load_enabled(&runtime, &config, None)?.plugins;

    // Warm up, then record one cycle's accesses for the floor.
    for _ in 0..3 {
        collect_once(&plugins);
    }
    runtime.sandbox().take_recorded();
    let series = collect_once(&plugins)
        .into_families()
        .iter()
        .map(|f| f.samples.len())
        .sum::<usize>();
    let accesses = runtime.sandbox().take_recorded();

    let start = (process_cpu(), Instant::now());
    for _ in 0..args.cycles {
        collect_once(&plugins);
        runtime.sandbox().take_recorded();
    }
    let sonde = (process_cpu() - start.0) / args.cycles;
    let sonde_wall = start.1.elapsed() / args.cycles;

    let start = process_cpu();
    for _ in 0..args.cycles {
        replay(&paths, &accesses);
    }
    let floor = (process_cpu() - start) / args.cycles;

    println!(
        "cycle of {} plugin(s), {series} series, {} accesses",
        plugins.len(),
        accesses.len()
    );
    println!(
        "  sonde (wasm plugins)  {:>9.3} ms CPU per cycle ({:.3} ms wall)",
        ms(sonde),
        ms(sonde_wall)
    );
    println!(
        "  floor (native reads)  {:>9.3} ms CPU per cycle",
        ms(floor)
    );
    println!("  sonde / floor         {:>9.2}x", ratio(sonde, floor));
    if args.only.is_none() && args.procfs.is_none() {
        match node_exporter(args.cycles.min(100)) {
            Ok((cpu, series)) => {
                println!(
                    "  node_exporter         {:>9.3} ms CPU per scrape, {series} series",
                    ms(cpu)
                );
                println!("  sonde / node_exporter {:>9.2}x", ratio(sonde, cpu));
            }
            Err(e) => println!("  node_exporter         skipped: {e}"),
        }
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-12)
}

/// What a minimal native collector has to do: the same syscalls, no parsing.
fn replay(paths: &RootPaths, accesses: &[Access]) {
    let full = |root, path: &str| paths.path(root).join(path);
    for access in accesses {
        match access {
            Access::Read(root, path) => {
                let _ = std::fs::read(full(*root, path));
            }
            Access::ReadDir(root, path) => {
                if let Ok(dir) = std::fs::read_dir(full(*root, path)) {
                    for entry in dir.flatten() {
                        let _ = entry.file_type();
                    }
                }
            }
            Access::ReadLink(root, path) => {
                let _ = std::fs::read_link(full(*root, path));
            }
            Access::Statfs(mount_point) => {
                let _ = rustix::fs::statfs(paths.rootfs.join(mount_point.trim_start_matches('/')));
            }
        }
    }
}

/// Starts node_exporter with the matching collectors, scrapes it `scrapes` times, and returns
/// its CPU time per scrape and the number of series (without go_/process_/promhttp_ ones).
fn node_exporter(scrapes: u32) -> anyhow::Result<(Duration, usize)> {
    let binary = Path::new("/usr/bin/prometheus-node-exporter");
    anyhow::ensure!(binary.exists(), "{} is not installed", binary.display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut cmd = Command::new(binary);
    cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--collector.disable-defaults")
        .arg("--web.disable-exporter-metrics")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for c in NODE_EXPORTER_COLLECTORS {
        cmd.arg(format!("--collector.{c}"));
    }
    let child = KillOnDrop(cmd.spawn()?);
    let deadline = Instant::now() + Duration::from_secs(10);
    while scrape(port, false).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "node_exporter did not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
    let body = scrape(port, false)?;
    let series = body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter(|l| {
            !l.starts_with("node_scrape_collector") && !l.starts_with("node_exporter_build_info")
        })
        .count();
    for _ in 0..3 {
        scrape(port, true)?;
    }
    let before = cpu_of(child.0.id())?;
    for _ in 0..scrapes {
        scrape(port, true)?;
    }
    let after = cpu_of(child.0.id())?;
    Ok(((after - before) / scrapes, series))
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.0 GET of /metrics; returns the body (gzip bodies are returned undecoded).
fn scrape(port: u16, gzip: bool) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    let encoding = if gzip {
        "Accept-Encoding: gzip\r\n"
    } else {
        ""
    };
    write!(
        stream,
        "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/plain;version=0.0.4\r\n{encoding}\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    Ok(body.to_owned())
}

/// utime + stime of a process, from `/proc/<pid>/stat` (clock ticks of 10 ms).
fn cpu_of(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after_comm = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    Ok(Duration::from_millis(ticks * 10))
}
