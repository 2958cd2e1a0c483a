//! The on-disk cache of compiled components, so a warm start runs no Cranelift.
//!
//! An artifact is named after the SHA-256 of the component's bytes and of the engine's
//! compatibility hash (wasmtime version, target, compiler settings), so another engine or sonde
//! version never loads a stale or foreign artifact; it just compiles and writes its own. A
//! precompiled artifact is native code that wasmtime maps and runs without verification, so the
//! directory is created owner-only (0700) and artifacts are written atomically (temp file, then
//! rename). A corrupt or unreadable artifact is replaced, never trusted.
//!
//! A built-in plugin's artifact comes precompiled in the binary (`build.rs`): a cold cache gets
//! it written as is, when the engine accepts it, and nothing is compiled.
//!
//! The agent compiles a missing artifact in a child process (`sonde plugin compile -`): Cranelift
//! leaves megabytes of fragmented heap behind, which would stay resident in a long-lived agent
//! after every cold start (the first start after an install or upgrade); in a child it goes
//! away with the process. Should the child fail, the agent compiles in its own process.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of compiled components.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    /// Compile missing artifacts in a child process (see the module doc).
    in_child: bool,
    /// Components running on precompiled baseline code, to compile for this CPU later.
    baseline: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

/// Feeds `Hash` output into SHA-256 (the engine exposes its compatibility hash only as `Hash`).
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        unreachable!("only the digest is used")
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Loaded from a cached artifact (no compilation).
    Cache,
    /// A built-in's code precompiled at build time, written to the cache and loaded (no
    /// compilation).
    Precompiled,
    /// Compiled now (and written to the cache when possible).
    Compiled,
}

