//! The referee: sonde side by side with the agents operators run today and with two native
//! floors, at the agent's real cadence, in one run on one machine; writes `BENCHMARKS.md`.
//!
//! `scripts/bench [--quick] [--rounds N] [--cycles-1s N] [--cycles-10s N] [--processes N] [--out FILE]
//! [--only node|groups|collectd|alone] [--sonde BINARY] [--baseline BINARY]`
//! (= `cargo bench -p sonde --bench peers -- …`; `--quick` finishes in about two minutes and
//! only checks that every part works: CI runs it).
//!
//! Every contestant of a comparison runs **alone**, one after the other, and the order repeats
//! in every round (A/B/A/B…, the order reversed every other round), so that the machine's drift
//! between hours hits all of them; the report gives the median of the rounds and their range, and
//! ratios between medians of the same run. Each contestant is measured at a 1 s and a 10 s
//! cadence: the agents collect at that interval and are scraped at it with `Accept-Encoding:
//! gzip`, as Prometheus scrapes; node_exporter and process-exporter collect when scraped.
//!
//! Contestants (a peer only if its Debian package is installed):
//! * sonde with all built-ins vs `prometheus-node-exporter` with the same collectors;
//! * sonde's process groups vs `prometheus-process-exporter` (`{{.Comm}}` for every command
//!   line) on `--processes` sleeping processes the bench starts;
//! * sonde's cpu, mem, disk, net vs `collectd` (cpu, memory, load, disk, df, interface);
//! * each built-in alone in the agent, and the agent with a textfile plugin that finds nothing
//!   (the fixed cost of a cycle), scraped and never scraped (the cost of a scrape at the
//!   cadence), and the agent without plugins, never scraped (it runs no cycle: the cost of a
//!   cycle of one idle plugin);
//! * the floors: the files, listings and `statfs` calls one sonde cycle made (recorded by the
//!   sandbox), replayed natively in this process — **kept**: files opened once and read again
//!   with one `pread` from offset 0 (the physical limit for an agent that keeps files open) —
//!   and **open-read-close** every cycle (what node_exporter does).
//!
//! CPU per cycle is the process's CPU clock (`clock_getcpuclockid`: nanoseconds, every thread,
//! exited ones included) over the measured cycles; RSS is VmRSS at the end (steady) and VmHWM
//! (peak); context switches are those of the agent's threads alive at the end, over the measured
//! cycles (`/proc/<pid>/task/*/status`): how often its threads were woken.
//!
//! `--sonde BINARY` measures that build instead of the one built with the bench (a release
//! binary measured by a harness built with `--profile dev`: the floors, replayed by the
//! harness, are then not comparable). `--baseline BINARY` runs another sonde build (an earlier
//! commit's `target/release/sonde`) beside every sonde row, in the same rounds: a change's
//! before/after pair from one run.

mod common;

use common::{Killed, cpu_ms, get, process_cpu_ms};
use sonde::agent::cycle::{Outgoing, Round};
use sonde::agent::loader;
use sonde::config::Config;
use sonde::sandbox::{Access, DEFAULT_READ_CAP, RootPaths, Sandbox};
use sonde::wasm::builtin;
use sonde::wasm::runtime::Runtime;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";
const PROCESS_EXPORTER: &str = "/usr/bin/prometheus-process-exporter";
const COLLECTD: &str = "/usr/sbin/collectd";
/// sonde's matcher for the process-exporter comparison, and process-exporter's.
/// The timeout is raised: 10,000 processes take longer than the default second (process-exporter
/// takes several seconds a scrape).
const PROCESS_GROUPS_TOML: &str = "[plugins.process]\ntimeout = \"8s\"\nconfig = { processes = false, process_names = [{ name = \"{{.Comm}}\", cmdline = [\".+\"] }] }\n";
const PROCESS_GROUPS_YAML: &str =
    "process_names:\n  - name: \"{{.Comm}}\"\n    cmdline:\n    - '.+'\n";

