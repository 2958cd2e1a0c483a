//! One loaded plugin: its compiled component, what it says about itself, its grants and limits,
//! and the call that runs one collection on its instance, in a bounded store that lives until a
//! call fails (then the next call starts from a fresh one).
//!
//! Each plugin API version has its bindings (`bindings::v0_1`, `bindings::v0_2`); a
//! component is linked with the one its imports and exports name ([`api_version`]), and every
//! call goes through the `Exports` of that version.

use crate::sandbox::grants::Grants;
use crate::wasm::bindings::{
    self, PluginState, v0_1, v0_1::sonde::collector::types as wit, v0_2, v0_2_2,
};
pub use crate::wasm::bindings::{CallParts, MAX_PARTS, PART_NAME_MAX, PartReport, valid_part_name};
use crate::wasm::runtime::{self, Runtime};
use sonde_sdk::{Capability, Label, MetricFamily, MetricKind, Sample};
use sonde_wire::encoding::DecodeError;
use sonde_wire::validate::InvalidOutput;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{Component, ComponentExportIndex, Func};
use wasmtime::{Store, StoreLimitsBuilder, Trap};

/// Per-plugin limits on one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock limit of one `collect` (enforced by epoch interruption when the deadline
    /// watchdog advances the epoch: [`runtime::Runtime::enter_call`]).
    pub timeout: Duration,
    /// Cap on the plugin's linear memory, in bytes.
    pub memory: usize,
    /// The most samples one collection may return.
    pub samples: usize,
    /// The most kernel files kept open between collections (see [`crate::sandbox::kept_files`]).
    pub kept_files: usize,
}

impl Limits {
    /// A plugin's limits unless its config sets them: 5 s, 64 MiB, 100000 samples, 256 files.
    pub const DEFAULT: Limits = Limits {
        timeout: Duration::from_secs(5),
        memory: 64 << 20,
        samples: 100_000,
        kept_files: crate::sandbox::kept_files::DEFAULT_LIMIT,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What a plugin says about itself (`describe`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// Its name.
    pub name: String,
    /// Its own version.
    pub version: String,
    /// One line on what it collects.
    pub summary: String,
    /// The capabilities it needs.
    pub needs: Vec<Capability>,
    /// Its default config, as JSON.
    pub default_config: String,
}

/// A plugin's running totals, as [`Plugin::counters`] reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Bytes of linear memory after the last call.
    pub memory: usize,
    /// Kernel files kept open after the last call.
    pub kept_files: usize,
    /// Host calls refused since the plugin was loaded.
    pub refused_host_calls: u64,
    /// Log lines dropped by the per-call limit since the plugin was loaded.
    pub dropped_log_lines: u64,
    /// Warnings and errors the plugin logged since it was loaded.
    pub warnings: u64,
}

/// Why a plugin call failed. Each is the plugin's failure, never the host's.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The plugin ran past its timeout and was interrupted.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The plugin tried to grow its memory past the cap.
    #[error("exceeded its memory limit of {0} bytes")]
    MemoryLimit(usize),
    /// The plugin trapped (a panic, an out-of-bounds access, a stack overflow, …).
    #[error("trapped: {0}")]
    Trap(String),
    /// The plugin returned an error of its own.
    #[error("failed: {0}")]
    Failed(String),
    /// The plugin returned more samples than its limit.
    #[error("returned {returned} samples, more than its sample_limit of {limit}")]
    SampleLimit {
        /// Samples returned.
        returned: usize,
        /// The limit.
        limit: usize,
    },
    /// The plugin returned output that breaks Prometheus' rules.
    #[error("{0}")]
    InvalidOutput(#[from] sonde_wire::validate::InvalidOutput),
}

/// A live instance of a plugin and its store.
struct Instance {
    store: Store<PluginState>,
    exports: Exports,
}

/// What the host calls of a live instance, by plugin API version.
enum Exports {
    /// API 0.1.x: each `collect` gets the config.
    V0_1 {
        /// The generated bindings (`describe`, and `collect` for plugins built before 0.1.2).
        bindings: v0_1::Plugin,
        /// `collector-encoded.collect-encoded` when the plugin has it (SDK 0.1.2); its type is
        /// checked when the instance is made, so a component with another signature fails to
        /// load rather than to collect.
        collect_encoded: Option<Func>,
    },
    /// API 0.2.x: `configure` builds the collector once per instance, `collect` takes nothing.
    V0_2 {
        /// The generated bindings.
        bindings: v0_2::Plugin,
        /// The config JSON the instance's collector was built from by a `configure` that
        /// succeeded; `None` before (or after one that failed).
        configured: Option<String>,
    },
    /// API 0.2.2 and later 0.2.x: as 0.2, with its own types (the `systemd` capability).
    V0_2_2 {
        /// The generated bindings.
        bindings: v0_2_2::Plugin,
        /// As for [`Exports::V0_2`].
        configured: Option<String>,
    },
}

/// A component linked against the host, ready to instantiate.
#[derive(Clone)]
enum Code {
    /// API 0.1.x.
    V0_1 {
        pre: v0_1::PluginPre<PluginState>,
        /// Where `collect-encoded` is among the component's exports, if it has it.
        collect_encoded: Option<ComponentExportIndex>,
    },
    /// API 0.2.0 and 0.2.1.
    V0_2 { pre: v0_2::PluginPre<PluginState> },
    /// API 0.2.2 and later 0.2.x.
    V0_2_2 { pre: v0_2_2::PluginPre<PluginState> },
}

impl Code {
    /// Checks `component`'s API version and links it with that version's bindings.
    fn link(runtime: &Runtime, name: &str, component: &Component) -> anyhow::Result<Code> {
        let api = check_api_version(runtime.engine(), component)
            .map_err(|e| anyhow::anyhow!("plugin {name}: {e}"))?;
        let instance_pre = runtime
            .linker()
            .instantiate_pre(component)
            .map_err(|e| anyhow::anyhow!("plugin {name}: cannot link: {e:#}"))?;
        let not_a_plugin = |e: wasmtime::Error| {
            anyhow::anyhow!("plugin {name}: does not export sonde:collector: {e:#}")
        };
        Ok(match api {
            Api::V0_1 => Code::V0_1 {
                pre: v0_1::PluginPre::new(instance_pre).map_err(not_a_plugin)?,
                collect_encoded: collect_encoded_export(runtime.engine(), component),
            },
            Api::V0_2 => Code::V0_2 {
                pre: v0_2::PluginPre::new(instance_pre).map_err(not_a_plugin)?,
            },
            Api::V0_2_2 => Code::V0_2_2 {
                pre: v0_2_2::PluginPre::new(instance_pre).map_err(not_a_plugin)?,
            },
        })
    }
}

/// The parameters of `collect` and `collect-encoded`: the config JSON.
type CollectParams<'a> = (&'a str,);
/// The results of `collect-encoded`: the encoded families ([`sonde_wire::encoding`]) or the
/// plugin's error.
type EncodedResults = (Result<Vec<u8>, String>,);

