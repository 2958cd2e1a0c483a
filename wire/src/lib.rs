//! # sonde-wire: the metric model and what crosses from a plugin to the sonde host
//!
//! This crate owns:
//!
//! - [`metrics`]: the families, samples and labels a collector returns, and the metric and label
//!   name rules. `sonde-sdk` re-exports these types: plugin authors use them from there.
//! - [`encoding`]: the binary encoding of a collection (0.2's `collect`, 0.1.2's
//!   `collect-encoded`).
//!   The SDK's WebAssembly glue encodes with it; the host decodes with it.
//! - [`validate`]: the checks the host applies to every plugin's output (and the SDK's test
//!   harness to every collector's).
//!
//! Who uses it: the sonde host (decoding and validation), `sonde-sdk` (the metric types, the
//! guest-side encoder, the harness's checks), `sonde-textformat` (the name rule) and the fuzz
//! targets. A plugin does not depend on it directly: a change to the host's decoder or checks is
//! a release of this crate, not of the SDK a plugin is built with.

#![deny(missing_docs)]

pub mod encoding;
pub mod metrics;
pub mod validate;
