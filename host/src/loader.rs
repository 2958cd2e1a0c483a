//! From the config's `[plugins.*]` to loaded plugins: built-ins (embedded) and third-party
//! components (`path = "…/foo.wasm"`) go through the same steps: compile (or load from the
//! compile cache), link, describe, grant, limit.

use crate::builtin;
use crate::compile_cache::CompileCache;
use crate::config::{Config, PluginConfig};
use crate::cycle::ScheduledPlugin;
use crate::grants::Grants;
use crate::plugin::{Limits, Plugin};
use crate::runtime::Runtime;
use anyhow::{Context, bail};
use sonde_sdk::{Capability, Root};
use std::path::PathBuf;
use std::sync::Arc;

/// The components of `[global] plugin_dir`: file stem → path, sorted.
pub fn discover(config: &Config) -> anyhow::Result<std::collections::BTreeMap<String, PathBuf>> {
    let mut found = std::collections::BTreeMap::new();
    let Some(dir) = &config.global.plugin_dir else {
        return Ok(found);
    };
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("[global] plugin_dir {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wasm")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            found.insert(stem.to_owned(), path);
        }
    }
    Ok(found)
}

/// The component path of a third-party plugin: its `path`, else `<plugin_dir>/<name>.wasm`.
fn component_path(
    name: &str,
    settings: &PluginConfig,
    discovered: &std::collections::BTreeMap<String, PathBuf>,
) -> Option<PathBuf> {
    settings
        .path
        .clone()
        .or_else(|| discovered.get(name).cloned())
}

/// Checks that every `[plugins.<name>]` names a built-in plugin, gives a `path`, or has a
/// component in `plugin_dir`.
pub fn check_names(config: &Config) -> anyhow::Result<()> {
    let discovered = discover(config)?;
    for (name, settings) in &config.plugins {
        if builtin::builtin(name).is_none() && component_path(name, settings, &discovered).is_none()
        {
            let known: Vec<_> = builtin::builtin_names().collect();
            bail!(
                "[plugins.{name}]: no built-in plugin of that name, no `path` to a component and \
                 no {name}.wasm in plugin_dir (built-ins: {})",
                known.join(", ")
            );
        }
    }
    Ok(())
}

/// Parses `grants = ["proc", "sys:class/hwmon", "statfs"]`: capability names, and roots
/// optionally narrowed to path prefixes with `root:prefix`.
pub fn parse_grants(grants: &[String]) -> anyhow::Result<Grants> {
    let mut capabilities = Vec::new();
    let mut prefixes: Vec<(Root, Vec<String>)> = Vec::new();
    for grant in grants {
        let (name, prefix) = match grant.split_once(':') {
            Some((name, prefix)) => (name, Some(prefix.trim_matches('/').to_owned())),
            None => (grant.as_str(), None),
        };
        let capability = Capability::from_name(name).with_context(|| {
            format!("unknown grant {grant:?}; use proc, sys, rootfs (optionally root:path/prefix), statfs, timex")
        })?;
        match prefix {
            None => capabilities.push(capability),
            Some(prefix) => {
                let root = Root::ALL
                    .into_iter()
                    .find(|r| r.capability() == capability)
                    .with_context(|| {
                        format!("grant {grant:?}: only proc, sys and rootfs take a path prefix")
                    })?;
                match prefixes.iter_mut().find(|(r, _)| *r == root) {
                    Some((_, list)) => list.push(prefix),
                    None => prefixes.push((root, vec![prefix])),
                }
            }
        }
    }
    let mut result = Grants::new(capabilities);
    for (root, list) in prefixes {
        if !result.has(root.capability()) {
            result = result.limit_root(root, list);
        }
    }
    Ok(result)
}

/// The plugins that loaded, and the third-party ones that did not (with why).
#[derive(Default)]
pub struct Loaded {
    /// Ready to run.
    pub plugins: Vec<ScheduledPlugin>,
    /// Third-party plugins left out: a missing grant, a file that is not a sonde component, an
    /// unsupported API version. The agent runs without them (after logging each as an error);
    /// `check-config` fails on them.
    pub refused: Vec<(String, String)>,
}

