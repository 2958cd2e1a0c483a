//! The command line: `sonde collect --once`, `--help`, `--version`.
//!
//! It uses the agent for `run` and the agent's collection path for `collect --once`.

pub mod scaffold;

use crate::agent::Agent;
use crate::agent::cycle::{Outgoing, Round, SelfMetricsCycle, Sinks};
use crate::agent::loader;
use crate::agent::self_metrics::SelfMetrics;
use crate::agent::stats::AgentStats;
use crate::config::PathOverrides;
use crate::config::{Config, LogConfig, LogFormat};
use crate::pipeline::instance;
use crate::remote_write;
use crate::sandbox::grants::Grants;
use crate::sandbox::{DEFAULT_READ_CAP, RootPaths, Sandbox};
use crate::wasm::compile_cache::CompileCache;
use crate::wasm::plugin::{Inspection, Limits, Plugin, inspect};
use crate::wasm::runtime::Runtime;
use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use std::io::{Read, Write};
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
                  sonde run --config /etc/sonde/sonde.toml   run the agent\n  \
                  sonde check-config /etc/sonde/sonde.toml   validate a config\n  \
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
    /// Run the agent: collect on each plugin's interval, remote-write, serve /metrics.
    ///
    /// SIGHUP reloads the config (a bad one is logged and the running one stays); SIGTERM and
    /// SIGINT stop collection, flush the remote-write queues (5 s at most) and exit 0. Exit
    /// code 2 for a bad config or command line.
    Run(RunArgs),
    /// Run every enabled plugin once and print the metrics in the Prometheus text format.
    ///
    /// With `[[remote_write]]` in the config, the samples are also pushed. Plugin errors are
    /// logged to stderr and the plugin's metrics are left out; the exit code is 1 if a plugin
    /// failed or a receiver did not accept the samples, 2 for a bad config or command line,
    /// 0 otherwise.
    Collect(CollectArgs),
    /// Check a config file without running anything: syntax, keys, values, relabel rules,
    /// URLs, and each plugin's config table against the plugin's own keys. Exit code 0 when
    /// valid, 2 otherwise (with file, line and key).
    CheckConfig(CheckConfigArgs),
    /// Work with plugins: create a plugin crate, inspect a component, precompile one.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Create a ready-to-build plugin crate `NAME/` (collector, native test, fixture, README).
    New {
        /// The plugin name: lowercase letters, digits and _.
        name: String,
        /// Where to create it [default: the current directory].
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
        /// Use the sonde-sdk sources in this directory instead of the crates.io release.
        #[arg(long, value_name = "DIR")]
        sdk_path: Option<PathBuf>,
    },
    /// Show what a plugin component is: name, version, plugin API version, imports, the
    /// capabilities it needs and its default config.
    Inspect {
        /// The `.wasm` component.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Compile a plugin component ahead of time into the compile cache, so the agent's next
    /// start loads it without compiling. (The agent itself compiles a plugin missing from the
    /// cache this way, in a child process, so compiling leaves no memory behind in it.)
    Compile {
        /// The `.wasm` component; `-` reads it from stdin.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The config file whose `cache_dir` to use (default: the default cache directory).
        #[arg(long, short = 'c', value_name = "CONFIG")]
        config: Option<PathBuf>,
        /// The compile cache directory, instead of the config's `cache_dir`.
        #[arg(long, value_name = "DIR", conflicts_with = "config")]
        cache_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The config file (TOML), e.g. /etc/sonde/sonde.toml.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: PathBuf,
    /// The exporter-toolkit web config file (TLS, basic auth, headers of /metrics), as
    /// node_exporter's flag; replaces `[http] web_config_file`.
    #[arg(long = "web.config.file", value_name = "FILE")]
    web_config_file: Option<PathBuf>,
    #[command(flatten)]
    paths: PathArgs,
}

#[derive(Debug, Args)]
struct CheckConfigArgs {
    /// The config file to check.
    #[arg(value_name = "FILE")]
    config: PathBuf,
}

#[derive(Debug, Args)]
struct CollectArgs {
    /// Collect once and exit (the only mode of `collect`; the agent is `sonde run`).
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
    fn overrides(&self) -> PathOverrides {
        PathOverrides {
            procfs: self.procfs.clone(),
            sysfs: self.sysfs.clone(),
            rootfs: self.rootfs.clone(),
        }
    }
}

/// Parses the command line, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    crate::agent::memory::tune_malloc();
    crate::agent::memory::map_files_on_demand();
    crate::sandbox::kept_files::raise_descriptor_limit();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Collect(args) => {
            init_logging(&LogConfig {
                level: "warn".into(),
                format: LogFormat::Auto,
            });
            collect(args)
        }
        Command::CheckConfig(args) => check_config(args),
        Command::Plugin(command) => plugin_command(command),
    };
    // Output piped into `head` that stops reading is not an error.
    let result = result.or_else(|e| match e.downcast_ref::<std::io::Error>() {
        Some(io) if io.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        _ => Err(e),
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            // Logging may not be set up yet (a bad config is found before it is).
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Logs to stderr: `RUST_LOG` or the config's level; human on a terminal, plain for journald,
/// or JSON.
fn init_logging(log: &LogConfig) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&log.level));
    let terminal = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let format = match log.format {
        LogFormat::Auto if terminal => LogFormat::Human,
        LogFormat::Auto => LogFormat::Plain,
        other => other,
    };
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        // journald timestamps lines itself and shows no colours.
        LogFormat::Plain => builder.with_ansi(false).without_time().try_init(),
        _ => builder.with_ansi(terminal).try_init(),
    };
}

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    if let Some(web) = &args.web_config_file {
        crate::expose::web_config::WebConfig::load(web)
            .map_err(|e| anyhow::anyhow!("--web.config.file: {e}"))?;
    }
    init_logging(&config.log);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .thread_name("sonde")
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let agent = Agent::new(args.config.clone(), args.paths.overrides())
        .with_web_config_file(args.web_config_file);
    tokio.block_on(agent.run(config))?;
    Ok(ExitCode::SUCCESS)
}

