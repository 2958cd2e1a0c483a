//! The agent's TOML config file: target labels, roots, plugins and their config tables,
//! relabel rules, remote-write endpoints.
//!
//! Unknown keys, values of the wrong type and invalid settings (a bad regex, a bad URL) are
//! errors that name the file, the line and the key, as operators expect of a config file.
//!
//! It holds each part's settings type and builds what the agent runs from them (the
//! pipeline, the roots); it uses every module below it in `lib.rs` and none above.

pub mod env;

use crate::pipeline::Pipeline;
use crate::pipeline::relabel::{RelabelConfig, RelabelRule};
use crate::remote_write::RemoteWriteConfig;
use crate::sandbox::RootPaths;
use crate::units::{ByteSize, ConfigDuration};
use crate::wasm::plugin::Limits;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// The whole config file. Every section is optional; an empty file is a valid config.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Target labels (`instance`, `job`).
    pub global: GlobalConfig,
    /// Where the roots are served from.
    pub paths: PathsConfig,
    /// Per-plugin settings, keyed by plugin name.
    pub plugins: BTreeMap<String, PluginConfig>,
    /// `[[relabel]]`: rules applied to every sample, after the plugin's own.
    pub relabel: Vec<Spanned<RelabelConfig>>,
    /// `[[remote_write]]`: where samples are pushed.
    pub remote_write: Vec<Spanned<RemoteWriteConfig>>,
    /// `[http]`: the optional pull endpoint.
    pub http: HttpConfig,
    /// `[log]`: log level and format.
    pub log: LogConfig,
    /// The file and text it was read from, to name the line of an error found later (a plugin
    /// that does not load, a plugin config key the plugin does not know).
    #[serde(skip)]
    pub origin: Origin,
}

/// Where a config came from: its path and text (none for a config built in code). It never makes
/// two configs differ: a reload compares what the configs say, not where they were written.
#[derive(Debug, Clone, Default)]
pub struct Origin(Option<std::sync::Arc<(PathBuf, String)>>);

impl PartialEq for Origin {
    fn eq(&self, _: &Origin) -> bool {
        true
    }
}

/// `[http]`: serve `/metrics` like node_exporter, for Prometheus or Alloy to scrape.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to listen on, e.g. `127.0.0.1:9100`; no endpoint when unset.
    pub listen: Option<String>,
    /// Connections served at once (default 64; never more than an eighth of the descriptor
    /// limit). More wait in the kernel's backlog.
    pub max_connections: usize,
    /// How long a client may take to send a request's header, counted from when the connection
    /// waits for it; also how long a kept-alive connection may stay idle (default 30s).
    pub header_read_timeout: ConfigDuration,
    /// The Prometheus exporter-toolkit web config file (node_exporter's `--web.config.file`):
    /// TLS, client certificates, basic auth and headers of the endpoint; re-read on SIGHUP.
    pub web_config_file: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: None,
            max_connections: 64,
            header_read_timeout: ConfigDuration(Duration::from_secs(30)),
            web_config_file: None,
        }
    }
}

