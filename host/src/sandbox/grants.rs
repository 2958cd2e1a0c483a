//! What a plugin may do: the capabilities the operator granted, optionally narrowed to path
//! prefixes per root.

use sonde_sdk::{Capability, Root};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};

/// Files of the proc root that no grant opens: other processes' environments (where secrets
/// live) and memory, physical page maps, and kernel memory. No node_exporter collector reads
/// them; a plugin that asks is refused and the attempt counted.
pub const NEVER_READABLE_PROC_FILES: &[&str] = &[
    "environ",
    "mem",
    "pagemap",
    "kcore",
    "kmem",
    "kpagecount",
    "kpageflags",
    "kpagecgroup",
];

/// The capabilities granted to one plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    capabilities: BTreeSet<Capability>,
    /// Per root, the path prefixes the plugin is limited to; a root absent here is unrestricted.
    prefixes: BTreeMap<Root, Vec<String>>,
}

impl Grants {
    /// Parses `grants = ["proc", "sys:class/hwmon", "statfs"]`: capability names, and roots
    /// optionally narrowed to path prefixes with `root:prefix`. A prefix is a relative path
    /// inside its root: `..` and `.` components are refused (`sys:../../etc` would name nothing
    /// inside the root, and reads past it are refused anyway: better to say so at start).
    pub fn parse(grants: &[String]) -> Result<Grants, String> {
        let mut capabilities = Vec::new();
        let mut prefixes: Vec<(Root, Vec<String>)> = Vec::new();
        for grant in grants {
            let (name, prefix) = match grant.split_once(':') {
                Some((name, prefix)) => (name, Some(prefix.trim_matches('/'))),
                None => (grant.as_str(), None),
            };
            let capability = Capability::from_name(name).ok_or_else(|| {
                format!(
                    "unknown grant {grant:?}; use proc, sys, rootfs (optionally root:path/prefix), statfs, timex, systemd"
                )
            })?;
            let Some(prefix) = prefix else {
                capabilities.push(capability);
                continue;
            };
            let root = Root::ALL
                .into_iter()
                .find(|r| r.capability() == capability)
                .ok_or_else(|| {
                    format!("grant {grant:?}: only proc, sys and rootfs take a path prefix")
                })?;
            if prefix.is_empty()
                || prefix
                    .split('/')
                    .any(|part| part.is_empty() || part == "." || part == "..")
            {
                return Err(format!(
                    "grant {grant:?}: the prefix must be a path inside the {} root, such as {}:class/hwmon, without `.`, `..` or empty parts",
                    root.name(),
                    root.name()
                ));
            }
            match prefixes.iter_mut().find(|(r, _)| *r == root) {
                Some((_, list)) => list.push(prefix.to_owned()),
                None => prefixes.push((root, vec![prefix.to_owned()])),
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
    /// `class/hwmon`); a directory above a prefix is refused too (a plugin names its prefix).
    /// Files in [`NEVER_READABLE_PROC_FILES`] are refused whatever is granted.
    pub fn allows_path(&self, root: Root, path: &str) -> bool {
        if !self.has(root.capability()) {
            return false;
        }
        if root == Root::Proc
            && Path::new(path)
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| NEVER_READABLE_PROC_FILES.contains(&n))
        {
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
    fn grants_parse_with_prefixes_and_refuse_prefixes_that_leave_their_root() {
        let g = Grants::parse(&[
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
            Grants::parse(&["network".into()])
                .unwrap_err()
                .contains("unknown grant")
        );
        assert!(Grants::parse(&["statfs:/x".into()]).is_err());
        for bad in [
            "sys:../../etc",
            "sys:class/../..",
            "rootfs:./etc",
            "sys:",
            "sys:a//b",
        ] {
            let err = Grants::parse(&[bad.into()]).unwrap_err();
            assert!(err.contains("must be a path inside"), "{bad}: {err}");
        }
    }

    #[test]
    fn whole_roots() {
        let g = Grants::new([Capability::Proc]);
        assert!(g.allows_path(Root::Proc, "stat"));
        assert!(!g.allows_path(Root::Sys, "class"));
        assert!(!g.has(Capability::Statfs));
    }

    #[test]
    fn secrets_in_proc_are_never_readable() {
        let g = Grants::new([Capability::Proc, Capability::Rootfs]);
        for path in [
            "1/environ",
            "self/task/7/environ",
            "self/mem",
            "kcore",
            "self/pagemap",
        ] {
            assert!(!g.allows_path(Root::Proc, path), "{path}");
        }
        assert!(g.allows_path(Root::Proc, "1/stat"));
        assert!(g.allows_path(Root::Proc, "meminfo"));
        assert!(g.allows_path(Root::Rootfs, "etc/environ"));
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