/// A 0.2 instance's collection (any 0.2 minor version's bindings): configured with
/// `config_json` first when it was not yet, or with another config; a `configure` that fails is
/// the collection's error, and is tried again at the next call.
fn configure_and_collect(
    store: &mut Store<PluginState>,
    configured: &mut Option<String>,
    config_json: &str,
    configure: impl FnOnce(&mut Store<PluginState>, &str) -> wasmtime::Result<Result<(), String>>,
    collect: impl FnOnce(&mut Store<PluginState>) -> wasmtime::Result<Result<Vec<u8>, String>>,
) -> wasmtime::Result<Returned> {
    if configured.as_deref() != Some(config_json) {
        *configured = None;
        if let Err(e) = configure(&mut *store, config_json)? {
            return Ok(Returned::Encoded(Err(e)));
        }
        *configured = Some(config_json.to_owned());
        // The collection's first part starts now, not with `configure`.
        store.data_mut().start_parts();
    }
    collect(store).map(Returned::Encoded)
}

/// What one collection returned, by the export it came from.
enum Returned {
    /// `collect-encoded`: one buffer.
    Encoded(Result<Vec<u8>, String>),
    /// `collect`: the families as WIT records.
    Records(Result<Vec<wit::MetricFamily>, String>),
}

/// One collection's output as it crossed from the plugin: not yet decoded or validated.
pub struct Collected {
    returned: Returned,
    sample_limit: usize,
}