/// Loads the plugins the config enables: every built-in unless `enabled = false`, and every
/// plugin with a `path` (or in `plugin_dir`) unless `enabled = false`. Built-ins get what they
/// declare unless `grants` says otherwise; third-party plugins get only their `grants`, and must
/// be granted everything they declare. A built-in that fails to load is an error; a
/// third-party plugin that fails is left out and reported in [`Loaded::refused`].
pub fn load_enabled(
    runtime: &Arc<Runtime>,
    config: &Config,
    cache: Option<&CompileCache>,
) -> anyhow::Result<Loaded> {
    check_names(config)?;
    let discovered = discover(config)?;
    let mut plugins = Vec::new();
    let mut refused = Vec::new();
    let has_path = |name: &str| config.plugins.get(name).is_some_and(|s| s.path.is_some());
    // A `path` under a built-in's name replaces the built-in.
    let mut names: Vec<String> = builtin::builtin_names()
        .filter(|name| !has_path(name))
        .map(String::from)
        .collect();
    names.extend(
        config
            .plugins
            .keys()
            .filter(|name| builtin::builtin(name).is_none() || has_path(name))
            .cloned(),
    );
    for name in &names {
        let mut settings = config.plugins.get(name).cloned().unwrap_or_default();
        if settings.enabled == Some(false) {
            continue;
        }
        if builtin::builtin(name).is_none() || has_path(name) {
            settings.path = component_path(name, &settings, &discovered);
            match load(runtime, config, name, &settings, cache) {
                Ok(plugin) => plugins.push(plugin),
                Err(e) => {
                    let reason = format!("{e:#}");
                    tracing::error!(plugin = %name, error = %reason, "plugin not started");
                    refused.push((name.clone(), reason));
                }
            }
        } else {
            plugins.push(load(runtime, config, name, &settings, cache)?);
        }
    }
    if config.global.enable_discovered_plugins {
        for (name, path) in &discovered {
            if config.plugins.contains_key(name) || builtin::builtin(name).is_some() {
                continue;
            }
            let settings = PluginConfig {
                path: Some(path.clone()),
                ..PluginConfig::default()
            };
            match load(runtime, config, name, &settings, cache) {
                Ok(plugin) => plugins.push(plugin),
                Err(e) => {
                    tracing::warn!(plugin = %name, error = %format!("{e:#}"), "discovered plugin not started")
                }
            }
        }
    }
    Ok(Loaded { plugins, refused })
}

fn load(
    runtime: &Arc<Runtime>,
    config: &Config,
    name: &str,
    settings: &PluginConfig,
    cache: Option<&CompileCache>,
) -> anyhow::Result<ScheduledPlugin> {
    let wasm: std::borrow::Cow<'static, [u8]> = match &settings.path {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("[plugins.{name}] path {}", path.display()))?
            .into(),
        None => builtin::builtin(name).expect("checked").into(),
    };
    let limits = Limits {
        timeout: settings.timeout(&config.global),
        memory: settings.memory_limit() as usize,
        samples: settings.sample_limit(),
        kept_files: settings.keep_open_files(),
    };
    let mut plugin = match cache {
        Some(cache) => {
            let (component, _) = cache
                .load(runtime.engine(), &wasm)
                .with_context(|| format!("[plugins.{name}]: not a loadable component"))?;
            Plugin::from_component(runtime, name, &component, Grants::default(), limits)?
        }
        None => Plugin::load(runtime, name, &wasm, Grants::default(), limits)?,
    };
    let grants = match &settings.grants {
        Some(grants) => parse_grants(grants).with_context(|| format!("[plugins.{name}] grants"))?,
        // Built-ins are part of the binary: they get what they declare.
        None if settings.path.is_none() => Grants::new(plugin.info().needs.iter().copied()),
        None => Grants::default(),
    };
    plugin.set_grants(grants);
    let missing = plugin.missing_grants();
    if !missing.is_empty() {
        let missing: Vec<&str> = missing.iter().map(|c| c.name()).collect();
        bail!(
            "[plugins.{name}]: the plugin needs {} but is not granted {}; add them to `grants` \
             (e.g. grants = [{}])",
            plugin
                .info()
                .needs
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>()
                .join(", "),
            missing.join(", "),
            missing
                .iter()
                .map(|m| format!("\"{m}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(ScheduledPlugin {
        plugin,
        config_json: settings.config_json(),
        interval: settings.interval(&config.global),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_with_prefixes() {
        let g = parse_grants(&[
            "proc".into(),
            "sys:class/hwmon".into(),
            "sys:/class/thermal/".into(),
        ])
        .unwrap();
        assert!(g.has(Capability::Proc) && g.has(Capability::Sys) && !g.has(Capability::Statfs));
        assert!(g.allows_path(Root::Sys, "class/hwmon/hwmon0/temp1_input"));
        assert!(g.allows_path(Root::Sys, "class/thermal/thermal_zone0/temp"));
        assert!(!g.allows_path(Root::Sys, "block/sda/stat"));
        assert!(
            parse_grants(&["network".into()])
                .unwrap_err()
                .to_string()
                .contains("unknown grant")
        );
        assert!(parse_grants(&["statfs:/x".into()]).is_err());
    }
}
