//! Builds the built-in plugins (`plugins/*`) for `wasm32-wasip2` and embeds them in the binary.
//!
//! The plugins are built by a nested `cargo build` into their own target directory
//! (`<target>/wasm-plugins`), as wasmtime's test-programs are, so the host's build and theirs do not
//! contend for one lock and an unchanged plugin is not rebuilt. The generated
//! `$OUT_DIR/builtin_plugins.rs` lists each plugin's name and bytes.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The plugins under `plugins/` that are embedded, by directory name (crate `sonde-plugin-<name>`).
const BUILTIN_PLUGINS: &[&str] = &["cpu", "disk", "mem", "net", "process", "system", "textfile"];

fn main() {
    compile_protos();
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    for watched in [
        "wit",
        "sdk/src",
        "sdk/Cargo.toml",
        "plugins",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }

    let plugins = BUILTIN_PLUGINS;
    let target_dir = target_root(&out_dir).join("wasm-plugins");
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&workspace)
        .args(["build", "--profile", "plugin", "--target", "wasm32-wasip2"])
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
        panic!(
            "building the built-in plugins for wasm32-wasip2 failed (is the target installed? \
             `rustup target add wasm32-wasip2`)"
        );
    }

    let mut code = String::from(
        "/// The built-in plugins: name and component bytes, embedded at build time.\n\
         pub const BUILTIN_PLUGINS: &[(&str, &[u8])] = &[\n",
    );
    for name in plugins {
        let wasm = target_dir
            .join("wasm32-wasip2/plugin")
            .join(format!("sonde_plugin_{name}.wasm"));
        assert!(wasm.exists(), "missing {}", wasm.display());
        writeln!(
            code,
            "    ({name:?}, include_bytes!({:?})),",
            wasm.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("builtin_plugins.rs"), code).unwrap();
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

/// The cargo target directory containing `out_dir` (the one holding `CACHEDIR.TAG`).
fn target_root(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|p| p.join("CACHEDIR.TAG").exists())
        .unwrap_or(out_dir)
        .to_path_buf()
}