impl Collected {
    /// Decodes the output into `families`, overwriting the strings and lists they already hold
    /// (the previous cycle's) instead of allocating new ones, and validates it. A plugin's own
    /// error, more samples than its limit, or output that is malformed or breaks Prometheus'
    /// rules is an error, and leaves `families` empty.
    pub fn decode_into(self, families: &mut Vec<MetricFamily>) -> Result<(), CallError> {
        let decoded = self.decode(families);
        let result = decoded.and_then(|()| Ok(sonde_wire::validate::validate(families)?));
        if result.is_err() {
            families.clear();
        }
        result
    }

    fn decode(self, families: &mut Vec<MetricFamily>) -> Result<(), CallError> {
        let limit = self.sample_limit;
        match self.returned {
            Returned::Encoded(result) => {
                let bytes = result.map_err(|e| {
                    CallError::Failed(crate::wasm::bindings::escape_control(&e).into_owned())
                })?;
                sonde_wire::encoding::decode_into(&bytes, limit, families).map_err(|e| match e {
                    DecodeError::TooManySamples { returned } => {
                        CallError::SampleLimit { returned, limit }
                    }
                    DecodeError::Malformed { family, problem } => {
                        CallError::InvalidOutput(InvalidOutput {
                            family,
                            problem: format!("malformed encoded output: {problem}"),
                        })
                    }
                })
            }
            Returned::Records(result) => {
                let records = result.map_err(|e| {
                    CallError::Failed(crate::wasm::bindings::escape_control(&e).into_owned())
                })?;
                let returned: usize = records.iter().map(|f| f.samples.len()).sum();
                if returned > limit {
                    return Err(CallError::SampleLimit { returned, limit });
                }
                families.clear();
                families.extend(records.into_iter().map(family));
                Ok(())
            }
        }
    }
}

/// A plugin ready to run: compiled and pre-linked once; its instance is reused between calls
/// until a call fails.
pub struct Plugin {
    name: Arc<str>,
    info: PluginInfo,
    /// The linked component new instances are made from; see [`Plugin::replace_code`].
    code: Mutex<Code>,
    instance: Mutex<Option<Instance>>,
    memory: std::sync::atomic::AtomicUsize,
    kept_files: std::sync::atomic::AtomicUsize,
    refused_host_calls: std::sync::atomic::AtomicU64,
    dropped_log_lines: std::sync::atomic::AtomicU64,
    warnings: std::sync::atomic::AtomicU64,
    /// The parts the last call reported (API 0.2.1), taken by [`Plugin::take_parts`].
    parts: Mutex<CallParts>,
    runtime: Arc<Runtime>,
    grants: Arc<Grants>,
    limits: Limits,
}

impl Plugin {
    /// Compiles a component from its bytes (or loads a precompiled artifact later), links it and
    /// asks it to describe itself.
    pub fn load(
        runtime: &Arc<Runtime>,
        name: &str,
        wasm: &[u8],
        grants: Grants,
        limits: Limits,
    ) -> anyhow::Result<Plugin> {
        let component = Component::new(runtime.engine(), wasm).map_err(|e| {
            anyhow::anyhow!(
                "plugin {name}: not a loadable WebAssembly component ({}): {e:#}",
                describe_bytes(wasm)
            )
        })?;
        Self::from_component(runtime, name, &component, grants, limits)
    }

    /// Links an already compiled component and asks it to describe itself.
    pub fn from_component(
        runtime: &Arc<Runtime>,
        name: &str,
        component: &Component,
        grants: Grants,
        limits: Limits,
    ) -> anyhow::Result<Plugin> {
        let code = Code::link(runtime, name, component)?;
        let mut plugin = Plugin {
            name: name.into(),
            info: PluginInfo {
                name: name.to_owned(),
                version: String::new(),
                summary: String::new(),
                needs: Vec::new(),
                default_config: "{}".into(),
            },
            code: Mutex::new(code),
            instance: Mutex::new(None),
            memory: Default::default(),
            kept_files: Default::default(),
            refused_host_calls: Default::default(),
            dropped_log_lines: Default::default(),
            warnings: Default::default(),
            parts: Default::default(),
            runtime: runtime.clone(),
            grants: Arc::new(grants),
            limits,
        };
        plugin.info = plugin
            .describe()
            .map_err(|e| anyhow::anyhow!("plugin {name}: describe {e}"))?;
        Ok(plugin)
    }

