//! sonde side by side with the agents operators run today, in one run on one machine, at the
//! same interval for the same duration, and a native floor; writes `BENCHMARKS.md`.
//!
//! `scripts/bench [--quick] [--runs N] [--seconds S] [--out FILE]`
//! (= `cargo bench -p sonde --bench peers -- …`; `--quick` finishes in under two minutes and
//! only checks that every part works).
//!
//! Comparisons (each peer only if its Debian package is installed):
//! * sonde's built-ins vs `prometheus-node-exporter` with the same collectors, scraped as
//!   Prometheus does (`Accept-Encoding: gzip`);
//! * sonde's process groups vs `prometheus-process-exporter` on the same matcher
//!   (`{{.Comm}}` for every command line);
//! * sonde's cpu, mem, disk, net vs `collectd` with its cpu, memory, load, disk, df and interface
//!   plugins (writing CSV);
//! * the floor: a native loop that only reads the files sonde read, measured in this process.
//!
//! CPU per cycle is the process's utime + stime (from `/proc/<pid>/stat`) over the run divided
//! by the cycles; RSS is VmRSS at the end (steady) and VmHWM (peak).

mod common;

use common::{Killed, cpu_ms, get, process_cpu_ms, replay};
use sonde::agent::cycle::{Outgoing, Round};
use sonde::agent::loader;
use sonde::config::Config;
use sonde::sandbox::{DEFAULT_READ_CAP, RootPaths, Sandbox};
use sonde::wasm::runtime::Runtime;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";
const PROCESS_EXPORTER: &str = "/usr/bin/prometheus-process-exporter";
const COLLECTD: &str = "/usr/sbin/collectd";
const ALL_PLUGINS: &[&str] = &["cpu", "mem", "disk", "net", "process", "system", "textfile"];

struct Options {
    quick: bool,
    runs: usize,
    seconds: u64,
    out: PathBuf,
}

fn options() -> Options {
    let mut o = Options {
        quick: false,
        runs: 3,
        seconds: 60,
        out: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md")),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => o.quick = true,
            "--runs" => o.runs = args.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--seconds" => {
                o.seconds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--seconds S")
            }
            "--out" => o.out = args.next().map(PathBuf::from).expect("--out FILE"),
            _ => {}
        }
    }
    if o.quick {
        o.runs = 1;
        o.seconds = 8;
        o.out = std::env::temp_dir().join("sonde-BENCHMARKS-quick.md");
    }
    o
}

