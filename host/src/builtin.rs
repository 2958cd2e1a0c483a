//! The built-in plugins, embedded in the binary by `build.rs`.

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