impl HttpConfig {
    /// The endpoint's connection limits.
    pub fn limits(&self) -> crate::expose::http::ConnectionLimits {
        crate::expose::http::ConnectionLimits {
            max_connections: self.max_connections,
            header_read_timeout: self.header_read_timeout.0,
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `error`, `warn`, `info` (default), `debug`, `trace`; `RUST_LOG` overrides it.
    pub level: String,
    /// `auto` (human on a terminal, plain otherwise, as journald wants), `human`, `plain`, `json`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Auto,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human on a terminal, plain otherwise.
    #[default]
    Auto,
    /// Colours and aligned fields.
    Human,
    /// One plain line per event, no colours or timestamps (journald adds its own).
    Plain,
    /// One JSON object per line.
    Json,
}

/// `[global]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GlobalConfig {
    /// The `instance` label of every sample: `auto` (the default) is the IPv4 address of the
    /// interface with the default route, which is what DeepFlow matches hosts by; anything else
    /// is used as written.
    pub instance: String,
    /// The `job` label of every sample (default `node`, as node_exporter scrape jobs are named).
    pub job: String,
    /// How often each plugin collects, unless it sets its own (default 10s).
    pub interval: ConfigDuration,
    /// Where compiled plugins are cached (default: `$CACHE_DIRECTORY` under systemd, else
    /// `$XDG_CACHE_HOME/sonde` or `~/.cache/sonde`, else `/var/cache/sonde`).
    pub cache_dir: Option<PathBuf>,
    /// Where the remote-write write-ahead logs are kept (default: `$STATE_DIRECTORY` under
    /// systemd, else `$XDG_STATE_HOME/sonde` or `~/.local/state/sonde`, else `/var/lib/sonde`).
    pub state_dir: Option<PathBuf>,
    /// A directory of third-party plugin components (`<name>.wasm`): a `[plugins.<name>]`
    /// without `path` uses `<plugin_dir>/<name>.wasm`.
    pub plugin_dir: Option<PathBuf>,
    /// Also run the components of `plugin_dir` that the config does not name (default off).
    /// Such a plugin gets no grants; one that needs any is skipped with a warning.
    pub enable_discovered_plugins: bool,
    /// The linear memory of all plugins together (default 96MiB): a plugin whose growth would
    /// pass it fails its cycle as over its memory limit. With the agent's own ~20 MB and one
    /// plugin's output in transit (at most its `memory_limit`), this bounds the agent's memory.
    pub plugins_memory_limit: ByteSize,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            instance: "auto".into(),
            job: "node".into(),
            interval: ConfigDuration(Duration::from_secs(10)),
            cache_dir: None,
            state_dir: None,
            plugin_dir: None,
            enable_discovered_plugins: false,
            plugins_memory_limit: ByteSize(
                crate::wasm::runtime::DEFAULT_PLUGINS_MEMORY_LIMIT as u64,
            ),
        }
    }
}

impl GlobalConfig {
    /// The state directory to use (write-ahead logs).
    pub fn state_dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(|| {
            default_dir(
                "STATE_DIRECTORY",
                "XDG_STATE_HOME",
                ".local/state",
                "/var/lib/sonde",
            )
        })
    }

    /// The compile cache directory to use.
    pub fn cache_dir(&self) -> PathBuf {
        self.cache_dir.clone().unwrap_or_else(|| {
            default_dir(
                "CACHE_DIRECTORY",
                "XDG_CACHE_HOME",
                ".cache",
                "/var/cache/sonde",
            )
        })
    }
}

/// A default directory, as services and users expect it: systemd's `$<SYSTEMD_VAR>` (the first of
/// a `:`-separated list), else `$<XDG_VAR>/sonde`, else `~/<home_dir>/sonde`, else `fallback`.
fn default_dir(systemd_var: &str, xdg_var: &str, home_dir: &str, fallback: &str) -> PathBuf {
    if let Some(dirs) = std::env::var_os(systemd_var) {
        let first = dirs
            .to_string_lossy()
            .split(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        return PathBuf::from(first);
    }
    if let Some(dir) = std::env::var_os(xdg_var) {
        return PathBuf::from(dir).join("sonde");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty() && h != "/") {
        return PathBuf::from(home).join(home_dir).join("sonde");
    }
    PathBuf::from(fallback)
}

/// `[paths]`: the directories behind the `proc`, `sys` and `rootfs` roots.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PathsConfig {
    /// procfs (default `/proc`).
    pub procfs: Option<PathBuf>,
    /// sysfs (default `/sys`).
    pub sysfs: Option<PathBuf>,
    /// the root filesystem (default `/`).
    pub rootfs: Option<PathBuf>,
    /// the D-Bus address of the system bus the `systemd` capability reads (default
    /// `unix:path=/run/dbus/system_bus_socket`).
    pub system_bus: Option<String>,
}

