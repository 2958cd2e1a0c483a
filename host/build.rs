//! Builds the built-in plugins (`plugins/*`) for `wasm32-wasip2`, precompiles them with wasmtime
//! for the target (the engine settings of `src/wasm/engine_config.rs`, the target's baseline CPU) and
//! embeds both in the binary: a first start loads the precompiled code without compiling, and
//! compiles the component only where wasmtime refuses the artifact.
//!
//! The plugins are built by a nested `cargo build` into their own target directory
//! (`<target>/wasm-plugins`), as wasmtime's test-programs are, so the host's build and theirs do not
//! contend for one lock and an unchanged plugin is not rebuilt. The components are embedded as
//! one zstd frame and the precompiled code as another, each plugin a range of the decompressed
//! bytes (`$OUT_DIR/builtin_plugins.rs`): every plugin carries its own copy of std, the SDK
//! and the allocator, which one frame with a window over all of them stores once. Deflated one
//! by one (a 32 KiB window sees none of that) they took 6.6 MB of the x86_64 binary; as two
//! zstd frames, 2.4 MB. The agent decompresses the components when it loads plugins and the
//! precompiled code only when the compile cache has none ([`sonde::wasm::builtin::Builtins`]).
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
    // Nor what it sets for its own profile (scripts/dist's LTO): the plugins have theirs.
    for (var, _) in env::vars_os() {
        if var.to_string_lossy().starts_with("CARGO_PROFILE_") {
            cmd.env_remove(var);
        }
    }
    let status = cmd
        .status()
        .expect("cannot run cargo to build the built-in plugins");
    if !status.success() {
        panic!("building the built-in plugins for wasm32-wasip2 failed (see above)");
    }

    let precompile = precompiler();
    let (mut components, mut precompiled) = (Vec::new(), Vec::new());
    // A `static`, not a `const`: each use of a constant may get its own copy of the bytes.
    let mut code = String::from(
        "/// The built-in plugins: name, and the ranges of its component in [`COMPONENTS`] and of\n\
         /// the component precompiled by wasmtime for the target in [`PRECOMPILED`] (empty\n\
         /// without the `precompiled-builtins` feature), both decompressed.\n\
         pub static BUILTIN_PLUGINS: &[(&str, std::ops::Range<usize>, std::ops::Range<usize>)] = &[\n",
    );
    for name in plugins {
        let wasm = target_dir
            .join("wasm32-wasip2/plugin")
            .join(format!("sonde_plugin_{name}.wasm"));
        let bytes = std::fs::read(&wasm).unwrap_or_else(|e| panic!("{}: {e}", wasm.display()));
        let component = append(&mut components, &bytes);
        let artifact = append(&mut precompiled, &precompile(&bytes));
        writeln!(code, "    ({name:?}, {component:?}, {artifact:?}),").unwrap();
    }
    code.push_str("];\n");
    for (name, bytes, doc) in [
        (
            "COMPONENTS",
            &components,
            "The built-in plugins' components, one zstd frame.",
        ),
        (
            "PRECOMPILED",
            &precompiled,
            "The built-in plugins' precompiled code, one zstd frame (empty without it).",
        ),
    ] {
        let path = out_dir.join(format!("{}.zst", name.to_lowercase()));
        std::fs::write(&path, zstd_frame(bytes)).unwrap();
        writeln!(
            code,
            "/// {doc}\npub static {name}: &[u8] = include_bytes!({:?});",
            path.display().to_string()
        )
        .unwrap();
    }
    std::fs::write(out_dir.join("builtin_plugins.rs"), code).unwrap();
}

/// Appends `bytes` to `blob`; their range in it.
fn append(blob: &mut Vec<u8>, bytes: &[u8]) -> std::ops::Range<usize> {
    let start = blob.len();
    blob.extend_from_slice(bytes);
    start..blob.len()
}

/// `bytes` as one zstd frame with a window over all of them (so the code the plugins share is
/// stored once); empty stays empty. Level 19 for release builds (what ships: the precompiled
/// code 1.83 MB, ~10 s to compress), level 3 for the others, which rebuild this often (2.98
/// MB, a fraction of a second).
fn zstd_frame(bytes: &[u8]) -> Vec<u8> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let level = match env::var("PROFILE").as_deref() {
        Ok("release") => 19,
        _ => 3,
    };
    let window_log = (usize::BITS - (bytes.len() - 1).leading_zeros()).clamp(10, 27);
    let mut encoder = zstd::stream::Encoder::new(Vec::new(), level).unwrap();
    encoder.window_log(window_log).unwrap();
    encoder
        .set_pledged_src_size(Some(bytes.len() as u64))
        .unwrap();
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
