//! The wasmtime engine settings, in one place for the two engines that must agree on them: the
//! agent's ([`crate::wasm::runtime::Runtime`]) and `build.rs`'s, which precompiles the built-in plugins
//! (it includes this file). An artifact compiled under other settings is refused at load time.
//! Settings that do not change the code (profiling) are the runtime's own.

/// The engine settings: epoch interruption for plugin deadlines, a 1 MiB wasm stack.
///
/// wasmtime's default 4 GiB virtual reservation (plus guard) per linear memory stays: it lets
/// Cranelift drop the bounds check on every load and store, and memory grows in place. It is
/// address space, not memory: each plugin's memory cap is enforced by its `StoreLimits`. A
/// 64 MiB reservation cost 7% of a cycle's CPU in explicit checks.
pub fn config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(true);
    config.max_wasm_stack(1 << 20);
    config
}
