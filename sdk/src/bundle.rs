//! Plugins that bundle several node_exporter collectors (`mem` = meminfo + vmstat + pressure):
//! each part runs on its own, as node_exporter's collectors do. A part that fails is logged as a
//! warning and the others' output is kept; the cycle fails only when nothing could be collected.
//! A source file the kernel does not have is no failure: [`read_optional`] skips it.
//!
//! Each part is reported to the agent as it finishes ([`Host::part_finished`]), which then
//! reports `node_scrape_collector_success` and `node_scrape_collector_duration_seconds` per
//! part, `collector="<name>"`, as node_exporter does per collector: name parts after
//! node_exporter's collectors.
//!
//! ```
//! use sonde_sdk::{Error, Host, MetricFamily, bundle::Bundle};
//!
//! fn collect(host: &Host) -> Result<Vec<MetricFamily>, Error> {
//!     let mut bundle = Bundle::new(host);
//!     bundle.run("first", |out| {
//!         out.push(MetricFamily::gauge("node_first", "First.").with_value(1.0));
//!         Ok(())
//!     });
//!     bundle.run("second", |_| Err(Error::msg("broken")));
//!     bundle.finish()
//! }
//! # let host = sonde_sdk::testing::Fixture::new().host();
//! assert_eq!(collect(&host).unwrap().len(), 1);
//! assert_eq!(host.logged()[0].1, "second: broken");
//! assert_eq!(
//!     host.parts_finished(),
//!     [("first".to_owned(), true), ("second".to_owned(), false)]
//! );
//! ```

use crate::{Error, FsError, Host, Level, MetricFamily, Root};

/// Collects the output of a plugin's parts.
pub struct Bundle<'h> {
    host: &'h Host,
    out: Vec<MetricFamily>,
    failures: Vec<String>,
}

impl<'h> Bundle<'h> {
    /// An empty bundle for one collection.
    pub fn new(host: &'h Host) -> Self {
        Bundle {
            host,
            out: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// Runs the part `name`: `collect` appends its families to the output. When it fails, what
    /// it appended before the error stays (node_exporter also keeps the metrics a collector sent
    /// before failing) and the error is logged as `name: error`. Either way the part is then
    /// reported finished ([`Host::part_finished`]): `name` is the `collector` label of its
    /// `node_scrape_collector_*` series, node_exporter's collector name.
    pub fn run(
        &mut self,
        name: &str,
        collect: impl FnOnce(&mut Vec<MetricFamily>) -> Result<(), Error>,
    ) {
        let result = collect(&mut self.out);
        if let Err(e) = &result {
            let message = format!("{name}: {e}");
            self.host.log(Level::Warn, &message);
            self.failures.push(message);
        }
        self.host.part_finished(name, result.is_ok());
    }

    /// The families of all parts; an error (listing the failures) when parts failed and none
    /// produced anything.
    pub fn finish(self) -> Result<Vec<MetricFamily>, Error> {
        if self.out.iter().all(MetricFamily::is_empty) && !self.failures.is_empty() {
            return Err(Error::msg(self.failures.join("; ")));
        }
        Ok(self.out)
    }
}

/// One of the collectors a plugin bundles, ready to run (its config checked when it was built).
pub trait Part {
    /// Collects once, appending to `out`. Files that do not exist on this kernel yield no
    /// families, not an error; a malformed line is left out and fails the part, after what
    /// could be read was appended.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error>;
}

/// The enabled parts of a plugin, each with its name (node_exporter's collector name, used in
/// logs and as the `collector` label of its `node_scrape_collector_*` series), collected one
/// after another into a [`Bundle`].
///
/// ```
/// use sonde_sdk::bundle::{Part, Parts};
/// use sonde_sdk::{Error, Host, MetricFamily};
///
/// struct Uptime;
/// impl Part for Uptime {
///     fn collect(&self, _: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
///         out.push(MetricFamily::gauge("node_up", "Up.").with_value(1.0));
///         Ok(())
///     }
/// }
/// let mut parts = Parts::default();
/// parts.add_if(true, "uptime", || Ok(Uptime)).unwrap();
/// parts.add_if(false, "never", || Ok(Uptime)).unwrap();
/// # let host = sonde_sdk::testing::Fixture::new().host();
/// assert_eq!(parts.collect(&host).unwrap().len(), 1);
/// ```
#[derive(Default)]
pub struct Parts {
    parts: Vec<(&'static str, Box<dyn Part>)>,
}

impl Parts {
    /// Adds the part `name` when `enabled`, built by `build` (whose error, an invalid pattern
    /// in the config say, fails the plugin's construction).
    pub fn add_if<P: Part + 'static>(
        &mut self,
        enabled: bool,
        name: &'static str,
        build: impl FnOnce() -> Result<P, Error>,
    ) -> Result<(), Error> {
        if enabled {
            let part = build().map_err(|e| e.context(name.to_owned()))?;
            self.parts.push((name, Box::new(part)));
        }
        Ok(())
    }

    /// The names of the enabled parts, in order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.parts.iter().map(|(name, _)| *name)
    }

    /// Runs every part. A part that fails is logged and the others' output kept; the collection
    /// fails only when parts failed and nothing was collected ([`Bundle`]).
    pub fn collect(&self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        let mut bundle = Bundle::new(host);
        for (name, part) in &self.parts {
            bundle.run(name, |out| part.collect(host, out));
        }
        bundle.finish()
    }
}

/// The config of a collector that has no flags besides being on or off:
/// `{ enabled = false }`, or just `false` (so a switch that was a plain bool before its
/// collector became a table keeps its meaning). On by default, as node_exporter's default
/// collectors are; an optional collector's config table defaults to [`Toggle::OFF`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Toggle {
    /// Run it (`--collector.<name>`).
    pub enabled: bool,
}

