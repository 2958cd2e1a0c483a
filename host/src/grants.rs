//! What a plugin may do: the capabilities the operator granted, optionally narrowed to path
//! prefixes per root.

use sonde_sdk::{Capability, Root};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};

/// The capabilities granted to one plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    capabilities: BTreeSet<Capability>,
    /// Per root, the path prefixes the plugin is limited to; a root absent here is unrestricted.
    prefixes: BTreeMap<Root, Vec<String>>,
}

impl Grants {
    /// Grants exactly `capabilities`, each root whole.
    pub fn new(capabilities: impl IntoIterator<Item = Capability>) -> Self {
        Grants {
            capabilities: capabilities.into_iter().collect(),
            prefixes: BTreeMap::new(),
        }
    }

    /// Limits reads under `root` to paths below one of `prefixes` (relative, e.g. `class/hwmon`).
    pub fn limit_root(mut self, root: Root, prefixes: Vec<String>) -> Self {
        self.capabilities.insert(root.capability());
        self.prefixes.insert(root, prefixes);
        self
    }

    /// True if the capability was granted.
    pub fn has(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }

    /// True if the plugin may read `path` under `root`: the root is granted and, when narrowed,
    /// the path lies below one of its prefixes (component-wise, so `class/hw` does not allow
    /// `class/hwmon`). A directory above a prefix may be listed, so the plugin can find it.
    pub fn allows_path(&self, root: Root, path: &str) -> bool {
        if !self.has(root.capability()) {
            return false;
        }
        let Some(prefixes) = self.prefixes.get(&root) else {
            return true;
        };
        let path: Vec<_> = normal_components(Path::new(path));
        prefixes.iter().any(|prefix| {
            let prefix: Vec<_> = normal_components(Path::new(prefix));
            path.starts_with(&prefix)
        })
    }
}

fn normal_components(path: &Path) -> Vec<&std::ffi::OsStr> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_roots() {
        let g = Grants::new([Capability::Proc]);
        assert!(g.allows_path(Root::Proc, "stat"));
        assert!(!g.allows_path(Root::Sys, "class"));
        assert!(!g.has(Capability::Statfs));
    }

    #[test]
    fn prefixes_match_whole_components() {
        let g = Grants::default().limit_root(Root::Sys, vec!["class/hwmon".into()]);
        assert!(g.allows_path(Root::Sys, "class/hwmon/hwmon0/temp1_input"));
        assert!(g.allows_path(Root::Sys, "./class/hwmon"));
        assert!(!g.allows_path(Root::Sys, "class/hwmonitor"));
        assert!(!g.allows_path(Root::Sys, "class"));
        assert!(!g.allows_path(Root::Sys, "block/sda/stat"));
    }
}