/// `[plugins.<name>]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PluginConfig {
    /// Whether the plugin runs; built-ins run unless this is `false`.
    pub enabled: Option<bool>,
    /// The plugin's own config table, passed to its `collect` as JSON.
    pub config: Option<toml::Table>,
    /// A third-party plugin: the path of its `.wasm` component.
    pub path: Option<PathBuf>,
    /// What the plugin may do: `proc`, `sys`, `rootfs` (optionally narrowed, `sys:class/hwmon`),
    /// `statfs`, `timex`. Default: what a built-in declares; nothing for a third-party plugin.
    pub grants: Option<Vec<String>>,
    /// `[[plugins.<name>.relabel]]`: rules applied to this plugin's samples, before the global
    /// ones.
    pub relabel: Vec<Spanned<RelabelConfig>>,
    /// How often the plugin collects (default: `[global] interval`).
    pub interval: Option<ConfigDuration>,
    /// How long one collection may run before it is stopped (default: 5s, at most the interval).
    pub timeout: Option<ConfigDuration>,
    /// The cap on the plugin's memory (default 64MiB).
    pub memory_limit: Option<ByteSize>,
    /// The most samples one collection may return; more fails the cycle (default 100000).
    pub sample_limit: Option<usize>,
    /// The most procfs and sysfs files kept open between collections and read again in place
    /// (default 256; 0 opens every file afresh each time).
    pub keep_open_files: Option<usize>,
}

impl PluginConfig {
    /// The plugin's interval.
    pub fn interval(&self, global: &GlobalConfig) -> Duration {
        self.interval.map_or(global.interval.0, |d| d.0)
    }

    /// The plugin's timeout: as configured (the config refuses one longer than the interval),
    /// else 5s or the interval if shorter.
    pub fn timeout(&self, global: &GlobalConfig) -> Duration {
        self.timeout
            .map_or(Limits::DEFAULT.timeout.min(self.interval(global)), |d| d.0)
    }

    /// The plugin's memory cap in bytes.
    pub fn memory_limit(&self) -> u64 {
        self.memory_limit
            .map_or(Limits::DEFAULT.memory as u64, |b| b.0)
    }

    /// The plugin's sample limit.
    pub fn sample_limit(&self) -> usize {
        self.sample_limit.unwrap_or(Limits::DEFAULT.samples)
    }

    /// How many kernel files the plugin may keep open between collections.
    pub fn keep_open_files(&self) -> usize {
        self.keep_open_files.unwrap_or(Limits::DEFAULT.kept_files)
    }
}

impl PluginConfig {
    /// The plugin's config table as the JSON its `collect` receives (`{}` when absent).
    pub fn config_json(&self) -> String {
        match &self.config {
            Some(table) => serde_json::to_string(table).unwrap_or_else(|_| "{}".into()),
            None => "{}".into(),
        }
    }
}

