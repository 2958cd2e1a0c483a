//! # sonde: a host-metrics agent with sandboxed WebAssembly collectors
//!
//! sonde reads `/proc` and `/sys` through collector plugins that run as WebAssembly components
//! in a sandbox, and exposes node_exporter-compatible metrics. This crate is the host: it loads
//! plugins, grants them read access to the roots they need, runs them under time and memory
//! limits, and validates what they return.
//!
//! ```no_run
//! use std::sync::Arc;
//! use sonde::{grants::Grants, plugin::{Limits, Plugin}, runtime::Runtime, sandbox::*};
//!
//! let sandbox = Sandbox::open(RootPaths::default(), DEFAULT_READ_CAP);
//! let runtime = Arc::new(Runtime::new(sandbox)?);
//! let wasm = sonde::builtin::builtin("cpu").unwrap();
//! let grants = Grants::new([sonde_sdk::Capability::Proc]);
//! let cpu = Plugin::load(&runtime, "cpu", wasm, grants, Limits::default())?;
//! let families = cpu.collect("{}")?;
//! print!("{}", sonde_sdk::exposition::render(&families));
//! # Ok::<(), anyhow::Error>(())
//! ```

#![deny(missing_docs)]

pub mod agent;
pub mod backoff;
mod bindings;
pub mod builtin;
pub mod cli;
pub mod compile_cache;
pub mod config;
pub mod cycle;
pub mod engine_config;
pub mod grants;
pub mod http;
pub mod instance;
pub mod kept_files;
pub mod loader;
pub mod memory;
pub mod pipeline;
pub mod plugin;
pub mod process_metrics;
pub mod relabel;
pub mod remote_write;
pub mod runtime;
pub mod sandbox;
pub mod scaffold;
pub mod staleness;
pub mod stats;
pub mod store;
pub mod system;
pub mod units;
