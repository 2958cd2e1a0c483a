//! The plugin runtime: the wasmtime engine and its settings, the bindings of the plugin API
//! (WIT), a loaded plugin with its instance, limits and counters, the built-in plugins embedded
//! in the binary, and the cache of their natively compiled code.
//!
//! It calls the sandbox (a plugin's reads go through it) and nothing above it: what to load and
//! when to collect is the agent's.

pub(crate) mod bindings;
pub mod builtin;
pub mod compile_cache;
pub mod engine_config;
pub mod plugin;
pub mod runtime;
