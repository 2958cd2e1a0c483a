//! The agent's TOML config file: roots, plugins and their config tables.
//!
//! Unknown keys and values of the wrong type are errors that name the file, the line and the
//! key, as operators expect of a config file.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The whole config file. Every section is optional; an empty file is a valid config.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the roots are served from.
    pub paths: PathsConfig,
    /// Per-plugin settings, keyed by plugin name.
    pub plugins: BTreeMap<String, PluginConfig>,
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

    /// Parses config text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| {
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
        })
    }
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
    fn syntax_error_names_line() {
        let err = parse("[paths\nprocfs = 1\n").unwrap_err().to_string();
        assert!(err.starts_with("/etc/sonde/sonde.toml:1:"), "{err}");
    }
}
