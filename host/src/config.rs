//! The agent's TOML config file: target labels, roots, plugins and their config tables,
//! relabel rules, remote-write endpoints.
//!
//! Unknown keys, values of the wrong type and invalid settings (a bad regex, a bad URL) are
//! errors that name the file, the line and the key, as operators expect of a config file.

use crate::relabel::{RelabelConfig, RelabelRule};
use crate::remote_write::RemoteWriteConfig;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            instance: "auto".into(),
            job: "node".into(),
        }
    }
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
}

/// `[plugins.<name>]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PluginConfig {
    /// Whether the plugin runs; built-ins run unless this is `false`.
    pub enabled: Option<bool>,
    /// The plugin's own config table, passed to its `collect` as JSON.
    pub config: Option<toml::Table>,
    /// `[[plugins.<name>.relabel]]`: rules applied to this plugin's samples, before the global
    /// ones.
    pub relabel: Vec<Spanned<RelabelConfig>>,
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
}

impl Config {
    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates config text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or((1, 1));
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })?;
        config.validate(text, path)?;
        Ok(config)
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
        for endpoint in &self.remote_write {
            endpoint.get_ref().validate().map_err(|(key, message)| {
                at(
                    endpoint.span(),
                    format!("[[remote_write]] {key}: {message}"),
                )
            })?;
        }
        if self.global.job.is_empty() {
            return Err(at(0..0, "[global] job: must not be empty".into()));
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
    fn syntax_error_names_line() {
        let err = parse("[paths\nprocfs = 1\n").unwrap_err().to_string();
        assert!(err.starts_with("/etc/sonde/sonde.toml:1:"), "{err}");
    }
}