struct Options {
    quick: bool,
    rounds: usize,
    /// Measured cycles per contestant and round at each cadence.
    cadences: Vec<(Duration, u32)>,
    /// How many of `cadences`, from the first, the comparisons other than process groups run
    /// (all but with `--quick`).
    shared_cadences: usize,
    processes: usize,
    /// One comparison only (`node`, `groups`, `collectd`, `alone`).
    only: Option<String>,
    /// Sections measured by other benchmarks (scripts/bench), appended to the report.
    sections: Option<PathBuf>,
    /// Another sonde binary (an earlier build) run beside every sonde row: before/after pairs
    /// measured in the same rounds.
    baseline: Option<PathBuf>,
    /// The sonde binary measured, when not the one built with the bench (`--sonde`).
    sonde: Option<PathBuf>,
    out: PathBuf,
}

fn options() -> Options {
    let mut o = Options {
        quick: false,
        rounds: 5,
        cadences: vec![(Duration::from_secs(1), 20), (Duration::from_secs(10), 3)],
        shared_cadences: 2,
        processes: 10_000,
        sections: None,
        baseline: None,
        sonde: None,
        only: None,
        out: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md")),
    };
    let mut args = std::env::args().skip(1);
    let number = |v: Option<String>, what: &str| -> usize {
        v.and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{what} takes a number"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => o.quick = true,
            "--rounds" => o.rounds = number(args.next(), "--rounds"),
            "--cycles-1s" => o.cadences[0].1 = number(args.next(), "--cycles-1s") as u32,
            "--cycles-10s" => o.cadences[1].1 = number(args.next(), "--cycles-10s") as u32,
            "--processes" => o.processes = number(args.next(), "--processes"),
            "--out" => o.out = args.next().map(PathBuf::from).expect("--out FILE"),
            "--only" => o.only = args.next(),
            "--sections" => o.sections = args.next().map(PathBuf::from),
            "--sonde" => {
                let path = args.next().map(PathBuf::from).expect("--sonde BINARY");
                assert!(path.exists(), "--sonde: no {}", path.display());
                o.sonde = Some(std::fs::canonicalize(path).unwrap());
            }
            "--baseline" => {
                let path = args.next().map(PathBuf::from).expect("--baseline BINARY");
                assert!(path.exists(), "--baseline: no {}", path.display());
                o.baseline = Some(std::fs::canonicalize(path).unwrap());
            }
            _ => {} // cargo bench passes --bench
        }
    }
    if o.quick {
        o.rounds = 1;
        // The 10 s cadence runs the same code as the 1 s one, slower: only process groups,
        // which need it (their timeout is longer than a second), keep it.
        o.cadences = vec![(Duration::from_secs(1), 2), (Duration::from_secs(10), 1)];
        o.shared_cadences = 1;
        o.processes = 200;
        o.out = std::env::temp_dir().join("sonde-BENCHMARKS-quick.md");
    }
    assert!(o.rounds > 0, "--rounds must be at least 1");
    o
}

/// What one contestant cost in one round.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    cpu_ms_per_cycle: f64,
    rss_kb: u64,
    peak_kb: u64,
    series: usize,
    /// Context switches of all its threads per cycle: how often it was woken (or preempted).
    switches_per_cycle: f64,
}

/// A program measured from outside: sonde or a peer.
enum Program {
    Sonde {
        plugins: Vec<String>,
        extra: &'static str,
        /// A sonde binary other than the one built with the bench (`--baseline`).
        binary: Option<PathBuf>,
    },
    NodeExporter,
    ProcessExporter,
    Collectd,
}

/// One row of a comparison.
enum Contestant {
    Program {
        program: Program,
        label: String,
        /// Scraped every cycle (all but the row that shows what a scrape costs).
        scraped: bool,
    },
    /// The native floor: `kept` files or open-read-close.
    Floor { accesses: Vec<Access>, kept: bool },
}

impl Contestant {
    fn label(&self) -> String {
        match self {
            Contestant::Program { label, .. } => label.clone(),
            Contestant::Floor { kept: true, .. } => "floor: files kept open, `pread`".into(),
            Contestant::Floor { kept: false, .. } => "floor: open, read, close".into(),
        }
    }

