//! From the config's `[plugins.*]` to loaded plugins: built-ins (embedded) and third-party
//! components (`path = "…/foo.wasm"`) go through the same steps: compile (or load from the
//! compile cache), link, describe, grant, limit.

use crate::agent::cycle::ScheduledPlugin;
use crate::config::{Config, ConfigError, PluginConfig};
use crate::sandbox::grants::Grants;
use crate::wasm::builtin;
use crate::wasm::compile_cache::CompileCache;
use crate::wasm::plugin::{Limits, Plugin};
use crate::wasm::runtime::Runtime;
use anyhow::{Context, bail};
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
fn check_names(
    config: &Config,
    discovered: &std::collections::BTreeMap<String, PathBuf>,
) -> Result<(), ConfigError> {
    for (name, settings) in &config.plugins {
        if !builtin::is_builtin(name) && component_path(name, settings, discovered).is_none() {
            let known: Vec<_> = builtin::builtin_names().collect();
            return Err(config.error_at(
                &format!("plugins.{name}"),
                "",
                format!(
                    "[plugins.{name}]: no built-in plugin of that name, no `path` to a component \
                     and no {name}.wasm in plugin_dir (built-ins: {})",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Loads the plugins the config enables: every built-in unless `enabled = false` (those of
/// [`builtin::DISABLED_BY_DEFAULT`] only with `enabled = true`), and every
/// plugin with a `path` (or in `plugin_dir`) unless `enabled = false`. Built-ins get what they
/// declare unless `grants` says otherwise; third-party plugins get only their `grants`, and must
/// be granted everything they declare; each plugin's `config` table must use the plugin's own
/// keys. Anything else is an error naming the file, line and key: the agent never starts (or
/// reloads) with part of its config, and `check-config`, `collect` and `run` refuse the same
/// configs. Only components found in `plugin_dir` that the config does not name
/// (`enable_discovered_plugins`) are skipped with a warning when they do not load.
pub fn load_enabled(
    runtime: &Arc<Runtime>,
    config: &Config,
    cache: Option<&CompileCache>,
) -> anyhow::Result<Vec<ScheduledPlugin>> {
    let discovered =
        discover(config).map_err(|e| config.error_at("global", "plugin_dir", format!("{e:#}")))?;
    check_names(config, &discovered)?;
    let mut plugins = Vec::new();
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
            .filter(|name| !builtin::is_builtin(name) || has_path(name))
            .cloned(),
    );
    // Decompressed once for all the built-ins loaded, freed when loading is over.
    let builtins = builtin::Builtins::new();
    for name in &names {
        let mut settings = config.plugins.get(name).cloned().unwrap_or_default();
        if settings.enabled == Some(false) {
            continue;
        }
        if settings.enabled.is_none() && builtin::disabled_by_default(name) && !has_path(name) {
            continue;
        }
        if !builtin::is_builtin(name) || has_path(name) {
            settings.path = component_path(name, &settings, &discovered);
        }
        plugins.push(load(runtime, config, name, &settings, cache, &builtins)?);
    }
    if config.global.enable_discovered_plugins {
        for (name, path) in &discovered {
            if config.plugins.contains_key(name) || builtin::is_builtin(name) {
                continue;
            }
            let settings = PluginConfig {
                path: Some(path.clone()),
                ..PluginConfig::default()
            };
            match load(runtime, config, name, &settings, cache, &builtins) {
                Ok(plugin) => plugins.push(plugin),
                Err(e) => {
                    tracing::warn!(plugin = %name, error = %format!("{e:#}"), "discovered plugin not started")
                }
            }
        }
    }
    Ok(plugins)
}

/// Loads one plugin; every failure of the config's making is an error at its table's line.
fn load(
    runtime: &Arc<Runtime>,
    config: &Config,
    name: &str,
    settings: &PluginConfig,
    cache: Option<&CompileCache>,
    builtins: &builtin::Builtins,
) -> anyhow::Result<ScheduledPlugin> {
    let table = format!("plugins.{name}");
    let wasm: std::borrow::Cow<'_, [u8]> = match &settings.path {
        Some(path) => std::fs::read(path)
            .map_err(|e| {
                config.error_at(
                    &table,
                    "path",
                    format!("[plugins.{name}] path {}: {e}", path.display()),
                )
            })?
            .into(),
        None => builtins.component(name).expect("checked").into(),
    };
    let limits = Limits {
        timeout: settings.timeout(&config.global),
        memory: settings.memory_limit() as usize,
        samples: settings.sample_limit(),
        kept_files: settings.keep_open_files(),
    };
    // A built-in's code was compiled at build time (a `path` replacing it was not); it is
    // decompressed only when the compile cache has none.
    let precompiled = match &settings.path {
        None if builtin::Builtins::has_precompiled(name) => {
            Some(|| builtins.precompiled(name).unwrap_or_default().to_vec())
        }
        _ => None,
    };
    let loaded = crate::wasm::plugin::check_component_header(&wasm).and_then(|()| {
        let engine = runtime.engine();
        let component = match cache {
            Some(cache) => {
                cache
                    .load(
                        engine,
                        &wasm,
                        precompiled.as_ref().map(|f| f as &dyn Fn() -> Vec<u8>),
                    )
                    .context("not a loadable component")?
                    .0
            }
            None => match precompiled.and_then(|code| {
                crate::wasm::compile_cache::deserialize_precompiled(engine, &code())
            }) {
                Some(component) => component,
                None => return Plugin::load(runtime, name, &wasm, Grants::default(), limits),
            },
        };
        Plugin::from_component(runtime, name, &component, Grants::default(), limits)
    });
    let mut plugin = loaded.map_err(|e| {
        let message = format!("[plugins.{name}]: {e:#}");
        match &settings.path {
            // A third-party component that does not load is the config's mistake.
            Some(_) => anyhow::Error::from(config.error_at(&table, "path", message)),
            // A built-in that does not load is sonde's.
            None => anyhow::anyhow!(message),
        }
    })?;
    let grants = match &settings.grants {
        Some(grants) => Grants::parse(grants).map_err(|e| {
            config.error_at(&table, "grants", format!("[plugins.{name}] grants: {e}"))
        })?,
        // Built-ins are part of the binary: they get the paths their collectors read.
        None if settings.path.is_none() => match builtin::default_grants(name) {
            Some(grants) => {
                let grants: Vec<String> = grants.iter().map(|g| (*g).to_owned()).collect();
                Grants::parse(&grants).expect("the built-in grants parse")
            }
            None => Grants::new(plugin.info().needs.iter().copied()),
        },
        None => Grants::default(),
    };
    plugin.set_grants(grants);
    let missing = plugin.missing_grants();
    if !missing.is_empty() {
        let missing: Vec<&str> = missing.iter().map(|c| c.name()).collect();
        let needs: Vec<&str> = plugin.info().needs.iter().map(|c| c.name()).collect();
        let quoted: Vec<String> = missing.iter().map(|m| format!("\"{m}\"")).collect();
        bail!(config.error_at(
            &table,
            "grants",
            format!(
                "[plugins.{name}]: the plugin needs {} but is not granted {}; add them to `grants` (e.g. grants = [{}])",
                needs.join(", "),
                missing.join(", "),
                quoted.join(", ")
            ),
        ));
    }
    let config_json = settings.config_json();
    let defaults: serde_json::Value =
        serde_json::from_str(&plugin.info().default_config).unwrap_or_default();
    let given: serde_json::Value = serde_json::from_str(&config_json)?;
    if let Err(problem) = config_matches_defaults(&given, &defaults, "") {
        bail!(config.error_at(
            &table,
            "config",
            format!("[plugins.{name}] config: {problem}")
        ));
    }
    // A built-in's `auto` values depend on where the agent reads (see resolve_auto_config).
    let config_json = match &settings.path {
        None => {
            let mut given = given;
            builtin::resolve_auto_config(name, &mut given, &runtime.sandbox().paths().procfs);
            given.to_string()
        }
        Some(_) => config_json,
    };
    Ok(ScheduledPlugin {
        plugin: Arc::new(plugin),
        config_json,
        interval: settings.interval(&config.global),
    })
}

/// Checks a plugin config against the plugin's defaults: every key known, every value of the
/// default's JSON type (tables recursively; lists and `null` defaults accept anything).
fn config_matches_defaults(
    given: &serde_json::Value,
    defaults: &serde_json::Value,
    at: &str,
) -> Result<(), String> {
    use serde_json::Value;
    match (given, defaults) {
        (Value::Object(given), Value::Object(defaults)) => {
            for (key, value) in given {
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                match defaults.get(key) {
                    None => {
                        let known: Vec<&str> = defaults.keys().map(String::as_str).collect();
                        return Err(format!(
                            "unknown key `{path}` (known: {})",
                            known.join(", ")
                        ));
                    }
                    Some(default) => config_matches_defaults(value, default, &path)?,
                }
            }
            Ok(())
        }
        (_, Value::Null | Value::Array(_)) => Ok(()),
        // An on/off switch (`sonde_sdk::bundle::Toggle`) is also written as a plain bool.
        (Value::Bool(_), Value::Object(table))
            if table.len() == 1 && table.get("enabled").is_some_and(Value::is_boolean) =>
        {
            Ok(())
        }
        (Value::Bool(_), Value::Bool(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_)) => Ok(()),
        (given, default) => Err(format!(
            "`{at}` is {given}, but should be like its default {default}"
        )),
    }
}
