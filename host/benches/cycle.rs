//! CPU time of one full collection cycle, side by side in one run:
//!
//! * **sonde**: every built-in plugin, in wasm, through the real host (each plugin's instance
//!   kept between cycles as in the agent, host calls, kept files, validation, the self-metrics),
//!   measured with `CLOCK_PROCESS_CPUTIME_ID` over many cycles;
//! * **floor**: a minimal native loop that only opens and reads the same files, lists the same
//!   directories and `statfs`es the same mounts that one cycle did (recorded by the sandbox for
//!   that cycle only, so that the measured cycles do not pay for the recording);
//! * **node_exporter** (Debian's `prometheus-node-exporter`, when installed): started with the
//!   matching collectors and scraped as Prometheus does (`Accept-Encoding: gzip`); its CPU time
//!   per scrape from its CPU clock.
//!
//! `cargo bench -p sonde --bench cycle -- [--cycles N] [--pause-ms MS] [--procfs DIR] [--only PLUGIN] [--config FILE] [--sonde-only]`
//!
//! `--config FILE` takes the plugins' config tables from a sonde config (e.g. process groups:
//! `[plugins.process] config = { processes = false, process_names = [{ name = "{{.Comm}}",
//! cmdline = [".+"] }] }`); `--only` still turns the other plugins off.
//!
//! `--sonde-only` runs just sonde's cycles (no floor, no node_exporter): for `perf record`.
//!
//! `--pause-ms MS` sleeps that long before every cycle of sonde and of the floor and before every
//! scrape of node_exporter, as the agent does between its cycles: caches and TLBs are then as
//! cold as in production, where a cycle costs several times a back-to-back ("hot") one. Use
//! fewer cycles (`--cycles 30 --pause-ms 1000`: one minute per side).
//!
//! Not a timed test: it prints figures and asserts nothing about them.

use sonde::agent::cycle::{Outgoing, Round};
use sonde::config::Config;
use sonde::sandbox::{DEFAULT_READ_CAP, RootPaths, Sandbox};
use sonde::wasm::runtime::Runtime;
mod common;

use common::{Killed, cpu_ms, get, process_cpu_ms, replay};
use sonde::agent::loader;
use sonde::wasm::builtin;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    cycles: u32,
    procfs: Option<PathBuf>,
    only: Option<String>,
    config: Option<PathBuf>,
    sonde_only: bool,
    pause: Duration,
}

fn args() -> Args {
    let mut args = Args {
        cycles: 200,
        procfs: None,
        only: None,
        config: None,
        sonde_only: false,
        pause: Duration::ZERO,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--cycles" => args.cycles = it.next().and_then(|v| v.parse().ok()).expect("--cycles N"),
            "--procfs" => args.procfs = it.next().map(PathBuf::from),
            "--only" => args.only = it.next(),
            "--config" => args.config = it.next().map(PathBuf::from),
            "--sonde-only" => args.sonde_only = true,
            "--pause-ms" => {
                args.pause = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .map(Duration::from_millis)
                    .expect("--pause-ms MS")
            }
            _ => {} // cargo bench passes --bench
        }
    }
    args
}

fn process_cpu() -> Duration {
    Duration::from_secs_f64(process_cpu_ms() / 1000.0)
}

fn main() -> anyhow::Result<()> {
    let args = args();
    let mut paths = RootPaths::default();
    if let Some(procfs) = &args.procfs {
        paths.procfs = procfs.clone();
    }
    let sandbox = Sandbox::open(paths.clone(), DEFAULT_READ_CAP).record();
    let runtime = Arc::new(Runtime::new(sandbox)?);
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
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
    let plugins = loader::load_enabled(&runtime, &config, None)?;
    let plugin_count = plugins.len();
    // The agent's path: each cycle is decoded into the store over the one before.
    let mut round = Round::local(plugins);

    // Warm up, then record one cycle's accesses for the floor.
    for _ in 0..3 {
        round.run(&mut Outgoing::default());
    }
    runtime.sandbox().take_recorded();
    round.run(&mut Outgoing::default());
    let series = round.samples();
    let accesses = runtime.sandbox().take_recorded();
    runtime.sandbox().stop_recording();

    let start = (process_cpu(), Instant::now());
    for _ in 0..args.cycles {
        pause(args.pause);
        round.run(&mut Outgoing::default());
    }
    let sonde = (process_cpu() - start.0) / args.cycles;
    let sonde_wall = (start.1.elapsed() - args.pause * args.cycles) / args.cycles;
    if args.sonde_only {
        println!(
            "sonde: {series} series, {:.3} ms CPU per cycle ({:.3} ms wall)",
            ms(sonde),
            ms(sonde_wall)
        );
        return Ok(());
    }

    let start = process_cpu();
    for _ in 0..args.cycles {
        pause(args.pause);
        replay(&paths, &accesses);
    }
    let floor = (process_cpu() - start) / args.cycles;

    println!(
        "cycle of {} plugin(s), {series} series, {} accesses",
        plugin_count,
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
        match node_exporter(args.cycles.min(100), args.pause) {
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

/// Sleeps for `pause` (nothing when zero).
fn pause(pause: Duration) {
    if !pause.is_zero() {
        std::thread::sleep(pause);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-12)
}

/// Starts node_exporter with the matching collectors, scrapes it `scrapes` times, and returns
/// its CPU time per scrape and the number of series (without go_/process_/promhttp_ ones),
/// sleeping `pause` before each scrape.
fn node_exporter(scrapes: u32, pause_between: Duration) -> anyhow::Result<(Duration, usize)> {
    let binary = Path::new("/usr/bin/prometheus-node-exporter");
    anyhow::ensure!(binary.exists(), "{} is not installed", binary.display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut cmd = Command::new(binary);
    cmd.args(sonde::wasm::builtin::node_exporter_args(&format!(
        "127.0.0.1:{port}"
    )))
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let child = Killed(cmd.spawn()?);
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(port, false).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "node_exporter did not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
    let body = get(port, false)?;
    let series = body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter(|l| {
            !l.starts_with("node_scrape_collector") && !l.starts_with("node_exporter_build_info")
        })
        .count();
    for _ in 0..3 {
        get(port, true)?;
    }
    let before = cpu_ms(child.0.id());
    for _ in 0..scrapes {
        pause(pause_between);
        get(port, true)?;
    }
    let after = cpu_ms(child.0.id());
    Ok((
        Duration::from_secs_f64((after - before) / 1000.0) / scrapes,
        series,
    ))
}