impl Toggle {
    /// On (node_exporter's default collectors).
    pub const ON: Toggle = Toggle { enabled: true };
    /// Off (node_exporter's optional collectors).
    pub const OFF: Toggle = Toggle { enabled: false };
}

impl Default for Toggle {
    fn default() -> Self {
        Toggle::ON
    }
}

impl<'de> serde::Deserialize<'de> for Toggle {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{self, MapAccess, Visitor, value::MapAccessDeserializer};

        /// The table form, `{ enabled = … }` (`{}` is on).
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            #[serde(default = "on")]
            enabled: bool,
        }
        fn on() -> bool {
            true
        }

        struct BoolOrTable;
        impl<'de> Visitor<'de> for BoolOrTable {
            type Value = Toggle;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("true, false or a table { enabled = … }")
            }

            fn visit_bool<E: de::Error>(self, enabled: bool) -> Result<Toggle, E> {
                Ok(Toggle { enabled })
            }

            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Toggle, M::Error> {
                let Table { enabled } =
                    serde::Deserialize::deserialize(MapAccessDeserializer::new(map))?;
                Ok(Toggle { enabled })
            }
        }
        deserializer.deserialize_any(BoolOrTable)
    }
}

/// Reads a file as text; `Ok(None)` when it does not exist (a kernel without that file), an error
/// naming the file otherwise.
pub fn read_optional(host: &Host, root: Root, path: &str) -> Result<Option<String>, Error> {
    match host.read_to_string(root, path) {
        Ok(text) => Ok(Some(text)),
        Err(FsError::NotFound) => Ok(None),
        Err(e) => Err(Error::from(e).context(format!("reading {}", display_path(root, path)))),
    }
}

/// How a file is named in messages: `/proc/meminfo`, `/sys/class/…`, `/etc/os-release`.
pub fn display_path(root: Root, path: &str) -> String {
    match root {
        Root::Proc => format!("/proc/{path}"),
        Root::Sys => format!("/sys/{path}"),
        Root::Rootfs => format!("/{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Fixture;

    #[test]
    fn fails_only_when_nothing_was_collected() {
        let host = Fixture::new().host();
        let mut bundle = Bundle::new(&host);
        bundle.run("a", |_| Err(Error::msg("x")));
        bundle.run("b", |_| Ok(()));
        bundle.run("c", |_| Err(Error::msg("y")));
        assert_eq!(bundle.finish().unwrap_err().to_string(), "a: x; c: y");
        assert_eq!(host.logged().len(), 2);
        let parts: Vec<(String, bool)> = [("a", false), ("b", true), ("c", false)]
            .map(|(name, ok)| (name.to_owned(), ok))
            .into();
        assert_eq!(host.parts_finished(), parts);

        let mut bundle = Bundle::new(&host);
        bundle.run("partial", |out| {
            out.push(MetricFamily::gauge("node_x", "X.").with_value(1.0));
            Err(Error::msg("then broke"))
        });
        assert_eq!(bundle.finish().unwrap().len(), 1);
        assert!(Bundle::new(&host).finish().unwrap().is_empty());
    }

    #[test]
    fn a_toggle_is_a_bool_or_a_table() {
        let parse = |json: &str| serde_json::from_str::<Toggle>(json);
        assert_eq!(parse("false").unwrap(), Toggle::OFF);
        assert_eq!(parse("true").unwrap(), Toggle::ON);
        assert_eq!(parse(r#"{"enabled": false}"#).unwrap(), Toggle::OFF);
        assert_eq!(parse("{}").unwrap(), Toggle::ON);
        let err = parse(r#"{"enabeld": false}"#).unwrap_err().to_string();
        assert!(err.contains("unknown field `enabeld`"), "{err}");
        let err = parse("1").unwrap_err().to_string();
        assert!(err.contains("true, false or a table"), "{err}");
    }

    #[test]
    fn missing_files_are_skipped_other_errors_named() {
        let dir = std::env::temp_dir().join(format!("sonde-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("meminfo"), "x").unwrap();
        let host = Fixture::new().root(Root::Proc, &dir).host();
        assert_eq!(
            read_optional(&host, Root::Proc, "meminfo")
                .unwrap()
                .unwrap(),
            "x"
        );
        assert_eq!(read_optional(&host, Root::Proc, "vmstat").unwrap(), None);
        let err = read_optional(&host, Root::Sys, "x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "reading /sys/x: not granted to this plugin"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