impl CompileCache {
    /// Uses (and creates, mode 0700) `dir`. Refuses a directory that others can write to.
    pub fn open(dir: &Path) -> anyhow::Result<CompileCache> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| anyhow::anyhow!("creating the compile cache {}: {e}", dir.display()))?;
        let mode = std::fs::metadata(dir)?.permissions().mode();
        anyhow::ensure!(
            mode & 0o022 == 0,
            "compile cache {} is writable by others (mode {:o}); it holds native code, make it 0700",
            dir.display(),
            mode & 0o777
        );
        Ok(CompileCache {
            dir: dir.to_path_buf(),
            in_child: false,
            baseline: Default::default(),
        })
    }

    /// Compiles missing artifacts in a child process of this binary from now on, so the memory
    /// compiling takes is not kept (for the long-running agent; see the module doc).
    pub fn compiling_in_child(mut self) -> CompileCache {
        self.in_child = true;
        self
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The artifact path for `wasm` under `engine`.
    pub fn artifact_path(&self, engine: &Engine, wasm: &[u8]) -> PathBuf {
        let mut hasher = ShaHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        hasher.0.update(Sha256::digest(wasm));
        let digest = hasher.0.finalize();
        let name: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{name}.cwasm"))
    }

    /// The component for `wasm`: from the cache when a valid artifact is there, else from
    /// `precompiled` (gives a built-in's artifact, see `build.rs`; called only then) when the
    /// engine accepts it, else compiled; cached in both cases.
    pub fn load(
        &self,
        engine: &Engine,
        wasm: &[u8],
        precompiled: Option<&dyn Fn() -> Vec<u8>>,
    ) -> anyhow::Result<(Component, Source)> {
        let path = self.artifact_path(engine, wasm);
        if path.exists() {
            // SAFETY: the artifact was written by this engine configuration (its name includes
            // the compatibility hash) into an owner-only directory; wasmtime still checks its
            // header and version and refuses a mismatch, which we then recompile.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, Source::Cache)),
                Err(e) => {
                    tracing::warn!(artifact = %path.display(), error = %e, "discarding an unusable compiled component");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        if let Some(artifact) = precompiled
            && let Some(component) = self.load_baseline(engine, wasm, artifact)
        {
            return Ok((component, Source::Precompiled));
        }
        if self.in_child && self.compile_in_child(wasm) {
            // SAFETY: as above; written by this binary, with this engine configuration, in
            // the owner-only directory (the child computed the same name).
            if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
                tracing::info!(artifact = %path.display(), "plugin compiled in a child process");
                return Ok((component, Source::Compiled));
            }
        }
        let compiled = engine.precompile_component(wasm)?;
        // Loaded from the file just written, the code is a file mapping, as after a warm start:
        // pages the kernel can drop and re-read, not megabytes of anonymous memory kept for good.
        let component = match write_atomically(&path, &compiled) {
            // SAFETY: the artifact was written by this engine a moment ago, as above.
            Ok(()) => unsafe { Component::deserialize_file(engine, &path)? },
            Err(e) => {
                tracing::warn!(artifact = %path.display(), error = %e, "cannot write to the compile cache; compiling every start");
                // SAFETY: `compiled` was produced by this engine a moment ago.
                unsafe { Component::deserialize(engine, &compiled)? }
            }
        };
        Ok((component, Source::Compiled))
    }
}

impl CompileCache {
    /// Where a built-in's precompiled (baseline CPU) code is kept while its code for this CPU is
    /// not compiled yet.
    fn baseline_path(&self, engine: &Engine, wasm: &[u8]) -> PathBuf {
        self.artifact_path(engine, wasm)
            .with_extension("baseline.cwasm")
    }

    /// A built-in's precompiled `artifact`, as a file mapping from the cache (written there
    /// first), or from memory when the cache cannot be written; `None`, logged, when the engine
    /// refuses it. In the agent, the component is noted for [`CompileCache::compile_natively`].
    fn load_baseline(
        &self,
        engine: &Engine,
        wasm: &[u8],
        artifact: &dyn Fn() -> Vec<u8>,
    ) -> Option<Component> {
        let path = self.baseline_path(engine, wasm);
        let mut inflated = None;
        let in_cache =
            path.exists() || write_atomically(&path, inflated.insert(artifact())).is_ok();
        let component = match in_cache {
            // SAFETY: the artifact is part of this binary, written by its build with the same
            // wasmtime (or a copy of it written by this code into the owner-only cache);
            // wasmtime checks its header, version, target, settings and CPU features, and a
            // refusal is compiled instead.
            true => match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => Some(component),
                Err(e) => {
                    let _ = std::fs::remove_file(&path);
                    refused(&e);
                    None
                }
            },
            false => deserialize_precompiled(engine, &inflated.unwrap_or_else(artifact)),
        }?;
        if self.in_child {
            self.baseline
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(wasm.to_vec());
        }
        Some(component)
    }

    /// Compiles, for this CPU and in a child process, the components [`CompileCache::load`]
    /// gave baseline code to (once each), removes their baseline artifacts and returns each
    /// component's bytes with its new code, loaded from the cache. Blocks for the compilation
    /// (~0.4 s of CPU per built-in).
    pub fn compile_natively(&self, engine: &Engine) -> Vec<(Vec<u8>, Component)> {
        let pending = std::mem::take(&mut *self.baseline.lock().unwrap_or_else(|e| e.into_inner()));
        let mut compiled = Vec::new();
        for wasm in pending {
            let path = self.artifact_path(engine, &wasm);
            if !path.exists() && !self.compile_in_child(&wasm) {
                continue;
            }
            // SAFETY: written by this binary's child with this engine configuration, in the
            // owner-only directory, as in `CompileCache::load`.
            if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
                let _ = std::fs::remove_file(self.baseline_path(engine, &wasm));
                compiled.push((wasm, component));
            }
        }
        compiled
    }

    /// Whether components run on baseline code that [`CompileCache::compile_natively`] would
    /// compile for this CPU.
    pub fn has_baseline(&self) -> bool {
        !self
            .baseline
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Runs `sonde plugin compile - --cache-dir <dir>` with `wasm` on its stdin; true when it
    /// succeeded. `/proc/self/exe` is this very binary even if the file was replaced since (an
    /// upgrade): another build would compile for another engine and the artifact be missed.
    fn compile_in_child(&self, wasm: &[u8]) -> bool {
        use std::process::{Command, Stdio};
        let child = Command::new("/proc/self/exe")
            .args(["plugin", "compile", "-", "--cache-dir"])
            .arg(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => {
                tracing::warn!(error = %e, "cannot start a process to compile a plugin; compiling in the agent");
                return false;
            }
        };
        let written = child.stdin.take().map(|mut stdin| stdin.write_all(wasm));
        match (written, child.wait()) {
            (Some(Ok(())), Ok(status)) if status.success() => true,
            (_, status) => {
                tracing::warn!(status = ?status.ok(), "compiling a plugin in a child process failed; compiling in the agent");
                false
            }
        }
    }
}