/// A config file that could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read config: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the schema.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending key or value.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A config built in code (not read from a file) that is not valid.
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(&e.as_bytes()[..valid]);
            let (line, column) = line_column(&text, valid);
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: "invalid UTF-8: a config file is UTF-8 text".into(),
            }
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates config text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or((1, 1));
            let mut message = e.message().trim().to_owned();
            // toml says only "duplicate key": name it (the span covers the second one).
            if message == "duplicate key"
                && let Some(key) = e.span().and_then(|span| text.get(span))
            {
                message = format!("duplicate key `{}`", key.trim().trim_matches(['[', ']']));
            }
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        })?;
        config.origin = Origin(Some(std::sync::Arc::new((
            path.to_path_buf(),
            text.to_owned(),
        ))));
        config.expand_env(text, path)?;
        config.validate(text, path)?;
        Ok(config)
    }

    /// An error about `key` of the table `[table]` (the whole table with an empty `key`), at the
    /// line it is written on when the config came from a file.
    pub fn error_at(&self, table: &str, key: &str, message: String) -> ConfigError {
        match &self.origin.0 {
            Some(origin) => {
                let (path, text) = &**origin;
                let (line, column) = line_column(text, key_span(text, table, key).start);
                ConfigError::Parse {
                    path: path.clone(),
                    line,
                    column,
                    message,
                }
            }
            None => ConfigError::Invalid(message),
        }
    }

    /// Expands `${env:NAME}` in the remote-write URLs and header values ([`env`]); an unset
    /// variable is an error at its endpoint.
    fn expand_env(&mut self, text: &str, path: &Path) -> Result<(), ConfigError> {
        for endpoint in &mut self.remote_write {
            let span = endpoint.span();
            let config = endpoint.get_mut();
            let mut expanded = || -> Result<(), String> {
                config.url =
                    env::expand_from_process(&config.url).map_err(|m| format!("url: {m}"))?;
                for (name, value) in &mut config.headers {
                    *value = env::expand_from_process(value)
                        .map_err(|m| format!("headers: {name}: {m}"))?;
                }
                Ok(())
            };
            expanded().map_err(|message| {
                let (line, column) = line_column(text, span.start);
                ConfigError::Parse {
                    path: path.to_path_buf(),
                    line,
                    column,
                    message: format!("[[remote_write]] {message}"),
                }
            })?;
        }
        Ok(())
    }

    /// Checks what the schema cannot: relabel rules compile, remote-write settings make sense.
    fn validate(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let at = |span: std::ops::Range<usize>, message: String| {
            let (line, column) = line_column(text, span.start);
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        };
        let plugin_rules = self.plugins.iter().flat_map(|(name, p)| {
            p.relabel
                .iter()
                .map(move |r| (format!("plugins.{name}.relabel"), r))
        });
        let global_rules = self.relabel.iter().map(|r| ("relabel".to_owned(), r));
        for (section, rule) in plugin_rules.chain(global_rules) {
            RelabelRule::compile(rule.get_ref()).map_err(|e| {
                at(
                    rule.span(),
                    format!("[[{section}]] {}: {}", e.key, e.message),
                )
            })?;
        }
        for (i, endpoint) in self.remote_write.iter().enumerate() {
            let config = endpoint.get_ref();
            config.validate().map_err(|(key, message)| {
                at(
                    endpoint.span(),
                    format!("[[remote_write]] {key}: {message}"),
                )
            })?;
            // Each endpoint has its own name (its self-metrics' `endpoint` label) and its own
            // write-ahead log, whose position only its sender moves.
            let earlier = self.remote_write[..i].iter().find(|e| {
                e.get_ref().display_name() == config.display_name()
                    || crate::remote_write::queue::wal_dir_name(e.get_ref())
                        == crate::remote_write::queue::wal_dir_name(config)
            });
            if let Some(earlier) = earlier {
                let (line, _) = line_column(text, earlier.span().start);
                let key = if config.name.is_some() { "name" } else { "url" };
                return Err(at(
                    endpoint.span(),
                    format!(
                        "[[remote_write]] {key}: the endpoint {:?} (line {line}) has the same name{}; give each endpoint a distinct `name`",
                        earlier.get_ref().display_name(),
                        if earlier.get_ref().display_name() == config.display_name() {
                            ""
                        } else {
                            " once made safe for a directory name, so they would share a write-ahead log"
                        }
                    ),
                ));
            }
        }
        let key = |table: &str, key: &str| key_span(text, table, key);
        if self.global.job.is_empty() {
            return Err(at(
                key("global", "job"),
                "[global] job: must not be empty".into(),
            ));
        }
        if self.global.plugins_memory_limit.0 < 1 << 20 {
            return Err(at(
                key("global", "plugins_memory_limit"),
                "[global] plugins_memory_limit: at least 1MiB".into(),
            ));
        }
        if self.global.interval.0.is_zero() {
            return Err(at(
                key("global", "interval"),
                "[global] interval: must be longer than 0s".into(),
            ));
        }
        for (name, plugin) in &self.plugins {
            let table = format!("plugins.{name}");
            if plugin.interval.is_some_and(|d| d.0.is_zero()) {
                return Err(at(
                    key(&table, "interval"),
                    format!("[plugins.{name}] interval: must be longer than 0s"),
                ));
            }
            if plugin.timeout.is_some_and(|d| d.0.is_zero()) {
                return Err(at(
                    key(&table, "timeout"),
                    format!("[plugins.{name}] timeout: must be longer than 0s"),
                ));
            }
            let (timeout, interval) = (plugin.timeout(&self.global), plugin.interval(&self.global));
            if timeout > interval {
                return Err(at(
                    key(&table, "timeout"),
                    format!(
                        "[plugins.{name}] timeout: {} is longer than the plugin's interval of {}; a collection must end before the next begins",
                        humantime::format_duration(timeout),
                        humantime::format_duration(interval)
                    ),
                ));
            }
            if plugin.memory_limit.is_some_and(|b| b.0 < 1 << 20) {
                return Err(at(
                    key(&table, "memory_limit"),
                    format!("[plugins.{name}] memory_limit: at least 1MiB"),
                ));
            }
            if let Some(grants) = &plugin.grants {
                crate::sandbox::grants::Grants::parse(grants).map_err(|e| {
                    at(
                        key(&table, "grants"),
                        format!("[plugins.{name}] grants: {e}"),
                    )
                })?;
            }
        }
        if self.http.max_connections == 0 {
            return Err(at(
                key("http", "max_connections"),
                "[http] max_connections: at least 1".into(),
            ));
        }
        if self.http.header_read_timeout.0.is_zero() {
            return Err(at(
                key("http", "header_read_timeout"),
                "[http] header_read_timeout: must be longer than 0s".into(),
            ));
        }
        if let Some(listen) = &self.http.listen
            && listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(at(
                key("http", "listen"),
                format!("[http] listen: {listen:?} is not an address such as \"127.0.0.1:9100\""),
            ));
        }
        if let Some(web) = &self.http.web_config_file {
            crate::expose::web_config::WebConfig::load(web).map_err(|e| {
                at(
                    key("http", "web_config_file"),
                    format!("[http] web_config_file: {e}"),
                )
            })?;
        }
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log.level.as_str()) {
            return Err(at(
                key("log", "level"),
                format!(
                    "[log] level: {:?} is not one of error, warn, info, debug, trace",
                    self.log.level
                ),
            ));
        }
        Ok(())
    }

    /// The global relabel rules, compiled (the config was validated when loaded).
    pub fn relabel_rules(&self) -> Vec<RelabelRule> {
        compile_all(&self.relabel)
    }
}