    /// The name the plugin runs under (its config key).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the plugin said about itself when loaded.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// What the plugin has done so far that the host counts: its memory after the last call,
    /// host calls refused (escape attempts, ungranted roots) and log lines dropped.
    pub fn counters(&self) -> Counters {
        use std::sync::atomic::Ordering::Relaxed;
        Counters {
            memory: self.memory.load(Relaxed),
            kept_files: self.kept_files.load(Relaxed),
            refused_host_calls: self.refused_host_calls.load(Relaxed),
            dropped_log_lines: self.dropped_log_lines.load(Relaxed),
            warnings: self.warnings.load(Relaxed),
        }
    }

    /// The parts the last collection reported as they finished (`host.part-finished`, plugin
    /// API 0.2.1), whether it succeeded or not, and how long it ran after the last one: empty
    /// for a plugin that reports none (built for an older API, or bundling nothing), and after
    /// they were taken.
    pub fn take_parts(&self) -> CallParts {
        std::mem::take(&mut *self.parts.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// What the plugin is granted.
    pub fn grants(&self) -> &Grants {
        &self.grants
    }

    /// Replaces what the plugin is granted (for the calls that follow).
    pub fn set_grants(&mut self, grants: Grants) {
        self.grants = Arc::new(grants);
        // The cached instance carries the old grants.
        *self.instance.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The capabilities the plugin needs but was not granted.
    pub fn missing_grants(&self) -> Vec<Capability> {
        self.info
            .needs
            .iter()
            .copied()
            .filter(|c| !self.grants.has(*c))
            .collect()
    }

    /// A fresh store and instance under the plugin's limits, for a call with this deadline
    /// ([`runtime::ActiveCall::deadline`]).
    fn instantiate(&self, deadline: u64) -> Result<Instance, CallError> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory)
            .trap_on_grow_failure(true)
            .instances(16)
            .tables(16)
            .memories(4)
            .build();
        let state = PluginState::new(
            self.name.clone(),
            self.runtime.sandbox().clone(),
            self.grants.clone(),
            limits,
            self.runtime.memory_budget().clone(),
            self.limits.kept_files,
        );
        let mut store = Store::new(self.runtime.engine(), state);
        store.limiter(|state| &mut state.limits);
        store.data_mut().call_deadline = deadline;
        // The epoch advances only when some call's deadline has passed (runtime::Watchdog):
        // then this store traps if its own call is the one, and otherwise carries on.
        store.epoch_deadline_callback(|store| {
            if runtime::expired(store.data().call_deadline) {
                Err(Trap::Interrupt.into())
            } else {
                Ok(wasmtime::UpdateDeadline::Continue(1))
            }
        });
        store.set_epoch_deadline(1);
        let exports = self
            .instantiate_exports(&mut store)
            .map_err(|e| self.call_error(&store, e))?;
        Ok(Instance { store, exports })
    }

    /// Replaces the plugin's code with `component` (the same plugin compiled otherwise, such as
    /// a built-in's code compiled for this CPU after it started on precompiled baseline code):
    /// linked and checked first, then the current instance is dropped once its call, if any, is
    /// over, and the next call instantiates the new code, as after a failed call.
    pub fn replace_code(&self, component: &Component) -> anyhow::Result<()> {
        let code = Code::link(&self.runtime, &self.name, component)?;
        *self.code.lock().unwrap_or_else(|e| e.into_inner()) = code;
        *self.instance.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }

    /// Instantiates the component in `store` and finds what the host calls.
    fn instantiate_exports(&self, store: &mut Store<PluginState>) -> wasmtime::Result<Exports> {
        let code = self.code.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match code {
            Code::V0_1 {
                pre,
                collect_encoded,
            } => {
                let instance = pre.instance_pre().instantiate(&mut *store)?;
                let bindings = v0_1::Plugin::new(&mut *store, &instance)?;
                let collect_encoded = match &collect_encoded {
                    Some(index) => {
                        let func = instance.get_func(&mut *store, index).ok_or_else(|| {
                            wasmtime::format_err!("collect-encoded is not a function")
                        })?;
                        func.typed::<CollectParams, EncodedResults>(&*store)?;
                        Some(func)
                    }
                    None => None,
                };
                Ok(Exports::V0_1 {
                    bindings,
                    collect_encoded,
                })
            }
            Code::V0_2 { pre } => Ok(Exports::V0_2 {
                bindings: pre.instantiate(&mut *store)?,
                configured: None,
            }),
            Code::V0_2_2 { pre } => Ok(Exports::V0_2_2 {
                bindings: pre.instantiate(&mut *store)?,
                configured: None,
            }),
        }
    }

    /// Runs `call` on the plugin's instance under its deadline. The instance is kept for the
    /// next call (so a plugin keeps its collector, with its compiled filters and caches,
    /// between cycles) unless the call trapped, timed out or hit the memory cap: then it is
    /// dropped, and the next call starts from a fresh one (which a 0.2 plugin configures anew).
    fn call<T>(
        &self,
        call: impl FnOnce(&mut Store<PluginState>, &mut Exports) -> wasmtime::Result<T>,
    ) -> Result<T, CallError> {
        let active = self.runtime.enter_call(self.limits.timeout);
        let mut slot = self.instance.lock().unwrap_or_else(|e| e.into_inner());
        *self.parts.lock().unwrap_or_else(|e| e.into_inner()) = CallParts::default();
        let mut instance = match slot.take() {
            Some(instance) => instance,
            None => self.instantiate(active.deadline())?,
        };
        instance.store.data_mut().begin_call();
        instance.store.data_mut().call_deadline = active.deadline();
        instance.store.set_epoch_deadline(1);
        let result = call(&mut instance.store, &mut instance.exports);
        *self.parts.lock().unwrap_or_else(|e| e.into_inner()) =
            instance.store.data_mut().take_parts();
        let state = instance.store.data();
        self.memory
            .store(state.limits.memory, std::sync::atomic::Ordering::Relaxed);
        self.kept_files
            .store(state.kept_files(), std::sync::atomic::Ordering::Relaxed);
        self.refused_host_calls.fetch_add(
            u64::from(state.refused_calls) + u64::from(state.refused_parts),
            std::sync::atomic::Ordering::Relaxed,
        );
        self.dropped_log_lines.fetch_add(
            state.dropped_log_lines.into(),
            std::sync::atomic::Ordering::Relaxed,
        );
        self.warnings
            .fetch_add(state.warnings.into(), std::sync::atomic::Ordering::Relaxed);
        if state.refused_calls > 0 {
            tracing::warn!(plugin = %self.name, refused = state.refused_calls, "plugin made host calls that were refused");
        }
        if state.dropped_log_lines > 0 {
            tracing::warn!(plugin = %self.name, dropped = state.dropped_log_lines, "plugin logged too much; lines dropped");
        }
        match result {
            Ok(value) => {
                if !state.stderr_nearly_full() {
                    *slot = Some(instance);
                }
                Ok(value)
            }
            Err(e) => Err(self.call_error(&instance.store, e)),
        }
    }

    fn describe(&self) -> Result<PluginInfo, CallError> {
        let old = |info: wit::PluginInfo| PluginInfo {
            name: info.name,
            version: info.version,
            summary: info.summary,
            needs: info.needs.into_iter().map(capability).collect(),
            default_config: info.default_config,
        };
        self.call(|store, exports| match exports {
            Exports::V0_1 { bindings, .. } => bindings
                .sonde_collector_collector()
                .call_describe(store)
                .map(old),
            Exports::V0_2 { bindings, .. } => bindings
                .sonde_collector_collector()
                .call_describe(store)
                .map(old),
            Exports::V0_2_2 { bindings, .. } => bindings
                .sonde_collector_collector()
                .call_describe(store)
                .map(|info| PluginInfo {
                    name: info.name,
                    version: info.version,
                    summary: info.summary,
                    needs: info.needs.into_iter().map(v0_2_2::capability).collect(),
                    default_config: info.default_config,
                }),
        })
    }

    /// Runs one collection with `config` (JSON) under the plugin's limits, and returns its
    /// validated output.
    pub fn collect(&self, config_json: &str) -> Result<Vec<MetricFamily>, CallError> {
        let mut families = Vec::new();
        let decoded = self.call_collect(config_json)?.decode_into(&mut families);
        self.after_decode(&decoded);
        decoded.map(|()| families)
    }

    /// What a refused output means for the instance: one that returned more samples than its
    /// limit or invalid output is dropped (with the memory it built that output in), and the
    /// next call starts from a fresh one. Call it with the result of
    /// [`Collected::decode_into`].
    pub fn after_decode<T>(&self, decoded: &Result<T, CallError>) {
        if let Err(CallError::SampleLimit { .. } | CallError::InvalidOutput(_)) = decoded {
            *self.instance.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// Runs one collection with `config` (JSON) under the plugin's limits and returns its output
    /// as it crossed from the plugin, to be decoded and validated with
    /// [`Collected::decode_into`] (into the previous cycle's families, which the agent does
    /// under its store's lock, so that only one cycle's families are ever kept).
    ///
    /// A 0.2 plugin's instance is configured with `config` first when it was not yet, or with
    /// another config; a `configure` that fails is the call's error ([`CallError::Failed`], as a
    /// 0.1 plugin's `collect` refusing its config is), and is tried again at the next call.
    pub fn call_collect(&self, config_json: &str) -> Result<Collected, CallError> {
        let returned = self.call(|store, exports| match exports {
            Exports::V0_1 {
                collect_encoded: Some(func),
                ..
            } => {
                let func = func.typed::<CollectParams, EncodedResults>(&*store)?;
                let (result,) = func.call(store, (config_json,))?;
                Ok(Returned::Encoded(result))
            }
            Exports::V0_1 {
                bindings,
                collect_encoded: None,
            } => bindings
                .sonde_collector_collector()
                .call_collect(store, config_json)
                .map(Returned::Records),
            Exports::V0_2 {
                bindings,
                configured,
            } => {
                let collector = bindings.sonde_collector_collector();
                configure_and_collect(
                    store,
                    configured,
                    config_json,
                    |store, json| collector.call_configure(store, json),
                    |store| collector.call_collect(store),
                )
            }
            Exports::V0_2_2 {
                bindings,
                configured,
            } => {
                let collector = bindings.sonde_collector_collector();
                configure_and_collect(
                    store,
                    configured,
                    config_json,
                    |store, json| collector.call_configure(store, json),
                    |store| collector.call_collect(store),
                )
            }
        })?;
        Ok(Collected {
            returned,
            sample_limit: self.limits.samples,
        })
    }

    /// Classifies a wasmtime error of a call into timeout, memory limit or trap; a trap's message
    /// carries the plugin's last stderr line (a Rust panic's message).
    fn call_error(&self, store: &Store<PluginState>, e: wasmtime::Error) -> CallError {
        if let Some(trap) = e.downcast_ref::<Trap>() {
            return match trap {
                Trap::Interrupt => CallError::Timeout(self.limits.timeout),
                trap => CallError::Trap(match store.data().stderr_message() {
                    Some(line) => format!("{trap} ({})", bindings::escape_control(&line)),
                    None => trap.to_string(),
                }),
            };
        }
        let cause = e.root_cause().to_string();
        // StoreLimits' `trap_on_grow_failure` and the shared budget report a refused growth so.
        if cause.starts_with(bindings::GROWTH_REFUSED) {
            CallError::MemoryLimit(self.limits.memory)
        } else {
            CallError::Trap(cause)
        }
    }
}

/// The plugin API versions (`sonde:collector@…`) this host runs: every 0.1.x and 0.2.x.
pub const SUPPORTED_API: &[&str] = &["0.1", "0.2"];

/// A plugin API version this host has bindings for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    /// 0.1.x: `collect(config)`, and since 0.1.2 `collect-encoded(config)`.
    V0_1,
    /// 0.2.0 and 0.2.1: `configure(config)` once per instance, then `collect()`.
    V0_2,
    /// 0.2.2 and later 0.2.x: as 0.2.1, with the `systemd` capability.
    V0_2_2,
}

/// The `sonde:collector` version a component was built for, from the names of its imports and
/// exports (`sonde:collector/collector@0.1.0`).
pub fn api_version(engine: &wasmtime::Engine, component: &Component) -> Option<String> {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
    let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_owned()).collect();
    exports.iter().chain(&imports).find_map(|name| {
        name.strip_prefix("sonde:collector/")?
            .split_once('@')
            .map(|(_, v)| v.to_owned())
    })
}

/// What `sonde plugin inspect` shows of a component.
#[derive(Debug)]
pub struct Inspection {
    /// What the plugin says about itself.
    pub info: PluginInfo,
    /// The plugin API version its interfaces name.
    pub api_version: Option<String>,
    /// The interfaces it imports.
    pub imports: Vec<String>,
    /// The interfaces it exports.
    pub exports: Vec<String>,
}

/// Compiles `wasm` and has the plugin describe itself, granted nothing.
pub fn inspect(runtime: &Arc<Runtime>, wasm: &[u8]) -> anyhow::Result<Inspection> {
    let engine = runtime.engine();
    let component = Component::new(engine, wasm)
        .map_err(|e| anyhow::anyhow!("not a WebAssembly component: {e}"))?;
    let ty = component.component_type();
    let imports = ty.imports(engine).map(|(n, _)| n.to_owned()).collect();
    let exports = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
    let plugin = Plugin::from_component(
        runtime,
        "inspect",
        &component,
        Grants::default(),
        Limits::default(),
    )?;
    Ok(Inspection {
        info: plugin.info().clone(),
        api_version: api_version(engine, &component),
        imports,
        exports,
    })
}

/// Where the component exports `collect-encoded` of `sonde:collector/collector-encoded`, if it
/// does (plugins built with sonde-sdk 0.1.2 and later).
fn collect_encoded_export(
    engine: &wasmtime::Engine,
    component: &Component,
) -> Option<ComponentExportIndex> {
    let interface = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .find(|name| name.starts_with("sonde:collector/collector-encoded@"))?;
    let interface = component.get_export_index(None, interface.as_str())?;
    component.get_export_index(Some(&interface), "collect-encoded")
}

/// The API version `component` was built for, or why the host refuses it: it is not a sonde
/// plugin, or was built for an API this host lacks (the message names both versions).
fn check_api_version(engine: &wasmtime::Engine, component: &Component) -> anyhow::Result<Api> {
    let ty = component.component_type();
    let exports_collector = ty
        .exports(engine)
        .any(|(name, _)| name.starts_with("sonde:collector/collector@"));
    let version = api_version(engine, component);
    match version {
        Some(v) if !exports_collector => anyhow::bail!(
            "does not export sonde:collector/collector (it imports sonde:collector {v}); is it a sonde plugin?"
        ),
        None => anyhow::bail!(
            "is a WebAssembly component but not a sonde plugin: it neither imports nor exports sonde:collector (build it with the sonde-sdk crate)"
        ),
        Some(v) if v.starts_with("0.1.") => Ok(Api::V0_1),
        Some(v) if v == "0.2.0" || v == "0.2.1" => Ok(Api::V0_2),
        Some(v) if v.starts_with("0.2.") => Ok(Api::V0_2_2),
        Some(v) => anyhow::bail!(
            "was built for plugin API sonde:collector@{v}, but this sonde ({}) supports {}; rebuild the plugin with a matching sonde-sdk or upgrade sonde",
            env!("CARGO_PKG_VERSION"),
            SUPPORTED_API
                .iter()
                .map(|v| format!("{v}.x"))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    }
}

/// Refuses bytes that do not even start as a WebAssembly component, saying what they look like
/// (before anything is compiled).
pub fn check_component_header(bytes: &[u8]) -> anyhow::Result<()> {
    match bytes {
        // `\0asm`, then the component layer's version and layer fields.
        [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, ..] => Ok(()),
        _ => anyhow::bail!("not a WebAssembly component: {}", describe_bytes(bytes)),
    }
}

/// What a file that is not a component looks like, for the error message.
fn describe_bytes(bytes: &[u8]) -> &'static str {
    match bytes {
        [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ..] => {
            "a core WebAssembly module, not a component: build it for wasm32-wasip2 with sonde-sdk"
        }
        [0x00, 0x61, 0x73, 0x6d, ..] => "a WebAssembly file",
        _ => "not WebAssembly at all",
    }
}

fn capability(c: wit::Capability) -> Capability {
    match c {
        wit::Capability::Proc => Capability::Proc,
        wit::Capability::Sys => Capability::Sys,
        wit::Capability::Rootfs => Capability::Rootfs,
        wit::Capability::Statfs => Capability::Statfs,
        wit::Capability::Timex => Capability::Timex,
    }
}

/// Moves a family out of the WIT types into the SDK's (no string copies).
fn family(f: wit::MetricFamily) -> MetricFamily {
    MetricFamily {
        name: f.name,
        help: f.help,
        kind: match f.kind {
            wit::MetricKind::Counter => MetricKind::Counter,
            wit::MetricKind::Gauge => MetricKind::Gauge,
            wit::MetricKind::Untyped => MetricKind::Untyped,
            wit::MetricKind::Info => MetricKind::Info,
        },
        samples: f
            .samples
            .into_iter()
            .map(|s| Sample {
                labels: s
                    .labels
                    .into_iter()
                    .map(|l| Label {
                        name: l.name,
                        value: l.value,
                    })
                    .collect(),
                value: s.value,
            })
            .collect(),
    }
}
