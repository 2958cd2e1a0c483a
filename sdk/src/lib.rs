//! # sonde-sdk: write collectors for the sonde host-metrics agent
//!
//! A sonde plugin is a WebAssembly component that the agent runs in a sandbox. The agent builds
//! the plugin's [`Collector`] once from its config ([`Collector::new`]) and calls
//! [`Collector::collect`] every cycle on that same value, which reads files below the roots the
//! operator granted it (`/proc`, `/sys`, the rootfs) through [`Host`] and returns Prometheus
//! [`MetricFamily`]s. This crate hides the WebAssembly plumbing: implement [`Collector`], call
//! [`export!`], build with `cargo build --target wasm32-wasip2`.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use sonde_sdk::{Capability, Collector, Description, Error, Host, MetricFamily, Root};
//!
//! /// Reports the number of open file handles, like node_exporter's `filefd` collector.
//! pub struct FileFd {
//!     config: Config,
//! }
//!
//! /// The plugin's config table (`[plugins.filefd] config = { … }`).
//! #[derive(Default, Deserialize, Serialize)]
//! #[serde(default, deny_unknown_fields)]
//! pub struct Config {
//!     /// Also report the maximum (on by default in node_exporter).
//!     pub with_maximum: bool,
//! }
//!
//! impl Collector for FileFd {
//!     type Config = Config;
//!
//!     fn describe() -> Description {
//!         Description::new("filefd", env!("CARGO_PKG_VERSION"), "open file handles")
//!             .needs(&[Capability::Proc])
//!     }
//!
//!     fn new(config: Config) -> Result<Self, Error> {
//!         Ok(FileFd { config })
//!     }
//!
//!     fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
//!         let text = host.read_to_string(Root::Proc, "sys/fs/file-nr")?;
//!         let mut fields = text.split_whitespace();
//!         let allocated: f64 = fields.next().ok_or(Error::msg("file-nr is empty"))?.parse()?;
//!         let mut out = vec![
//!             MetricFamily::gauge("node_filefd_allocated", "File descriptor statistics: allocated.")
//!                 .with_value(allocated),
//!         ];
//!         if self.config.with_maximum {
//!             let maximum: f64 = fields.nth(1).ok_or(Error::msg("no maximum"))?.parse()?;
//!             out.push(
//!                 MetricFamily::gauge("node_filefd_maximum", "File descriptor statistics: maximum.")
//!                     .with_value(maximum),
//!             );
//!         }
//!         Ok(out)
//!     }
//! }
//!
//! sonde_sdk::export!(FileFd);
//! # fn main() {
//! # let dir = std::env::temp_dir().join(format!("sonde-sdk-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(dir.join("sys/fs")).unwrap();
//! # std::fs::write(dir.join("sys/fs/file-nr"), "1024\t0\t1631329\n").unwrap();
//! // The same code runs natively against a fixture tree laid out like /proc:
//! let host = sonde_sdk::testing::Fixture::new().root(Root::Proc, &dir).host();
//! let text = sonde_sdk::testing::collect_text::<FileFd>(&host, "{\"with_maximum\": true}").unwrap();
//! assert!(text.contains("node_filefd_maximum 1.631329e+06\n"));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # }
//! ```
//!
//! Test it with `cargo test` against a fixture directory ([`testing`]); build the component with
//! `cargo build --release --target wasm32-wasip2`; enable it in the agent's config with its path
//! and the grants it needs.
//!
//! The parsers of `/proc` and `/sys` files are in the `sonde-procfs` crate, the Prometheus
//! text-format parser in `sonde-textformat`. The metric types come from `sonde-wire`, which also
//! holds the binary encoding a collection crosses to the host in and the host's checks; a plugin
//! needs neither of those directly.

#![deny(missing_docs)]

pub mod bundle;
pub mod error;
pub mod exposition;
pub mod filter;
pub mod host;
pub mod names;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

/// The metric model a collector returns (from `sonde-wire`, the crate the host decodes and
/// checks plugin output with).
pub use sonde_wire::metrics;

pub use error::{Error, ResultExt};
pub use host::{
    Capability, Clock, DirEntry, EntryKind, FsError, FsStats, Host, Level, Root, SystemdState,
    SystemdUnit, Timex, Uname,
};
pub use metrics::{Label, MetricFamily, MetricKind, Sample};

use serde::{Serialize, de::DeserializeOwned};