/// Compiles rules already checked by [`Config::parse`].
pub fn compile_all(rules: &[Spanned<RelabelConfig>]) -> Vec<RelabelRule> {
    rules
        .iter()
        .filter_map(|r| RelabelRule::compile(r.get_ref()).ok())
        .collect()
}

/// Where `key` is written in the table `[table]` (for errors found after parsing): the key's
/// line if found, else the table header's, else the start of the file.
fn key_span(text: &str, table: &str, key: &str) -> std::ops::Range<usize> {
    let header = format!("[{table}]");
    let Some(start) = text.find(&header) else {
        return 0..0;
    };
    let body = &text[start + header.len()..];
    let end = body.find("\n[").unwrap_or(body.len());
    let mut offset = start + header.len();
    for line in body[..end].split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            return offset + (line.len() - trimmed.len())..offset + line.len();
        }
        offset += line.len();
    }
    start..start + header.len()
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

impl Config {
    /// The pipeline of this (validated) config; `instance` is the resolved `instance` label.
    pub fn pipeline(&self, instance: String) -> Pipeline {
        let plugin_rules = self
            .plugins
            .iter()
            .filter(|(_, p)| !p.relabel.is_empty())
            .map(|(name, p)| (name.clone(), compile_all(&p.relabel)))
            .collect();
        Pipeline::new(
            instance,
            self.global.job.clone(),
            self.relabel_rules(),
            plugin_rules,
        )
    }
}

