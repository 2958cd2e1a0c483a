//! The command line: `sonde collect --once`, `--help`, `--version`.

use crate::builtin;
use crate::config::Config;
use crate::cycle::{CycleOutput, collect_once};
use crate::pipeline::{self, Pipeline};
use crate::runtime::Runtime;
use crate::sandbox::{DEFAULT_READ_CAP, RootPaths, Sandbox};
use crate::{instance, remote_write};
use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Exit code for a run in which a plugin failed (its metrics are missing from the output).
const EXIT_PLUGIN_FAILED: u8 = 1;
/// Exit code for a bad command line or config.
const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "sonde",
    version,
    about = "A host-metrics agent with sandboxed WebAssembly collectors, node_exporter compatible",
    long_about = "sonde collects host metrics (CPU, memory, disks, network, processes) with \
                  collector plugins that run as WebAssembly components in a sandbox: each plugin \
                  reads only the roots it is granted (/proc, /sys, the root filesystem) and runs \
                  under a time and memory limit. Metric names, labels and values are those of \
                  Prometheus' node_exporter, so dashboards and alerts keep working.",
    after_help = "Examples:\n  \
                  sonde collect --once                       print this host's metrics\n  \
                  sonde collect --once --path.procfs /host/proc --path.sysfs /host/sys\n  \
                  sonde collect --once --config /etc/sonde/sonde.toml\n\n\
                  Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=debug) for more detail."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every enabled plugin once and print the metrics in the Prometheus text format.
    ///
    /// Plugin errors are logged to stderr and the plugin's metrics are left out; the exit code is
    /// 1 if any plugin failed, 2 for a bad config or command line, 0 otherwise.
    Collect(CollectArgs),
}

#[derive(Debug, Args)]
struct CollectArgs {
    /// Collect once and exit (the only mode of `collect`; the daemon is `sonde run`).
    #[arg(long, default_value_t = true)]
    once: bool,
    /// The config file (TOML); without it every built-in plugin runs with its defaults.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    paths: PathArgs,
}

/// The root directories, overriding the config's `[paths]`.
#[derive(Debug, Args)]
struct PathArgs {
    /// procfs mount point [default: /proc]
    #[arg(long = "path.procfs", value_name = "DIR")]
    procfs: Option<PathBuf>,
    /// sysfs mount point [default: /sys]
    #[arg(long = "path.sysfs", value_name = "DIR")]
    sysfs: Option<PathBuf>,
    /// root filesystem, for /etc/os-release and mount points [default: /]
    #[arg(long = "path.rootfs", value_name = "DIR")]
    rootfs: Option<PathBuf>,
}

impl PathArgs {
    /// Flags first, then the config, then the defaults.
    fn resolve(&self, config: &Config) -> RootPaths {
        let defaults = RootPaths::default();
        let pick = |flag: &Option<PathBuf>, conf: &Option<PathBuf>, default: PathBuf| {
            flag.clone().or_else(|| conf.clone()).unwrap_or(default)
        };
        RootPaths {
            procfs: pick(&self.procfs, &config.paths.procfs, defaults.procfs),
            sysfs: pick(&self.sysfs, &config.paths.sysfs, defaults.sysfs),
            rootfs: pick(&self.rootfs, &config.paths.rootfs, defaults.rootfs),
        }
    }
}

/// Parses the command line, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Collect(args) => collect(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn collect(args: CollectArgs) -> anyhow::Result<ExitCode> {
    if !args.once {
        bail!("`sonde collect` only collects once; use `sonde run` for the agent");
    }
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let paths = args.paths.resolve(&config);
    let runtime = Arc::new(Runtime::new(Sandbox::open(paths, DEFAULT_READ_CAP))?);
    let plugins = builtin::load_enabled(&runtime, &config)?;
    let output = collect_once(&plugins);
    let mut code = if output.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PLUGIN_FAILED)
    };
    if !config.remote_write.is_empty() && !push(&config, &runtime, &output)? {
        code = ExitCode::from(EXIT_PLUGIN_FAILED);
    }
    let mut families = output.into_families();
    families.retain(|f| !f.is_empty());
    sonde_sdk::exposition::normalize(&mut families);
    let text = sonde_sdk::exposition::render(&families);
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("writing to stdout")?;
    Ok(code)
}

/// Relabels the cycle and pushes it to every `[[remote_write]]` endpoint; false if any endpoint
/// did not accept everything (the reason is logged).
fn push(config: &Config, runtime: &Runtime, output: &CycleOutput) -> anyhow::Result<bool> {
    let instance = instance::resolve(&config.global.instance, runtime.sandbox());
    let pipeline = Pipeline::new(config, instance);
    let mut series = Vec::new();
    let mut all_families = Vec::new();
    for (plugin, families) in &output.plugins {
        pipeline.process(plugin, families, output.timestamp_ms, &mut series);
        all_families.extend(families.iter().cloned());
    }
    pipeline.process("", &output.self_metrics, output.timestamp_ms, &mut series);
    all_families.extend(output.self_metrics.iter().cloned());
    let metadata = pipeline::metadata(&all_families);
    let endpoints: Vec<_> = config
        .remote_write
        .iter()
        .map(|e| e.get_ref().clone())
        .collect();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcomes = tokio.block_on(remote_write::push::push(&endpoints, &series, &metadata));
    let mut ok = true;
    for outcome in outcomes {
        match outcome.error {
            None => {
                tracing::info!(endpoint = %outcome.endpoint, samples = outcome.accepted, "remote write accepted")
            }
            Some(error) => {
                ok = false;
                tracing::error!(endpoint = %outcome.endpoint, accepted = outcome.accepted, total = series.len(), %error, "remote write failed");
            }
        }
    }
    Ok(ok)
}