    fn installed(&self) -> bool {
        match self {
            Contestant::Program { program, .. } => match program {
                Program::Sonde { .. } => true,
                Program::NodeExporter => Path::new(NODE_EXPORTER).exists(),
                Program::ProcessExporter => Path::new(PROCESS_EXPORTER).exists(),
                Program::Collectd => Path::new(COLLECTD).exists(),
            },
            Contestant::Floor { .. } => true,
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `port` serves the metrics of a first collection (`collects`), or serves at all
/// (an agent without plugins); how long that took.
fn wait_http(port: u16, within: Duration, collects: bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if get(port, false).is_ok_and(|b| {
            !collects
                || b.lines()
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

fn count_series(body: &str) -> usize {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count()
}

/// The sonde binary measured: `--sonde`, or the one built with the bench.
static SONDE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

fn sonde_binary() -> PathBuf {
    if let Some(binary) = SONDE.get() {
        return binary.clone();
    }
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

/// The compile cache every sonde of the run shares, warm (as after an agent's first start):
/// a cold one would have each agent compile its plugins for this CPU in the background,
/// within the measured cycles.
fn compile_cache() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let plugins: Vec<String> = builtin::builtin_names()
            .filter(|name| !builtin::disabled_by_default(name))
            .map(str::to_owned)
            .collect();
        let cache = dir.join("cache");
        let config = sonde_config(
            &dir,
            &cache,
            free_port(),
            &plugins,
            "",
            Duration::from_secs(1),
        );
        let _agent = Killed(spawn_sonde(&sonde_binary(), &config));
        // Warm once every artifact is code for this CPU (the baseline ones are removed then).
        let warm = |dir: &Path| {
            let names: Vec<String> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.iter().filter(|n| n.ends_with(".cwasm")).count() >= plugins.len()
                && !names.iter().any(|n| n.ends_with(".baseline.cwasm"))
        };
        let started = Instant::now();
        while !warm(&cache) && started.elapsed() < Duration::from_secs(300) {
            std::thread::sleep(Duration::from_millis(200));
        }
        cache
    })
}

/// A sonde config: `plugins` enabled (the others off), collecting every `interval`.
fn sonde_config(
    dir: &Path,
    cache: &Path,
    port: u16,
    plugins: &[String],
    extra: &str,
    interval: Duration,
) -> PathBuf {
    let mut text = format!(
        "[global]\ninterval = \"{}s\"\ncache_dir = {:?}\nstate_dir = {:?}\n[http]\nlisten = \"127.0.0.1:{port}\"\n",
        interval.as_secs(),
        cache,
        dir.join("state")
    );
    for name in builtin::builtin_names() {
        if !plugins.iter().any(|p| p == name) {
            let _ = write!(text, "[plugins.{name}]\nenabled = false\n");
        }
    }
    text.push_str(extra);
    let path = dir.join("sonde.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn spawn_sonde(binary: &Path, config: &Path) -> Child {
    quiet(Command::new(binary).args(["run", "--config", config.to_str().unwrap()]))
}

fn quiet(cmd: &mut Command) -> Child {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Starts `program`; the child and the port it serves /metrics on (collectd serves none).
fn start(program: &Program, dir: &Path, interval: Duration) -> (Killed, Option<u16>) {
    let port = free_port();
    let child = match program {
        Program::Sonde {
            plugins,
            extra,
            binary,
        } => spawn_sonde(
            binary.as_deref().unwrap_or(&sonde_binary()),
            &sonde_config(dir, compile_cache(), port, plugins, extra, interval),
        ),
        Program::NodeExporter => quiet(
            Command::new(NODE_EXPORTER)
                .args(builtin::node_exporter_args(&format!("127.0.0.1:{port}"))),
        ),
        Program::ProcessExporter => {
            let config = dir.join("process-exporter.yml");
            std::fs::write(&config, PROCESS_GROUPS_YAML).unwrap();
            quiet(
                Command::new(PROCESS_EXPORTER)
                    .arg(format!("-web.listen-address=127.0.0.1:{port}"))
                    .arg(format!("-config.path={}", config.display())),
            )
        }
        Program::Collectd => {
            let config = dir.join("collectd.conf");
            std::fs::write(
                &config,
                format!(
                    "Interval {}\nBaseDir \"{1}\"\nPIDFile \"{1}/collectd.pid\"\nPluginDir \"/usr/lib/collectd\"\nLoadPlugin cpu\nLoadPlugin memory\nLoadPlugin load\nLoadPlugin disk\nLoadPlugin df\nLoadPlugin interface\nLoadPlugin csv\n<Plugin csv>\n  DataDir \"{1}/csv\"\n</Plugin>\n",
                    interval.as_secs(),
                    dir.display(),
                ),
            )
            .unwrap();
            return (
                Killed(quiet(
                    Command::new(COLLECTD).args(["-f", "-C"]).arg(&config),
                )),
                None,
            );
        }
    };
    (Killed(child), Some(port))
}

/// One contestant for `cycles` cycles at `cadence`, alone on the machine.
fn measure(contestant: &Contestant, cadence: Duration, cycles: u32) -> Cost {
    let dir = tempfile::tempdir().unwrap();
    match contestant {
        Contestant::Program {
            program, scraped, ..
        } => {
            let (child, port) = start(program, dir.path(), cadence);
            match port {
                Some(port) => {
                    let collects =
                        !matches!(program, Program::Sonde { plugins, .. } if plugins.is_empty());
                    wait_http(port, Duration::from_secs(120), collects).expect("the agent answers");
                }
                None => std::thread::sleep(Duration::from_secs(1)),
            }
            // Past the start: the first cycle and, for sonde, its start-up page-out.
            std::thread::sleep(Duration::from_millis(1500));
            let pid = child.0.id();
            let before = cpu_ms(pid);
            let switches_before = context_switches(pid);
            let start = Instant::now();
            for cycle in 1..=cycles {
                if let Some(port) = port
                    && *scraped
                {
                    let _ = get(port, true);
                }
                sleep_until(start + cadence * cycle);
            }
            let (rss_kb, peak_kb) = rss(pid);
            let cpu = (cpu_ms(pid) - before) / f64::from(cycles);
            let switches = switches_between(&switches_before, &context_switches(pid)) as f64
                / f64::from(cycles);
            let series = match port {
                Some(port) => get(port, false).map(|b| count_series(&b)).unwrap_or(0),
                None => count_csv_values(&dir.path().join("csv")),
            };
            Cost {
                cpu_ms_per_cycle: cpu,
                rss_kb,
                peak_kb,
                series,
                switches_per_cycle: switches,
            }
        }
        Contestant::Floor { accesses, kept } => {
            let paths = RootPaths::default();
            let mut floor = Floor::default();
            floor.cycle(&paths, accesses, *kept);
            std::thread::sleep(cadence);
            let before = process_cpu_ms();
            for _ in 0..cycles {
                floor.cycle(&paths, accesses, *kept);
                std::thread::sleep(cadence);
            }
            Cost {
                cpu_ms_per_cycle: (process_cpu_ms() - before) / f64::from(cycles),
                series: accesses.len(),
                ..Cost::default()
            }
        }
    }
}

/// The context switches, voluntary and not, of each live thread of `pid`, by thread id.
fn context_switches(pid: u32) -> std::collections::HashMap<String, u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    tasks
        .flatten()
        .filter_map(|task| {
            let status = std::fs::read_to_string(task.path().join("status")).ok()?;
            let switches = status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum();
            Some((task.file_name().to_string_lossy().into_owned(), switches))
        })
        .collect()
}

/// The context switches between two [`context_switches`]: of the threads alive at the end
/// (one that started in between counts from zero; one that ended is not counted).
fn switches_between(
    before: &std::collections::HashMap<String, u64>,
    after: &std::collections::HashMap<String, u64>,
) -> u64 {
    after
        .iter()
        .map(|(tid, n)| n.saturating_sub(before.get(tid).copied().unwrap_or(0)))
        .sum()
}

fn sleep_until(deadline: Instant) {
    if let Some(left) = deadline.checked_duration_since(Instant::now()) {
        std::thread::sleep(left);
    }
}

/// The native floor's state: the files it keeps open (kept mode).
#[derive(Default)]
struct Floor {
    kept: HashMap<PathBuf, File>,
    buffer: Vec<u8>,
}

impl Floor {
    /// One cycle's accesses: kept files read with one `pread` of up to 1 MiB from offset 0
    /// (`../shared/bench/floor.c`'s `FLOOR_KEPT=1`), or opened, read to the end and closed.
    fn cycle(&mut self, paths: &RootPaths, accesses: &[Access], kept: bool) {
        if !kept {
            return common::replay(paths, accesses);
        }
        self.buffer.resize(1 << 20, 0);
        for access in accesses {
            match access {
                Access::Read(root, path) => {
                    let path = paths.path(*root).join(path);
                    if !self.kept.contains_key(&path) {
                        match File::open(&path) {
                            Ok(file) => self.kept.insert(path.clone(), file),
                            // Out of descriptors (this machine's limit): read it the slow way.
                            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => {
                                common::replay(paths, std::slice::from_ref(access));
                                continue;
                            }
                            Err(_) => continue,
                        };
                    }
                    let _ = self.kept[&path].read_at(&mut self.buffer, 0);
                }
                other => common::replay(paths, std::slice::from_ref(other)),
            }
        }
    }
}

/// The accesses of one cycle of `plugins` (after warm-up cycles), recorded by the sandbox.
fn record_accesses(plugins: &[String], extra: &str) -> Vec<Access> {
    let runtime = Arc::new(
        Runtime::new(Sandbox::open(RootPaths::default(), DEFAULT_READ_CAP).record()).unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = sonde_config(
        dir.path(),
        &dir.path().join("cache"),
        1,
        plugins,
        extra,
        // The interval of the slowest comparison: a process-groups timeout must fit in it.
        Duration::from_secs(10),
    );
    let config = Config::load(&config).unwrap();
    let loaded = loader::load_enabled(&runtime, &config, None).unwrap();
    let mut round = Round::local(loaded);
    round.run(&mut Outgoing::default());
    round.run(&mut Outgoing::default());
    runtime.sandbox().take_recorded();
    round.run(&mut Outgoing::default());
    runtime.sandbox().take_recorded()
}

/// A comparison: its contestants measured in rounds at each cadence.
struct Comparison {
    title: String,
    note: String,
    contestants: Vec<Contestant>,
    /// Per cadence, per contestant, the rounds' costs.
    results: Vec<(Duration, Vec<Vec<Cost>>)>,
}

impl Comparison {
    fn new(title: &str, note: &str, contestants: Vec<Contestant>) -> Self {
        Comparison {
            title: title.into(),
            note: note.into(),
            contestants: contestants
                .into_iter()
                .filter(Contestant::installed)
                .collect(),
            results: Vec::new(),
        }
    }

    /// Rounds of every contestant in turn (reversed every other round) at each cadence.
    fn run(&mut self, rounds: usize, cadences: &[(Duration, u32)]) {
        for &(cadence, cycles) in cadences {
            let mut costs = vec![Vec::new(); self.contestants.len()];
            for round in 0..rounds {
                let mut order: Vec<usize> = (0..self.contestants.len()).collect();
                if round % 2 == 1 {
                    order.reverse();
                }
                for i in order {
                    let cost = measure(&self.contestants[i], cadence, cycles);
                    eprintln!(
                        "{} · {} s · round {} · {}: {:.3} ms/cycle",
                        self.title,
                        cadence.as_secs(),
                        round + 1,
                        self.contestants[i].label(),
                        cost.cpu_ms_per_cycle
                    );
                    costs[i].push(cost);
                }
            }
            self.results.push((cadence, costs));
        }
    }
}

/// Median and range.
fn median(values: impl Iterator<Item = f64>) -> (f64, f64, f64) {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn ratio(a: f64, b: Option<f64>) -> String {
    b.filter(|b| *b > 0.0)
        .map_or(String::new(), |b| format!("{:.2}", a / b))
}

fn render_comparison(out: &mut String, c: &Comparison, peer: &str, peer_header: &str) {
    if c.results.is_empty() {
        return;
    }
    let _ = write!(out, "\n## {}\n\n{}\n", c.title, c.note);
    for (cadence, costs) in &c.results {
        let medians: Vec<f64> = costs
            .iter()
            .map(|runs| median(runs.iter().map(|r| r.cpu_ms_per_cycle)).0)
            .collect();
        let find = |pred: &dyn Fn(&Contestant) -> bool| {
            c.contestants.iter().position(pred).map(|i| medians[i])
        };
        let kept = find(&|x| matches!(x, Contestant::Floor { kept: true, .. }));
        let orc = find(&|x| matches!(x, Contestant::Floor { kept: false, .. }));
        let peer_cost = find(&|x| x.label() == peer);
        let _ = write!(
            out,
            "\n### Every {} s\n\n| | CPU ms/cycle, median [range] | × kept floor | × open-read-close floor | × {peer_header} | steady RSS MB | peak RSS MB | context switches/cycle | series (floors: accesses) |\n|---|---|---|---|---|---|---|---|---|\n",
            cadence.as_secs()
        );
        for (i, contestant) in c.contestants.iter().enumerate() {
            let runs = &costs[i];
            let (m, lo, hi) = median(runs.iter().map(|r| r.cpu_ms_per_cycle));
            let is_floor = matches!(contestant, Contestant::Floor { .. });
            let mb = |kb: fn(&Cost) -> u64| {
                if is_floor {
                    String::new()
                } else {
                    format!(
                        "{:.1}",
                        median(runs.iter().map(|r| kb(r) as f64 / 1024.0)).0
                    )
                }
            };
            let switches = if is_floor {
                String::new()
            } else {
                format!("{:.1}", median(runs.iter().map(|r| r.switches_per_cycle)).0)
            };
            let _ = writeln!(
                out,
                "| {} | {m:.3} [{lo:.3}–{hi:.3}] | {} | {} | {} | {} | {} | {switches} | {} |",
                contestant.label(),
                ratio(m, kept),
                ratio(m, orc),
                ratio(m, peer_cost),
                mb(|r| r.rss_kb),
                mb(|r| r.peak_kb),
                runs.last().map_or(0, |r| r.series),
            );
        }
    }
}

/// The machine, for the report's header.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name") || l.starts_with("Model"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".to_owned(), |(_, v)| v.trim().to_owned());
    let uname = sonde::sandbox::system::uname();
    format!(
        "{} × {model}, kernel {} ({})",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        uname.release,
        uname.machine
    )
}

/// Sleeping processes for the process-groups comparison, killed when dropped.
struct Sleepers(Vec<Child>);

impl Sleepers {
    fn start(n: usize) -> Self {
        let children = (0..n)
            .map(|_| {
                Command::new("sleep")
                    .arg("86400")
                    .stdin(Stdio::null())
                    .spawn()
                    .expect("start a sleeping process")
            })
            .collect();
        Sleepers(children)
    }
}

impl Drop for Sleepers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
        }
        for child in &mut self.0 {
            let _ = child.wait();
        }
    }
}

fn sonde(label: &str, plugins: &[&str], extra: &'static str) -> Contestant {
    Contestant::Program {
        program: Program::Sonde {
            plugins: plugins.iter().map(|p| p.to_string()).collect(),
            extra,
            binary: None,
        },
        label: label.into(),
        scraped: true,
    }
}

/// With `--baseline`: after every sonde row, the same agent run by the baseline binary.
fn with_baseline(contestants: Vec<Contestant>, baseline: Option<&Path>) -> Vec<Contestant> {
    let Some(baseline) = baseline else {
        return contestants;
    };
    let mut out = Vec::new();
    for contestant in contestants {
        let twin = match &contestant {
            Contestant::Program {
                program: Program::Sonde { plugins, extra, .. },
                label,
                scraped,
            } => Some(Contestant::Program {
                program: Program::Sonde {
                    plugins: plugins.clone(),
                    extra,
                    binary: Some(baseline.to_owned()),
                },
                label: format!("{label}, baseline"),
                scraped: *scraped,
            }),
            _ => None,
        };
        out.push(contestant);
        out.extend(twin);
    }
    out
}

fn floors(plugins: &[&str], extra: &str) -> [Contestant; 2] {
    let plugins: Vec<String> = plugins.iter().map(|p| p.to_string()).collect();
    let accesses = record_accesses(&plugins, extra);
    [
        Contestant::Floor {
            accesses: accesses.clone(),
            kept: true,
        },
        Contestant::Floor {
            accesses,
            kept: false,
        },
    ]
}

fn program(program: Program, label: &str) -> Contestant {
    Contestant::Program {
        program,
        label: label.into(),
        scraped: true,
    }
}

/// The binary's size and its size stripped of symbols.
fn binary_sizes() -> (f64, Option<f64>) {
    let binary = sonde_binary();
    let size = std::fs::metadata(&binary).map_or(0, |m| m.len()) as f64 / 1e6;
    let stripped = tempfile::NamedTempFile::new().ok().and_then(|tmp| {
        let ok = Command::new("strip")
            .arg("-o")
            .arg(tmp.path())
            .arg(&binary)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| std::fs::metadata(tmp.path()).map_or(0, |m| m.len()) as f64 / 1e6)
    });
    (size, stripped)
}

/// The row of the agent whose one plugin finds nothing to collect.
const NOTHING_TO_DO: &str = "the agent, textfile on an empty directory (nothing to do)";
/// The same agent, not scraped.
const NOTHING_TO_DO_UNSCRAPED: &str = "the same, never scraped (the difference: a gzip scrape)";
/// The agent without plugins, not scraped: it runs no cycle at all.
const NO_PLUGIN_UNSCRAPED: &str =
    "the agent without plugins, never scraped (the difference: a cycle of one idle plugin)";

/// `contestant`, never scraped during its cycles.
fn unscraped(mut contestant: Contestant) -> Contestant {
    if let Contestant::Program { scraped, .. } = &mut contestant {
        *scraped = false;
    }
    contestant
}

/// The line in `BENCHMARKS.md` after which a regeneration keeps the file as it is.
const KEPT_SECTIONS: &str = "<!-- kept by scripts/bench: measured by the commands given -->";

fn main() {
    let o = options();
    if let Some(binary) = &o.sonde {
        SONDE.set(binary.clone()).unwrap();
    }
    let wants = |name: &str| o.only.as_deref().is_none_or(|only| only == name);
    // The built-ins an operator gets without enabling any (node_exporter's defaults).
    let all: Vec<&str> = builtin::builtin_names()
        .filter(|name| !builtin::disabled_by_default(name))
        .collect();
    let started = Instant::now();

    let mut comparisons = Vec::new();

    let mut node = vec![
        sonde("sonde (all built-ins)", &all, ""),
        program(Program::NodeExporter, "prometheus-node-exporter"),
    ];
    node.extend(floors(&all, ""));
    comparisons.push((
        Comparison::new(
            "All built-ins vs node_exporter",
            "sonde with every built-in plugin at its defaults; Debian's node_exporter with the same collectors (`sonde::wasm::builtin::NODE_EXPORTER_COLLECTORS`).",
            with_baseline(node, o.baseline.as_deref()),
        ),
        "prometheus-node-exporter",
    ));

    let sleepers = Sleepers::start(o.processes);
    let mut groups = vec![
        sonde("sonde (process groups)", &["process"], PROCESS_GROUPS_TOML),
        program(Program::ProcessExporter, "prometheus-process-exporter"),
    ];
    groups.extend(floors(&["process"], PROCESS_GROUPS_TOML));
    let mut groups = Comparison::new(
        &format!(
            "Process groups on {} more processes vs process-exporter",
            o.processes
        ),
        &format!(
            "{} sleeping processes started by the bench besides the machine's own; both group every command line by `{{{{.Comm}}}}`.",
            o.processes
        ),
        with_baseline(groups, o.baseline.as_deref()),
    );
    // At the 10 s cadence: a collection of 10,000 processes takes about a second.
    if wants("groups") {
        groups.run(o.rounds, &o.cadences[o.cadences.len() - 1..]);
    }
    drop(sleepers);

    let four = ["cpu", "mem", "disk", "net"];
    let mut collectd = vec![
        sonde("sonde (cpu, mem, disk, net)", &four, ""),
        program(
            Program::Collectd,
            "collectd (cpu, memory, load, disk, df, interface)",
        ),
    ];
    collectd.extend(floors(&four, ""));
    comparisons.push((
        Comparison::new(
            "cpu, mem, disk, net vs collectd",
            "collectd writes CSV (its series: the values of one interval).",
            with_baseline(collectd, o.baseline.as_deref()),
        ),
        "collectd (cpu, memory, load, disk, df, interface)",
    ));

    // Each built-in alone, and an agent whose only plugin finds nothing: a cycle's fixed cost.
    let textfile_empty: &'static str = Box::leak(
        format!(
            "[plugins.textfile]\nconfig = {{ directory = {:?} }}\n",
            tempfile::tempdir().unwrap().keep()
        )
        .into_boxed_str(),
    );
    let mut alone = vec![sonde(NOTHING_TO_DO, &["textfile"], textfile_empty)];
    // The same agent never scraped: the difference is what a scrape costs at this cadence; and
    // without its plugin, when the agent runs no cycle at all: the difference is what a cycle
    // costs whose one plugin has nothing to do (the thread's wake-up, the call, self-metrics).
    alone.push(unscraped(sonde(
        NOTHING_TO_DO_UNSCRAPED,
        &["textfile"],
        textfile_empty,
    )));
    alone.push(unscraped(sonde(NO_PLUGIN_UNSCRAPED, &[], "")));
    for plugin in &all {
        alone.push(sonde(&format!("{plugin} alone"), &[plugin], ""));
    }
    let mut alone = Comparison::new(
        "Each built-in alone in the agent",
        "The agent with one plugin, its self-metrics included; the first row is the cost of a cycle that collects nothing, the next two take away the scrape and then the plugin.",
        with_baseline(alone, o.baseline.as_deref()),
    );

    for ((comparison, _), name) in comparisons.iter_mut().zip(["node", "collectd"]) {
        if wants(name) {
            comparison.run(o.rounds, &o.cadences[..o.shared_cadences]);
        }
    }
    if wants("alone") {
        alone.run(o.rounds.min(3), &o.cadences[..1]);
    }

    let (size, stripped) = binary_sizes();
    let mut report = String::new();
    let _ = write!(
        report,
        "# sonde benchmarks\n\nProduced by `scripts/bench{}` on {}, {} ({} round(s); {}; {:.0} min).\n\n\
         Each contestant runs alone, in turn, in every round (the order reversed every other round), so the machine's drift hits all of them; \
         CPU per cycle is the process's CPU clock over the measured cycles (every thread, nanoseconds); median of the rounds, their range in brackets. \
         Ratios are between medians of this run: figures from another run or machine do not compare (these VMs differ 2–4× between machines and hours). \
         The floors replay natively the files, listings and `statfs` calls one sonde cycle made: **kept** keeps each file open and reads it again with one `pread` from offset 0, the physical limit for an agent that keeps files open; **open-read-close** opens, reads and closes every file every cycle, as node_exporter does.\n\n\
         sonde binary: {:.1} MB, {} stripped of symbols.\n",
        if o.quick { " --quick" } else { "" },
        machine(),
        std::process::Command::new("date")
            .arg("-u")
            .arg("+%Y-%m-%d")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default(),
        o.rounds,
        o.cadences
            .iter()
            .map(|(c, n)| format!("{n} cycles at {} s", c.as_secs()))
            .collect::<Vec<_>>()
            .join(", "),
        started.elapsed().as_secs_f64() / 60.0,
        size,
        stripped.map_or("(no strip)".into(), |s| format!("{s:.1} MB")),
    );
    for (comparison, peer) in &comparisons {
        render_comparison(&mut report, comparison, peer, peer);
    }
    render_comparison(
        &mut report,
        &groups,
        "prometheus-process-exporter",
        "prometheus-process-exporter",
    );
    render_comparison(&mut report, &alone, NOTHING_TO_DO, "nothing to do");
    if let Some(sections) = o.sections.and_then(|p| std::fs::read_to_string(p).ok()) {
        report.push_str(&sections);
    }
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
    if o.quick && o.only.is_none() {
        // The smoke test: every contestant ran and sonde produced figures.
        let groups_sonde = &groups.results[0].1[0][0];
        assert!(
            groups_sonde.series > 50,
            "sonde's process groups: {groups_sonde:?}"
        );
        let (node, _) = &comparisons[0];
        for (_, costs) in &node.results {
            for runs in costs {
                assert!(!runs.is_empty() && runs.iter().all(|r| r.cpu_ms_per_cycle.is_finite()));
            }
            assert!(costs[0][0].series > 100, "sonde produced no series");
            assert!(
                costs[0][0].cpu_ms_per_cycle > 0.0,
                "sonde's CPU clock not read"
            );
        }
    }
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
    n
}