/// This SDK's release (what a plugin's `sonde-sdk = "…"` names).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The version of the `sonde:collector` WIT package this SDK implements.
pub const API_VERSION: &str = "0.2.2";

/// A collector: the one trait a plugin implements.
///
/// The host builds a collector with [`Collector::new`] once per instance of the plugin, from
/// the operator's config, and calls [`Collector::collect`] on it every cycle while the instance
/// lives: a collector keeps what it learns (compiled filters, derived names, a previous
/// reading) in its own fields. The host builds a new one when the config changes, and when it
/// replaces the instance (after a trap, a timeout or the memory cap), so state is a cache, never
/// a promise: a fresh collector must collect correctly on its first call.
pub trait Collector: Sized {
    /// The plugin's config table, decoded from the operator's `config = { … }` (missing keys take
    /// their defaults when the type uses `#[serde(default)]`).
    type Config: DeserializeOwned + Serialize + Default;

    /// Name, version, summary and the capabilities the plugin needs.
    fn describe() -> Description;

    /// Builds the collector from its config. An error here is a config error (a pattern that
    /// does not compile, settings that exclude each other): check the config here rather than
    /// in every `collect`.
    fn new(config: Self::Config) -> Result<Self, Error>;

    /// Collects once.
    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error>;
}

/// What a plugin says about itself in `describe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// The plugin name: lowercase letters, digits and `_`.
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// One line on what it collects.
    pub summary: String,
    /// The capabilities it needs.
    pub needs: Vec<Capability>,
}

impl Description {
    /// A description that needs no capability yet.
    pub fn new(name: &str, version: &str, summary: &str) -> Self {
        Description {
            name: name.to_owned(),
            version: version.to_owned(),
            summary: summary.to_owned(),
            needs: Vec::new(),
        }
    }

    /// Declares the capabilities the plugin needs.
    pub fn needs(mut self, capabilities: &[Capability]) -> Self {
        self.needs.extend_from_slice(capabilities);
        self
    }
}

/// Decodes the JSON config and builds the collector: the path shared by the WebAssembly export
/// and the native test harness. A config that does not decode is an `invalid config: …` error.
#[doc(hidden)]
pub fn build<C: Collector>(config_json: &str) -> Result<C, Error> {
    let config: C::Config = if config_json.trim().is_empty() {
        C::Config::default()
    } else {
        serde_json::from_str(config_json).map_err(|e| Error::msg(format!("invalid config: {e}")))?
    };
    C::new(config)
}

/// The default config of `C` as JSON.
#[doc(hidden)]
pub fn default_config_json<C: Collector>() -> String {
    serde_json::to_string(&C::Config::default()).unwrap_or_else(|_| "{}".to_owned())
}

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod __bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_plugin",
        default_bindings_module: "sonde_sdk::__bindings",
    });
}

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod __guest;

/// Exports a [`Collector`] as the plugin's implementation of the `sonde:collector` world.
///
/// Call it once, at the top level of the plugin crate: `sonde_sdk::export!(MyCollector);`. The
/// collector `configure` builds lives in the instance until the next `configure`. In a native
/// build it only checks that the type is a collector.
#[macro_export]
macro_rules! export {
    ($collector:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            ::std::thread_local! {
                /// The collector of this instance, built by `configure`.
                static COLLECTOR: $crate::__guest::Slot<$collector> =
                    const { $crate::__guest::Slot::empty() };
            }
            struct __SondeExport;
            impl $crate::__bindings::exports::sonde::collector::collector::Guest for __SondeExport {
                fn describe() -> $crate::__bindings::sonde::collector::types::PluginInfo {
                    $crate::__guest::describe::<$collector>()
                }
                fn configure(
                    config: ::std::string::String,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    COLLECTOR.with(|slot| slot.configure(&config))
                }
                fn collect() -> ::std::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                    COLLECTOR.with(|slot| slot.collect())
                }
            }
    $crate::__bindings::__export_plugin!(__SondeExport with_types_in $crate::__bindings);
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = || {
            fn is_collector<C: $crate::Collector>() {}
            is_collector::<$collector>();
        };
    };
}

/// The plugin's allocator (wasm builds only): talc instead of Rust's default dlmalloc. A
/// collection allocates its families' strings and frees them all when it returns; with talc the
/// guest's share of a cycle of all built-ins drops ~10% (`cargo bench -p sonde --bench cycle`).
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