/// What one process cost over a run.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    cpu_ms_per_cycle: f64,
    rss_kb: u64,
    peak_kb: u64,
    series: usize,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_http(port: u16, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if get(port, false).is_ok_and(|b| {
            b.lines()
                .any(|l| l.starts_with("node_") || l.starts_with("namedprocess_"))
        }) {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

fn rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn count_series(body: &str, prefix: &[&str]) -> usize {
    body.lines()
        .filter(|l| !l.starts_with('#') && prefix.iter().any(|p| l.starts_with(p)))
        .count()
}

fn sonde_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    for candidate in [
        profile_dir.join("sonde"),
        profile_dir.join("../release/sonde"),
    ] {
        if candidate.exists() {
            return candidate;
        }
    }
    panic!("build sonde first: cargo build --release -p sonde");
}

fn sonde_config(dir: &Path, port: u16, plugins: &[&str], process_groups: bool) -> PathBuf {
    let mut text = format!(
        "[global]\ninterval = \"1s\"\ncache_dir = {:?}\nstate_dir = {:?}\n[http]\nlisten = \"127.0.0.1:{port}\"\n",
        dir.join("cache"),
        dir.join("state")
    );
    for name in ALL_PLUGINS {
        if !plugins.contains(name) {
            text.push_str(&format!("[plugins.{name}]\nenabled = false\n"));
        }
    }
    if process_groups {
        text.push_str("[plugins.process]\nconfig = { processes = false, process_names = [{ name = \"{{.Comm}}\", cmdline = [\".+\"] }] }\n");
    }
    let path = dir.join("sonde.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn start_sonde(config: &Path) -> Killed {
    Killed(
        Command::new(sonde_binary())
            .args(["run", "--config", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// The floor for `plugins`: the files one cycle reads (recorded by the sandbox), read natively
/// once a second for `seconds`, measured in this process.
fn floor(plugins: &[&str], seconds: u64, process_groups: bool) -> (Cost, usize) {
    let paths = RootPaths::default();
    let runtime =
        Arc::new(Runtime::new(Sandbox::open(paths.clone(), DEFAULT_READ_CAP).record()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let config = Config::load(&sonde_config(dir.path(), 1, plugins, process_groups)).unwrap();
    let loaded = loader::load_enabled(&runtime, &config, None).unwrap();
    let mut round = Round::local(loaded);
    round.run(&mut Outgoing::default());
    runtime.sandbox().take_recorded();
    round.run(&mut Outgoing::default());
    let accesses = runtime.sandbox().take_recorded();
    // Once a second, like the agents: a cycle after a second's pause finds colder caches than
    // back-to-back cycles would.
    let before = process_cpu_ms();
    for _ in 0..seconds {
        replay(&paths, &accesses);
        std::thread::sleep(Duration::from_secs(1));
    }
    let cost = Cost {
        cpu_ms_per_cycle: (process_cpu_ms() - before) / seconds as f64,
        ..Cost::default()
    };
    (cost, accesses.len())
}

/// One row of the report: a measured process.
#[derive(Debug, Clone, Default)]
struct Row {
    comparison: &'static str,
    agent: String,
    runs: Vec<Cost>,
    startup_ms: Option<(f64, f64)>,
    binary_kb: Option<u64>,
}

fn median(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let m = v[v.len() / 2];
    let spread = v.last().unwrap() - v.first().unwrap();
    (m, spread)
}

fn size_kb(path: &str) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len() / 1024)
}

fn startup(plugins: &[&str]) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = sonde_config(dir.path(), port, plugins, false);
    let first = |cfg: &Path| {
        let child = start_sonde(cfg);
        let t =
            wait_http(port, Duration::from_secs(60)).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
        drop(child);
        t
    };
    let cold = first(&config);
    let warm = first(&config);
    (cold, warm)
}

/// The line in `BENCHMARKS.md` after which a regeneration keeps the file as it is.
const KEPT_SECTIONS: &str = "<!-- kept by scripts/bench: measured by the commands given -->";

fn main() {
    let o = options();
    let dir = tempfile::tempdir().unwrap();
    let mut rows: Vec<Row> = Vec::new();
    let sonde_size = std::fs::metadata(sonde_binary())
        .ok()
        .map(|m| m.len() / 1024);

    // 1. Built-ins vs node_exporter, same collectors.
    let mut sonde_row = Row {
        comparison: "node_exporter",
        agent: "sonde (all built-ins)".into(),
        binary_kb: sonde_size,
        ..Row::default()
    };
    let mut ne_row = Row {
        comparison: "node_exporter",
        agent: "prometheus-node-exporter".into(),
        binary_kb: size_kb(NODE_EXPORTER),
        ..Row::default()
    };
    let mut floor_row = Row {
        comparison: "node_exporter",
        agent: "floor (native reads)".into(),
        ..Row::default()
    };
    sonde_row.startup_ms = Some(startup(ALL_PLUGINS));
    for _ in 0..o.runs {
        let port = free_port();
        let sonde = start_sonde(&sonde_config(dir.path(), port, ALL_PLUGINS, false));
        let ne = Path::new(NODE_EXPORTER).exists().then(|| {
            let ne_port = free_port();
            let mut cmd = Command::new(NODE_EXPORTER);
            cmd.args(sonde::wasm::builtin::node_exporter_args(&format!(
                "127.0.0.1:{ne_port}"
            )))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
            (Killed(cmd.spawn().unwrap()), ne_port)
        });
        wait_http(port, Duration::from_secs(60)).expect("sonde answers");
        let sonde_cost = measure_pair(
            &sonde,
            port,
            ne.as_ref().map(|(c, p)| (c.0.id(), Some(*p))),
            o.seconds,
            &["node_"],
        );
        sonde_row.runs.push(sonde_cost.0);
        if let Some(c) = sonde_cost.1 {
            ne_row.runs.push(c);
        }
        floor_row.runs.push(floor(ALL_PLUGINS, o.seconds, false).0);
    }
    rows.extend([sonde_row, ne_row, floor_row]);

    // 2. Process groups vs process-exporter.
    let mut sp = Row {
        comparison: "process-exporter",
        agent: "sonde (process groups)".into(),
        binary_kb: sonde_size,
        ..Row::default()
    };
    let mut pe = Row {
        comparison: "process-exporter",
        agent: "prometheus-process-exporter".into(),
        binary_kb: size_kb(PROCESS_EXPORTER),
        ..Row::default()
    };
    let mut pf = Row {
        comparison: "process-exporter",
        agent: "floor (native reads)".into(),
        ..Row::default()
    };
    for _ in 0..o.runs {
        let port = free_port();
        let sonde = start_sonde(&sonde_config(dir.path(), port, &["process"], true));
        let pe_proc = Path::new(PROCESS_EXPORTER).exists().then(|| {
            let pe_port = free_port();
            let cfg = dir.path().join("process-exporter.yml");
            std::fs::write(
                &cfg,
                "process_names:\n  - name: \"{{.Comm}}\"\n    cmdline:\n    - '.+'\n",
            )
            .unwrap();
            let child = Command::new(PROCESS_EXPORTER)
                .arg(format!("-web.listen-address=127.0.0.1:{pe_port}"))
                .arg(format!("-config.path={}", cfg.display()))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            (Killed(child), pe_port)
        });
        wait_http(port, Duration::from_secs(60));
        let (s, p) = measure_pair(
            &sonde,
            port,
            pe_proc.as_ref().map(|(c, p)| (c.0.id(), Some(*p))),
            o.seconds,
            &["namedprocess_"],
        );
        sp.runs.push(s);
        if let Some(p) = p {
            pe.runs.push(p);
        }
        pf.runs.push(floor(&["process"], o.seconds, true).0);
    }
    rows.extend([sp, pe, pf]);

    // 3. cpu, mem, disk, net vs collectd.
    let plugins = ["cpu", "mem", "disk", "net"];
    let mut sc = Row {
        comparison: "collectd",
        agent: "sonde (cpu, mem, disk, net)".into(),
        binary_kb: sonde_size,
        ..Row::default()
    };
    let mut cd = Row {
        comparison: "collectd",
        agent: "collectd (cpu, memory, load, disk, df, interface)".into(),
        binary_kb: size_kb(COLLECTD),
        ..Row::default()
    };
    let mut cf = Row {
        comparison: "collectd",
        agent: "floor (native reads)".into(),
        ..Row::default()
    };
    for _ in 0..o.runs {
        let port = free_port();
        let sonde = start_sonde(&sonde_config(dir.path(), port, &plugins, false));
        let collectd = Path::new(COLLECTD).exists().then(|| {
            let cfg = dir.path().join("collectd.conf");
            let csv = dir.path().join("csv");
            std::fs::write(
                &cfg,
                format!(
                    "Interval 1\nBaseDir \"{0}\"\nPIDFile \"{0}/collectd.pid\"\nPluginDir \"/usr/lib/collectd\"\nLoadPlugin cpu\nLoadPlugin memory\nLoadPlugin load\nLoadPlugin disk\nLoadPlugin df\nLoadPlugin interface\nLoadPlugin csv\n<Plugin csv>\n  DataDir \"{1}\"\n</Plugin>\n",
                    dir.path().display(),
                    csv.display()
                ),
            )
            .unwrap();
            (Killed(Command::new(COLLECTD).args(["-f", "-C"]).arg(&cfg).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()), csv)
        });
        wait_http(port, Duration::from_secs(60));
        let (s, c) = measure_pair(
            &sonde,
            port,
            collectd.as_ref().map(|(c, _)| (c.0.id(), None)),
            o.seconds,
            &["node_"],
        );
        sc.runs.push(s);
        if let (Some(mut c), Some((_, csv))) = (c, &collectd) {
            c.series = count_csv_values(csv);
            cd.runs.push(c);
        }
        cf.runs.push(floor(&plugins, o.seconds, false).0);
    }
    rows.extend([sc, cd, cf]);

    let mut report = render(&rows, &o);
    // Sections below the marker are measured by other means (their commands are in them) and
    // kept as they are.
    if let Ok(previous) = std::fs::read_to_string(&o.out)
        && let Some(at) = previous.find(KEPT_SECTIONS)
    {
        report.push('\n');
        report.push_str(&previous[at..]);
    }
    std::fs::write(&o.out, &report).unwrap();
    println!("{report}\nwritten to {}", o.out.display());
    if o.quick {
        // The smoke test: every part ran and produced figures.
        for row in &rows {
            assert!(
                !row.runs.is_empty()
                    || row.agent.contains("exporter")
                    || row.agent.contains("collectd"),
                "{} has no run",
                row.agent
            );
        }
        assert!(rows[0].runs[0].series > 100, "sonde produced no series");
    }
}

/// A peer process: its pid and, if it serves /metrics, its port.
type Peer = (u32, Option<u16>);

/// Measures sonde and a peer over the same seconds (both scraped, the peer with gzip).
fn measure_pair(
    sonde: &Killed,
    sonde_port: u16,
    peer: Option<Peer>,
    seconds: u64,
    prefix: &[&str],
) -> (Cost, Option<Cost>) {
    std::thread::sleep(Duration::from_millis(1500));
    let pids: Vec<u32> = std::iter::once(sonde.0.id())
        .chain(peer.map(|p| p.0))
        .collect();
    let before: Vec<f64> = pids.iter().map(|p| cpu_ms(*p)).collect();
    for _ in 0..seconds {
        if let Some((_, Some(port))) = peer {
            let _ = get(port, true);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let cost = |i: usize, port: Option<u16>| {
        let (rss_kb, peak_kb) = rss(pids[i]);
        Cost {
            cpu_ms_per_cycle: (cpu_ms(pids[i]) - before[i]) / seconds as f64,
            rss_kb,
            peak_kb,
            series: port
                .and_then(|port| get(port, false).ok())
                .map(|b| count_series(&b, prefix))
                .unwrap_or(0),
        }
    };
    (
        cost(0, Some(sonde_port)),
        peer.map(|(_, port)| cost(1, port)),
    )
}

fn count_csv_values(dir: &Path) -> usize {
    fn walk(dir: &Path, n: &mut usize) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, n);
                } else {
                    // One file per value list; its header names the values.
                    *n += std::fs::read_to_string(&p)
                        .ok()
                        .and_then(|t| {
                            t.lines()
                                .next()
                                .map(|h| h.split(',').count().saturating_sub(1))
                        })
                        .unwrap_or(0);
                }
            }
        }
    }
    let mut n = 0;
    walk(dir, &mut n);
    // Each day gets its own file; count one day.
    n
}

fn render(rows: &[Row], o: &Options) -> String {
    let mut out = String::new();
    out.push_str("# sonde benchmarks\n\n");
    out.push_str(&format!(
        "Produced by `scripts/bench{}` ({} run(s) of {} s each at a 1 s interval, side by side on one machine: {} CPUs, kernel {}).\n\n",
        if o.quick { " --quick" } else { "" },
        o.runs,
        o.seconds,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        sonde::sandbox::system::uname().release
    ));
    out.push_str("CPU per cycle is utime+stime from `/proc/<pid>/stat` over the run (10 ms ticks) divided by the cycles; the floor is measured in-process (ns). Median of the runs, spread (max − min) in brackets. Ratios are to the floor and to the peer.\n\n");
    let mut comparison = "";
    for row in rows {
        if row.comparison != comparison {
            comparison = row.comparison;
            out.push_str(&format!("\n## vs {comparison}\n\n| agent | CPU ms/cycle | × floor | steady RSS MB | peak RSS MB | first sample cold / warm ms | binary MB | series |\n|---|---|---|---|---|---|---|---|\n"));
        }
        let floor = rows
            .iter()
            .find(|r| r.comparison == row.comparison && r.agent.starts_with("floor"))
            .and_then(|r| {
                r.runs
                    .first()
                    .map(|_| median(r.runs.iter().map(|c| c.cpu_ms_per_cycle).collect()).0)
            });
        if row.runs.is_empty() {
            out.push_str(&format!("| {} | not installed | | | | | | |\n", row.agent));
            continue;
        }
        let (cpu, spread) = median(row.runs.iter().map(|c| c.cpu_ms_per_cycle).collect());
        let (rss, _) = median(row.runs.iter().map(|c| c.rss_kb as f64 / 1024.0).collect());
        let (peak, _) = median(row.runs.iter().map(|c| c.peak_kb as f64 / 1024.0).collect());
        let series = row.runs.last().map(|c| c.series).unwrap_or(0);
        let is_floor = row.agent.starts_with("floor");
        out.push_str(&format!(
            "| {} | {:.2} [{:.2}] | {} | {} | {} | {} | {} | {} |\n",
            row.agent,
            cpu,
            spread,
            floor.map_or("".into(), |f| format!("{:.2}", cpu / f.max(1e-9))),
            if is_floor {
                "".into()
            } else {
                format!("{rss:.1}")
            },
            if is_floor {
                "".into()
            } else {
                format!("{peak:.1}")
            },
            row.startup_ms
                .map_or("".into(), |(c, w)| format!("{c:.0} / {w:.0}")),
            row.binary_kb
                .map_or("".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
            if is_floor {
                "".into()
            } else {
                series.to_string()
            },
        ));
    }
    out
}