/// Root directories given on the command line (`--path.procfs` …), which win over the config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathOverrides {
    /// `--path.procfs`.
    pub procfs: Option<PathBuf>,
    /// `--path.sysfs`.
    pub sysfs: Option<PathBuf>,
    /// `--path.rootfs`.
    pub rootfs: Option<PathBuf>,
}

impl PathOverrides {
    /// The roots: flags first, then the config's `[paths]`, then the defaults.
    pub fn resolve(&self, config: &Config) -> RootPaths {
        let defaults = RootPaths::default();
        let pick = |flag: &Option<PathBuf>, conf: &Option<PathBuf>, default: PathBuf| {
            flag.clone().or_else(|| conf.clone()).unwrap_or(default)
        };
        RootPaths {
            procfs: pick(&self.procfs, &config.paths.procfs, defaults.procfs),
            sysfs: pick(&self.sysfs, &config.paths.sysfs, defaults.sysfs),
            rootfs: pick(&self.rootfs, &config.paths.rootfs, defaults.rootfs),
            system_bus: config
                .paths
                .system_bus
                .clone()
                .unwrap_or(defaults.system_bus),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/sonde/sonde.toml"))
    }

    #[test]
    fn empty_config_is_valid() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn plugins_and_paths() {
        let c = parse(
            "[paths]\nprocfs = \"/host/proc\"\n\n[plugins.cpu]\nenabled = true\nconfig = { guest = false }\n",
        )
        .unwrap();
        assert_eq!(c.paths.procfs.as_deref(), Some(Path::new("/host/proc")));
        let cpu = &c.plugins["cpu"];
        assert_eq!(cpu.enabled, Some(true));
        assert_eq!(cpu.config_json(), r#"{"guest":false}"#);
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = parse("[plugins.cpu]\nenabled = true\nintervall = \"10s\"\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("/etc/sonde/sonde.toml:3:1: "), "{msg}");
        assert!(msg.contains("unknown field `intervall`"), "{msg}");
    }

    #[test]
    fn wrong_type_names_line() {
        let err = parse("\n[plugins.cpu]\nenabled = \"yes\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("/etc/sonde/sonde.toml:3:11: "), "{err}");
        assert!(err.contains("bool"), "{err}");
    }

    #[test]
    fn relabel_and_remote_write_errors_name_the_line_and_key() {
        let err = parse(
            "[global]\njob = \"node\"\n\n[[relabel]]\nsource_labels = [\"a\"]\nregex = \"(\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("/etc/sonde/sonde.toml:4:1: [[relabel]] regex: "),
            "{err}"
        );
        let err = parse("[[relabel]]\naction = \"hashmod\"\ntarget_label = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("[[relabel]] modulus: "), "{err}");
        let err = parse("[plugins.cpu]\n[[plugins.cpu.relabel]]\naction = \"replace\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("/etc/sonde/sonde.toml:2:1: [[plugins.cpu.relabel]] target_label"),
            "{err}"
        );
        let err = parse("\n[[remote_write]]\nurl = \"ftp://x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("/etc/sonde/sonde.toml:2:1: [[remote_write]] url: "),
            "{err}"
        );
        let err = parse(
            "[[remote_write]]\nurl = \"http://x\"\nqueue = { batch_send_deadline = \"5\" }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("invalid duration"), "{err}");
    }

    #[test]
    fn remote_write_url_and_headers_take_environment_variables() {
        // The variables are this test's own (unique names: tests run in parallel threads).
        // SAFETY: no other test reads or writes these variables.
        unsafe {
            std::env::set_var("SONDE_TEST_NODE_IP", "10.0.0.7");
            std::env::set_var("SONDE_TEST_TENANT", "team-a");
        }
        let c = parse(
            "[[remote_write]]\nurl = \"http://${env:SONDE_TEST_NODE_IP}:38086/api/v1/prometheus\"\n\
             headers = { X-Scope-OrgID = \"${env:SONDE_TEST_TENANT}\" }\n",
        )
        .unwrap();
        let rw = c.remote_write[0].get_ref();
        assert_eq!(rw.url, "http://10.0.0.7:38086/api/v1/prometheus");
        assert_eq!(rw.headers["X-Scope-OrgID"], "team-a");
        let err = parse("\n[[remote_write]]\nurl = \"http://${env:SONDE_TEST_UNSET}/\"\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "/etc/sonde/sonde.toml:2:1: [[remote_write]] url: `${env:SONDE_TEST_UNSET}`: the environment variable SONDE_TEST_UNSET is not set"
        );
    }

    #[test]
    fn defaults_and_a_full_pipeline() {
        let c = parse("").unwrap();
        assert_eq!(
            (c.global.instance.as_str(), c.global.job.as_str()),
            ("auto", "node")
        );
        let c = parse(
            "[global]\ninstance = \"10.1.2.3\"\n[[relabel]]\ntarget_label = \"region\"\nreplacement = \"eu-1\"\n\
             [[remote_write]]\nurl = \"http://127.0.0.1:38086/api/v1/prometheus\"\nexternal_labels = { cluster = \"a\" }\n",
        )
        .unwrap();
        assert_eq!(c.relabel_rules().len(), 1);
        let rw = c.remote_write[0].get_ref();
        assert_eq!(rw.queue.max_samples_per_send, 2000);
        assert_eq!(
            rw.queue.batch_send_deadline.0,
            std::time::Duration::from_secs(5)
        );
        assert_eq!(rw.external_labels["cluster"], "a");
    }

    #[test]
    fn daemon_settings_and_their_errors() {
        let c = parse("[global]\ninterval = \"15s\"\n[plugins.net]\ninterval = \"30s\"\nmemory_limit = \"32MiB\"\nsample_limit = 5000\nkeep_open_files = 0\n[http]\nlisten = \"127.0.0.1:9100\"\n").unwrap();
        let net = &c.plugins["net"];
        assert_eq!(net.keep_open_files(), 0);
        assert_eq!(net.interval(&c.global), Duration::from_secs(30));
        assert_eq!(net.timeout(&c.global), Duration::from_secs(5));
        assert_eq!(net.memory_limit(), 32 << 20);
        assert_eq!(net.sample_limit(), 5000);
        let cpu = PluginConfig::default();
        assert_eq!(cpu.interval(&c.global), Duration::from_secs(15));
        assert_eq!(cpu.keep_open_files(), 256);
        let err = parse("[plugins.cpu]\nenabled = true\ninterval = \"0s\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("/etc/sonde/sonde.toml:3:1: [plugins.cpu] interval: "),
            "{err}"
        );
        let err = parse("\n[http]\nlisten = \"localhost\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("/etc/sonde/sonde.toml:3:1: [http] listen: "),
            "{err}"
        );
        // The web config file is read and checked with the config: its error names both files.
        let web = tempfile::tempdir().unwrap();
        let web_yml = web.path().join("web.yml");
        std::fs::write(&web_yml, "tls_server_config:\n  min_version: TLS11\n").unwrap();
        let err = parse(&format!("\n[http]\nweb_config_file = {:?}\n", web_yml))
            .unwrap_err()
            .to_string();
        let expected = format!(
            "/etc/sonde/sonde.toml:3:1: [http] web_config_file: {}:2:3: tls_server_config: TLS11: ",
            web_yml.display()
        );
        assert!(err.starts_with(&expected), "{err}");
        let err = parse("[log]\nlevel = \"loud\"\n").unwrap_err().to_string();
        assert!(
            err.starts_with("/etc/sonde/sonde.toml:2:1: [log] level: "),
            "{err}"
        );
        let err = parse("[plugins.cpu]\nmemory_limit = \"64 parsecs\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("/etc/sonde/sonde.toml:2:16: "), "{err}");
    }

    #[test]
    fn syntax_error_names_line() {
        let err = parse("[paths\nprocfs = 1\n").unwrap_err().to_string();
        assert!(err.starts_with("/etc/sonde/sonde.toml:1:"), "{err}");
    }
}
