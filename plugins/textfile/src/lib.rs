//! sonde's built-in `textfile` collector: node_exporter's `textfile` collector. It reads the
//! `*.prom` files of the configured directories (below the rootfs root), parses them in the
//! Prometheus text format, and reports their metrics plus `node_textfile_mtime_seconds{file}`
//! (each file read, through the host's `modified` call) and `node_textfile_scrape_error`.

mod convert;
mod files;
mod glob;
mod merge;
mod paths;

use serde::{Deserialize, Serialize};
use sonde_sdk::{Capability, Collector, Description, Error, Host, MetricFamily};

/// The `textfile` collector.
pub struct Textfile {
    config: Config,
}

/// `[plugins.textfile] config = { … }`, with node_exporter's defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The directory to read `*.prom` files from, or a list of them
    /// (`--collector.textfile.directory`, repeatable since node_exporter 1.9). A path below the
    /// rootfs root (a leading `/` is optional) that may be a glob pattern (`*`, `?`, `[…]`).
    /// Empty, the default as in node_exporter, reads nothing; Debian's node_exporter package
    /// uses `/var/lib/prometheus/node-exporter`. Files are named in HELP texts as configured.
    pub directory: Directories,
}

/// One directory or several.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Directories {
    /// A single directory (or pattern).
    One(String),
    /// Several directories (or patterns).
    Many(Vec<String>),
}

impl Default for Directories {
    fn default() -> Self {
        Directories::One(String::new())
    }
}

impl Directories {
    fn patterns(&self) -> &[String] {
        match self {
            Directories::One(directory) => std::slice::from_ref(directory),
            Directories::Many(directories) => directories,
        }
    }
}

impl Collector for Textfile {
    type Config = Config;

    fn describe() -> Description {
        Description::new(
            "textfile",
            env!("CARGO_PKG_VERSION"),
            "metrics from *.prom files written by other programs",
        )
        .needs(&[Capability::Rootfs])
    }

    fn new(config: Config) -> Result<Self, Error> {
        Ok(Textfile { config })
    }

    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        let mut files = files::Files::default();
        for pattern in self.config.directory.patterns() {
            // Like node_exporter: a pattern that matches nothing is read as a plain directory.
            let directories = glob::expand(host, pattern)
                .filter(|matches| !matches.is_empty())
                .unwrap_or_else(|| vec![pattern.clone()]);
            for directory in directories {
                files.read_directory(host, &directory);
            }
        }
        Ok(files.into_families(host))
    }
}

sonde_sdk::export!(Textfile);
