//! One loaded plugin: its compiled component, what it says about itself, its grants and limits,
//! and the call that runs one collection in a fresh, bounded store.

use crate::bindings::{self, PluginPre, PluginState, sonde::collector::types as wit};
use crate::grants::Grants;
use crate::runtime::{self, Runtime};
use sonde_sdk::{Capability, Label, MetricFamily, MetricKind, Sample};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::Component;
use wasmtime::{Store, StoreLimitsBuilder, Trap};

/// Per-plugin limits on one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock limit of one `collect` (enforced by epoch interruption).
    pub timeout: Duration,
    /// Cap on the plugin's linear memory, in bytes.
    pub memory: usize,
    /// The most samples one collection may return.
    pub samples: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: crate::config::DEFAULT_TIMEOUT,
            memory: crate::config::DEFAULT_MEMORY_LIMIT as usize,
            samples: crate::config::DEFAULT_SAMPLE_LIMIT,
        }
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
    InvalidOutput(#[from] sonde_sdk::validate::InvalidOutput),
}

/// A live instance of a plugin and its store.
struct Instance {
    store: Store<PluginState>,
    bindings: bindings::Plugin,
}

/// A plugin ready to run: compiled and pre-linked once; its instance is reused between calls
/// until a call fails.
pub struct Plugin {
    name: Arc<str>,
    info: PluginInfo,
    pre: PluginPre<PluginState>,
    instance: Mutex<Option<Instance>>,
    memory: std::sync::atomic::AtomicUsize,
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
        let component = Component::new(runtime.engine(), wasm)
            .map_err(|e| anyhow::anyhow!("plugin {name}: not a loadable component: {e:#}"))?;
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
        let instance_pre = runtime
            .linker()
            .instantiate_pre(component)
            .map_err(|e| anyhow::anyhow!("plugin {name}: cannot link: {e:#}"))?;
        let pre = PluginPre::new(instance_pre).map_err(|e| {
            anyhow::anyhow!("plugin {name}: does not export sonde:collector: {e:#}")
        })?;
        let mut plugin = Plugin {
            name: name.into(),
            info: PluginInfo {
                name: name.to_owned(),
                version: String::new(),
                summary: String::new(),
                needs: Vec::new(),
                default_config: "{}".into(),
            },
            pre,
            instance: Mutex::new(None),
            memory: Default::default(),
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

    /// Bytes of linear memory the plugin's instance had after its last call.
    pub fn memory_bytes(&self) -> usize {
        self.memory.load(std::sync::atomic::Ordering::Relaxed)
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

    /// A fresh store and instance under the plugin's limits.
    fn instantiate(&self) -> Result<Instance, CallError> {
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
        );
        let mut store = Store::new(self.runtime.engine(), state);
        store.limiter(|state| &mut state.limits);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(runtime::ticks(self.limits.timeout));
        let bindings = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| self.call_error(&store, e))?;
        Ok(Instance { store, bindings })
    }

    /// Runs `call` on the plugin's instance under its deadline. The instance is kept for the
    /// next call (so a plugin can keep compiled state, such as regexes, between cycles) unless
    /// the call trapped, timed out or hit the memory cap: then it is dropped, and the next call
    /// starts from a fresh one.
    fn call<T>(
        &self,
        call: impl FnOnce(&mut Store<PluginState>, &bindings::Plugin) -> wasmtime::Result<T>,
    ) -> Result<T, CallError> {
        let _active = self.runtime.enter_call();
        let mut slot = self.instance.lock().unwrap_or_else(|e| e.into_inner());
        let mut instance = match slot.take() {
            Some(instance) => instance,
            None => self.instantiate()?,
        };
        instance.store.data_mut().begin_call();
        instance
            .store
            .set_epoch_deadline(runtime::ticks(self.limits.timeout));
        let result = call(&mut instance.store, &instance.bindings);
        let state = instance.store.data();
        self.memory
            .store(state.limits.memory, std::sync::atomic::Ordering::Relaxed);
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
        let info =
            self.call(|store, bindings| bindings.sonde_collector_collector().call_describe(store))?;
        Ok(PluginInfo {
            name: info.name,
            version: info.version,
            summary: info.summary,
            needs: info.needs.into_iter().map(capability).collect(),
            default_config: info.default_config,
        })
    }

    /// Runs one collection with `config` (JSON) under the plugin's limits, and validates the
    /// output.
    pub fn collect(&self, config_json: &str) -> Result<Vec<MetricFamily>, CallError> {
        let result = self.call(|store, bindings| {
            bindings
                .sonde_collector_collector()
                .call_collect(store, config_json)
        })?;
        let families = result.map_err(CallError::Failed)?;
        let returned: usize = families.iter().map(|f| f.samples.len()).sum();
        if returned > self.limits.samples {
            return Err(CallError::SampleLimit {
                returned,
                limit: self.limits.samples,
            });
        }
        let families: Vec<MetricFamily> = families.into_iter().map(family).collect();
        sonde_sdk::validate::validate(&families)?;
        Ok(families)
    }

    /// Classifies a wasmtime error of a call into timeout, memory limit or trap; a trap's message
    /// carries the plugin's last stderr line (a Rust panic's message).
    fn call_error(&self, store: &Store<PluginState>, e: wasmtime::Error) -> CallError {
        if let Some(trap) = e.downcast_ref::<Trap>() {
            return match trap {
                Trap::Interrupt => CallError::Timeout(self.limits.timeout),
                trap => CallError::Trap(match store.data().stderr_message() {
                    Some(line) => format!("{trap} ({line})"),
                    None => trap.to_string(),
                }),
            };
        }
        let cause = e.root_cause().to_string();
        // StoreLimits' `trap_on_grow_failure` reports a refused growth with this text.
        if cause.starts_with("forcing trap when growing memory") {
            CallError::MemoryLimit(self.limits.memory)
        } else {
            CallError::Trap(cause)
        }
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
