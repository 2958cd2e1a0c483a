//! Plugins that bundle several node_exporter collectors (`mem` = meminfo + vmstat + pressure):
//! each part runs on its own, as node_exporter's collectors do. A part that fails is logged as a
//! warning and the others' output is kept; the cycle fails only when nothing could be collected.
//! A source file the kernel does not have is no failure: [`read_optional`] skips it.
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
    /// before failing) and the error is logged as `name: error`.
    pub fn run(
        &mut self,
        name: &str,
        collect: impl FnOnce(&mut Vec<MetricFamily>) -> Result<(), Error>,
    ) {
        if let Err(e) = collect(&mut self.out) {
            let message = format!("{name}: {e}");
            self.host.log(Level::Warn, &message);
            self.failures.push(message);
        }
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

        let mut bundle = Bundle::new(&host);
        bundle.run("partial", |out| {
            out.push(MetricFamily::gauge("node_x", "X.").with_value(1.0));
            Err(Error::msg("then broke"))
        });
        assert_eq!(bundle.finish().unwrap().len(), 1);
        assert!(Bundle::new(&host).finish().unwrap().is_empty());
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
