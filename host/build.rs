//! Builds the built-in plugins (`plugins/*`) for `wasm32-wasip2`, precompiles them with wasmtime
//! for the target (the engine settings of `src/wasm/engine_config.rs`, the target's baseline CPU) and
//! embeds both in the binary: a first start loads the precompiled code without compiling, and
//! compiles the component only where wasmtime refuses the artifact.
//!
//! The plugins are built by a nested `cargo build` into their own target directory
//! (`<target>/wasm-plugins`), as wasmtime's test-programs are, so the host's build and theirs do not
//! contend for one lock and an unchanged plugin is not rebuilt. The generated
//! `$OUT_DIR/builtin_plugins.rs` lists each plugin's name and bytes, both deflated: they are
//! two thirds of the binary otherwise (16 of 31 MB stripped, x86_64), and the agent inflates
//! a component when it loads it and its precompiled code only when the compile cache has none.
//!
//! The `wasm32-wasip2` target is added to the toolchain when it is missing: rustup installs the
//! targets of `rust-toolchain.toml` only when it auto-installs (`RUSTUP_AUTO_INSTALL=0` turns
//! that off), and a newcomer's first `cargo run` must not fail on it.

#[cfg(feature = "precompiled-builtins")]
#[path = "src/wasm/engine_config.rs"]
mod engine_config;

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The plugins under `plugins/` that are embedded, by directory name (crate `sonde-plugin-<name>`).
const BUILTIN_PLUGINS: &[&str] = &[
    "cpu", "disk", "hardware", "mem", "net", "nfs", "process", "storage", "system", "systemd",
    "textfile", "zfs",
];

fn main() {
    compile_protos();
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    for watched in [
        "wit",
        "sdk/src",
        "sdk/Cargo.toml",
        "wire",
        "procfs",
        "textformat",
        "plugins",
        "Cargo.toml",
        "Cargo.lock",
        "host/src/wasm/engine_config.rs",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }

    ensure_wasm_target();
    let plugins = BUILTIN_PLUGINS;
    let target_dir = target_root(&out_dir).join("wasm-plugins");
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&workspace)
        .args(["build", "--profile", "plugin", "--target", WASM_TARGET])
        .arg("--target-dir")
        .arg(&target_dir);
    for name in plugins {
        cmd.arg("-p").arg(format!("sonde-plugin-{name}"));
    }
    // What the outer build sets for itself must not leak into the wasm build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("cannot run cargo to build the built-in plugins");
    if !status.success() {
        panic!("building the built-in plugins for wasm32-wasip2 failed (see above)");
    }

    let precompile = precompiler();
    // A `static`, not a `const`: each use of a constant may get its own copy of the bytes.
    let mut code = String::from(
        "/// The built-in plugins: name, component bytes and the component precompiled by wasmtime\n\
         /// for the target (empty without the `precompiled-builtins` feature), both deflated,\n\
         /// embedded at build time.\n\
         pub static BUILTIN_PLUGINS: &[(&str, &[u8], &[u8])] = &[\n",
    );
    for name in plugins {
        let wasm = target_dir
            .join("wasm32-wasip2/plugin")
            .join(format!("sonde_plugin_{name}.wasm"));
        let bytes = std::fs::read(&wasm).unwrap_or_else(|e| panic!("{}: {e}", wasm.display()));
        let cwasm = out_dir.join(format!("{name}.cwasm.deflate"));
        std::fs::write(&cwasm, deflate(&precompile(&bytes))).unwrap();
        let wasm = out_dir.join(format!("{name}.wasm.deflate"));
        std::fs::write(&wasm, deflate(&bytes)).unwrap();
        writeln!(
            code,
            "    ({name:?}, include_bytes!({:?}), include_bytes!({:?})),",
            wasm.display().to_string(),
            cwasm.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("builtin_plugins.rs"), code).unwrap();
}

/// `bytes` deflated (raw deflate, best compression); empty stays empty.
fn deflate(bytes: &[u8]) -> Vec<u8> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut encoder, bytes).unwrap();
    encoder.finish().unwrap()
}

/// Generates the remote-write protobuf types from `proto/remote.proto` with prost; the .proto is
/// parsed by protox (pure Rust), so no `protoc` needs to be installed.
fn compile_protos() {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(["remote.proto"], ["proto"]).expect("proto/remote.proto");
    prost_build::Config::new()
        .compile_fds(descriptors)
        .expect("generating the remote-write types");
}

/// Compiles a component to the target's native code, with the agent's engine settings, for the
/// target's baseline CPU (an explicit target gets no feature detection: what this machine's CPU
/// has, another of the architecture may lack).
#[cfg(feature = "precompiled-builtins")]
fn precompiler() -> impl Fn(&[u8]) -> Vec<u8> {
    let target = env::var("TARGET").unwrap();
    let mut config = engine_config::config();
    config
        .target(&target)
        .unwrap_or_else(|e| panic!("wasmtime cannot compile for {target}: {e}"));
    let engine = wasmtime::Engine::new(&config).expect("the precompiling engine");
    move |wasm| {
        engine
            .precompile_component(wasm)
            .unwrap_or_else(|e| panic!("precompiling a built-in plugin: {e:#}"))
    }
}

/// Without the feature: nothing (the agent compiles the built-ins).
#[cfg(not(feature = "precompiled-builtins"))]
fn precompiler() -> impl Fn(&[u8]) -> Vec<u8> {
    |_| Vec::new()
}

/// The target the plugins are built for.
const WASM_TARGET: &str = "wasm32-wasip2";

/// Adds [`WASM_TARGET`] to the toolchain building this crate when its standard library is
/// missing, with rustup (the toolchain `RUSTUP_TOOLCHAIN` names, which rustup's proxy sets for
/// the nested cargo too). Without rustup, says what to install.
fn ensure_wasm_target() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = |sysroot: &Path| {
        sysroot
            .join("lib/rustlib")
            .join(WASM_TARGET)
            .join("lib")
            .is_dir()
    };
    if sysroot.as_deref().is_some_and(installed) {
        return;
    }
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", WASM_TARGET]);
    if let Some(toolchain) = env::var_os("RUSTUP_TOOLCHAIN") {
        rustup.arg("--toolchain").arg(toolchain);
    }
    println!(
        "cargo:warning=the {WASM_TARGET} target the built-in plugins need is missing: running `rustup target add {WASM_TARGET}`"
    );
    match rustup.status() {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("`rustup target add {WASM_TARGET}` failed ({status})"),
        Err(e) => panic!(
            "the {WASM_TARGET} target is not installed and rustup cannot be run ({e}): \
             install the target for this toolchain (the built-in plugins are built for it)"
        ),
    }
}

/// The cargo target directory holding `out_dir` (the one with `CACHEDIR.TAG`). With `--target`
/// cargo also tags `<target-dir>/<triple>`: the plugins, the same for every host target, go to
/// `<target-dir>` then, built once for all of them.
fn target_root(out_dir: &Path) -> PathBuf {
    let tagged = |p: &Path| p.join("CACHEDIR.TAG").exists();
    let Some(dir) = out_dir.ancestors().find(|p| tagged(p)) else {
        return out_dir.to_path_buf();
    };
    match dir.parent() {
        Some(parent) if dir.file_name() == env::var_os("TARGET").as_deref() && tagged(parent) => {
            parent.to_path_buf()
        }
        _ => dir.to_path_buf(),
    }
}
