//! The built-in plugins, embedded in the binary by `build.rs`, and their loading.

use crate::compile_cache::CompileCache;
use crate::config::Config;
use crate::cycle::ScheduledPlugin;
use crate::grants::Grants;
use crate::plugin::{Limits, Plugin};
use crate::runtime::Runtime;
use anyhow::bail;
use std::sync::Arc;

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

/// The component bytes of the built-in plugin `name`.
pub fn builtin(name: &str) -> Option<&'static [u8]> {
    BUILTIN_PLUGINS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, bytes)| *bytes)
}

/// The names of the built-in plugins.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTIN_PLUGINS.iter().map(|(name, _)| *name)
}

/// Checks that every `[plugins.<name>]` names a built-in plugin.
pub fn check_names(config: &Config) -> anyhow::Result<()> {
    for name in config.plugins.keys() {
        if builtin(name).is_none() {
            let known: Vec<_> = builtin_names().collect();
            bail!(
                "[plugins.{name}]: no built-in plugin of that name (built-ins: {})",
                known.join(", ")
            );
        }
    }
    Ok(())
}

/// Loads the built-in plugins the config leaves enabled (all by default), granting each exactly
/// the capabilities it declares, with its config table and limits. Compiled components come from
/// `cache` when given. A `[plugins.<name>]` that names no built-in is an error.
pub fn load_enabled(
    runtime: &Arc<Runtime>,
    config: &Config,
    cache: Option<&CompileCache>,
) -> anyhow::Result<Vec<ScheduledPlugin>> {
    check_names(config)?;
    let mut plugins = Vec::new();
    for name in builtin_names() {
        let settings = config.plugins.get(name).cloned().unwrap_or_default();
        if settings.enabled == Some(false) {
            continue;
        }
        let wasm = builtin(name).expect("listed built-in");
        let limits = Limits {
            timeout: settings.timeout(&config.global),
            memory: settings.memory_limit() as usize,
            samples: settings.sample_limit(),
        };
        let mut plugin = match cache {
            Some(cache) => {
                let (component, _) = cache.load(runtime.engine(), wasm)?;
                Plugin::from_component(runtime, name, &component, Grants::default(), limits)?
            }
            None => Plugin::load(runtime, name, wasm, Grants::default(), limits)?,
        };
        // Built-ins are part of the binary: they get what they declare.
        plugin.set_grants(Grants::new(plugin.info().needs.iter().copied()));
        plugins.push(ScheduledPlugin {
            plugin,
            config_json: settings.config_json(),
            interval: settings.interval(&config.global),
        });
    }
    Ok(plugins)
}