/// A built-in's precompiled `artifact` loaded from memory (without a cache), or `None`, logged,
/// when this engine refuses it.
pub fn deserialize_precompiled(engine: &Engine, artifact: &[u8]) -> Option<Component> {
    // SAFETY: as in `CompileCache::load`: part of this binary, checked by wasmtime.
    unsafe { Component::deserialize(engine, artifact) }
        .map_err(|e| refused(&e))
        .ok()
}

/// Logs that a built-in's precompiled code was refused (another CPU architecture's, or engine
/// settings that differ), so it is compiled.
fn refused(error: &wasmtime::Error) {
    tracing::info!(error = %format!("{error:#}"), "the built-in plugin's precompiled code does not fit this engine; compiling it");
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::new(wasmtime::Config::new().epoch_interruption(true)).unwrap()
    }

    #[test]
    fn compiles_once_then_loads_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(&dir.path().join("cache")).unwrap();
        let mode = std::fs::metadata(cache.dir()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let engine = engine();
        let wasm = empty_component();
        assert_eq!(
            cache.load(&engine, &wasm, None).unwrap().1,
            Source::Compiled
        );
        assert_eq!(cache.load(&engine, &wasm, None).unwrap().1, Source::Cache);
    }

    #[test]
    fn a_precompiled_artifact_is_cached_and_loaded_without_compiling() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(dir.path()).unwrap();
        let engine = engine();
        let wasm = empty_component();
        let artifact = engine.precompile_component(&wasm).unwrap();
        let loaded = cache
            .load(&engine, &wasm, Some(&|| artifact.clone()))
            .unwrap()
            .1;
        assert_eq!(loaded, Source::Precompiled);
        let kept = std::fs::read(cache.baseline_path(&engine, &wasm)).unwrap();
        assert_eq!(kept, artifact);
        // Until it is compiled for this CPU the precompiled code serves; outside the agent
        // nothing is noted for compiling.
        assert!(!cache.has_baseline());
        assert_eq!(
            cache
                .load(&engine, &wasm, Some(&|| artifact.clone()))
                .unwrap()
                .1,
            Source::Precompiled
        );
        assert!(cache.compile_natively(&engine).is_empty());
    }

    #[test]
    fn a_precompiled_artifact_another_engine_refuses_is_compiled_instead() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(dir.path()).unwrap();
        let wasm = empty_component();
        // Compiled without epoch interruption: the agent's engine refuses it.
        let other = Engine::new(wasmtime::Config::new().epoch_interruption(false)).unwrap();
        let foreign = other.precompile_component(&wasm).unwrap();
        let engine = engine();
        assert!(deserialize_precompiled(&engine, &foreign).is_none());
        let loaded = cache
            .load(&engine, &wasm, Some(&|| foreign.clone()))
            .unwrap()
            .1;
        assert_eq!(loaded, Source::Compiled);
        assert!(!cache.baseline_path(&engine, &wasm).exists());
        assert_eq!(
            cache
                .load(&engine, &wasm, Some(&|| foreign.clone()))
                .unwrap()
                .1,
            Source::Cache
        );
    }

    #[test]
    fn another_engine_configuration_gets_its_own_artifact() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(dir.path()).unwrap();
        let wasm = empty_component();
        let other = Engine::new(wasmtime::Config::new().epoch_interruption(false)).unwrap();
        assert_ne!(
            cache.artifact_path(&engine(), &wasm),
            cache.artifact_path(&other, &wasm)
        );
    }

    #[test]
    fn a_corrupt_artifact_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(dir.path()).unwrap();
        let engine = engine();
        let wasm = empty_component();
        std::fs::write(cache.artifact_path(&engine, &wasm), b"not an artifact").unwrap();
        assert_eq!(
            cache.load(&engine, &wasm, None).unwrap().1,
            Source::Compiled
        );
        assert_eq!(cache.load(&engine, &wasm, None).unwrap().1, Source::Cache);
    }

    #[test]
    fn a_world_writable_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(CompileCache::open(dir.path()).is_err());
    }

    /// The smallest valid component, `(component)`, in binary form: magic, version 0x0d, layer 1.
    fn empty_component() -> Vec<u8> {
        vec![0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]
    }
}