fn plugin_command(command: PluginCommand) -> anyhow::Result<ExitCode> {
    let runtime = || -> anyhow::Result<Arc<Runtime>> {
        Ok(Arc::new(Runtime::new(Sandbox::open(
            RootPaths::default(),
            DEFAULT_READ_CAP,
        ))?))
    };
    match command {
        PluginCommand::New {
            name,
            dir,
            sdk_path,
        } => {
            let created = crate::cli::scaffold::new_plugin(&name, &dir, sdk_path.as_deref())?;
            println!(
                "created {0}\n  cd {0}\n  cargo test\n  cargo build --release --target wasm32-wasip2",
                created.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Inspect { file } => {
            let runtime = runtime()?;
            let wasm =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let Inspection {
                info,
                api_version: api,
                imports,
                exports,
            } = inspect(&runtime, &wasm)
                .map_err(|e| anyhow::anyhow!("{}: {e:#}", file.display()))?;
            let needs: Vec<&str> = info.needs.iter().map(|c| c.name()).collect();
            let mut out = std::io::stdout().lock();
            writeln!(out, "file:           {}", file.display())?;
            writeln!(out, "name:           {}", info.name)?;
            writeln!(out, "version:        {}", info.version)?;
            writeln!(out, "summary:        {}", info.summary)?;
            writeln!(
                out,
                "plugin API:     sonde:collector@{}",
                api.unwrap_or_default()
            )?;
            writeln!(
                out,
                "needs:          {}",
                if needs.is_empty() {
                    "nothing".into()
                } else {
                    needs.join(", ")
                }
            )?;
            writeln!(out, "default config: {}", info.default_config)?;
            writeln!(out, "imports:")?;
            for import in imports {
                writeln!(out, "  {import}")?;
            }
            writeln!(out, "exports:")?;
            for export in exports {
                writeln!(out, "  {export}")?;
            }
            writeln!(out, "size:           {} bytes", wasm.len())?;
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Compile {
            file,
            config,
            cache_dir,
        } => {
            let runtime = runtime()?;
            let cache_dir = match (cache_dir, config) {
                (Some(dir), _) => dir,
                (None, Some(path)) => Config::load(&path)?.global.cache_dir(),
                (None, None) => Config::default().global.cache_dir(),
            };
            let cache = CompileCache::open(&cache_dir)?;
            let wasm = if file.as_os_str() == "-" {
                let mut wasm = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut wasm)
                    .context("reading the component from stdin")?;
                wasm
            } else {
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?
            };
            let (component, source) = cache.load(runtime.engine(), &wasm, None)?;
            // Refuse to cache what the agent would refuse to run.
            Plugin::from_component(
                &runtime,
                "compile",
                &component,
                Grants::default(),
                Limits::default(),
            )?;
            println!(
                "{}: {} {}",
                file.display(),
                match source {
                    crate::wasm::compile_cache::Source::Cache => "already compiled in",
                    crate::wasm::compile_cache::Source::Compiled => "compiled into",
                    crate::wasm::compile_cache::Source::Precompiled => "written precompiled into",
                },
                cache.artifact_path(runtime.engine(), &wasm).display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn check_config(args: CheckConfigArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    // The validation `run` and `collect` do: each plugin loads, is granted what it needs and is
    // given only keys of its own config.
    let runtime = Arc::new(Runtime::new(Sandbox::open(
        RootPaths::default(),
        DEFAULT_READ_CAP,
    ))?);
    let cache = open_cache(&config);
    loader::load_enabled(&runtime, &config, cache.as_ref())?;
    println!("{}: valid", args.config.display());
    Ok(ExitCode::SUCCESS)
}

fn collect(args: CollectArgs) -> anyhow::Result<ExitCode> {
    if !args.once {
        bail!("`sonde collect` only collects once; use `sonde run` for the agent");
    }
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let paths = args.paths.overrides().resolve(&config);
    let runtime = Arc::new(Runtime::new(Sandbox::open(paths, DEFAULT_READ_CAP))?);
    runtime
        .memory_budget()
        .set_limit(config.global.plugins_memory_limit.0 as usize);
    let cache = open_cache(&config);
    let plugins = loader::load_enabled(&runtime, &config, cache.as_ref())?;
    // The agent's path, once: the families into a store, the figures into the stats, and the
    // relabeled series for the endpoints.
    let stats = Arc::new(AgentStats::default());
    let pipeline = (!config.remote_write.is_empty()).then(|| {
        config.pipeline(instance::resolve(
            &config.global.instance,
            runtime.sandbox(),
        ))
    });
    let sinks = Sinks::new(Arc::default(), stats.clone(), pipeline, Vec::new(), 0);
    let mut round = Round::new(plugins, sinks);
    let mut outgoing = Outgoing::default();
    let failed = round.run(&mut outgoing);
    let mut code = if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PLUGIN_FAILED)
    };
    let own = SelfMetrics::once(stats).families();
    if let Some(pipeline) = &round.sinks().pipeline {
        SelfMetricsCycle::default().collect(&own, pipeline, &mut outgoing);
        if !push(&config, outgoing)? {
            code = ExitCode::from(EXIT_PLUGIN_FAILED);
        }
    }
    let text = round.sinks().store.render(own);
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("writing to stdout")?;
    Ok(code)
}

/// The compile cache, or none (with a warning) when its directory cannot be used.
fn open_cache(config: &Config) -> Option<CompileCache> {
    let dir = config.global.cache_dir();
    match CompileCache::open(&dir) {
        Ok(cache) => Some(cache),
        Err(e) => {
            tracing::warn!(error = %e, "compiling plugins without a cache");
            None
        }
    }
}

/// Pushes a cycle's series to every `[[remote_write]]` endpoint; false if any endpoint did not
/// accept everything (the reason is logged).
fn push(config: &Config, outgoing: Outgoing) -> anyhow::Result<bool> {
    let Outgoing { series, metadata } = outgoing;
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
