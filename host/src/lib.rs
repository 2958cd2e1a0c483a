//! # sonde: a host-metrics agent with sandboxed WebAssembly collectors
//!
//! sonde reads `/proc` and `/sys` through collector plugins that run as WebAssembly components
//! in a sandbox, and exposes node_exporter-compatible metrics. This crate is the host: it loads
//! plugins, grants them read access to the roots they need, runs them under time and memory
//! limits, and validates what they return.
//!
//! ```no_run
//! use std::sync::Arc;
//! use sonde::sandbox::{grants::Grants, *};
//! use sonde::wasm::{plugin::{Limits, Plugin}, runtime::Runtime};
//!
//! let sandbox = Sandbox::open(RootPaths::default(), DEFAULT_READ_CAP);
//! let runtime = Arc::new(Runtime::new(sandbox)?);
//! let wasm = sonde::wasm::builtin::builtin("cpu").unwrap();
//! let grants = Grants::new([sonde_sdk::Capability::Proc]);
//! let cpu = Plugin::load(&runtime, "cpu", &wasm, grants, Limits::default())?;
//! let families = cpu.collect("{}")?;
//! print!("{}", sonde_sdk::exposition::render(&families));
//! # Ok::<(), anyhow::Error>(())
//! ```

#![deny(missing_docs)]

// The modules from the ground up: each uses only modules listed before it (scripts/module-graph
// checks this; docs/design.md shows the graph). A sample flows: `config` says what to load,
// `agent` loads plugins into the `wasm` runtime, which reads through the `sandbox`; the families
// go to `expose`'s store (served on /metrics) and through the `pipeline` (target labels,
// relabeling, staleness) to the `remote_write` queues.

// Durations and byte sizes as config files write them.
pub mod units;

// What a plugin may read: roots, grants, kept files, bounded system calls.
pub mod sandbox;

// The plugin runtime: engine, plugin API bindings, instances and limits, built-ins, compile cache.
pub mod wasm;

// Remote write: write-ahead log, encoding, the HTTP client and its queues.
pub mod remote_write;

// Families to series: target labels, relabeling, staleness, the `instance` label.
pub mod pipeline;

// What `/metrics` serves: the latest values and the HTTP server.
pub mod expose;

// The config file, validated, with errors naming file, line and key.
pub mod config;

// The daemon: loading, scheduling, the one path of a collection, self-metrics.
pub mod agent;

// The command line.
pub mod cli;
