//! Which network namespace the `net/…` files of procfs describe: the agent's own, or the host's.
//!
//! `/proc/net` is a link to `/proc/self/net`: the namespace of the process that reads it. An agent
//! in a container with the host's `/proc` mounted at `/host/proc` reads its own (the container's)
//! interfaces and counters there, which is why node_exporter and Alloy need `hostNetwork: true`.
//! `<procfs>/1/net` is the namespace of the procfs root's pid 1: with the host's `/proc`, the
//! host's. sonde's `instance = "auto"` reads the host's address from there for the same reason.

use serde::{Deserialize, Serialize};

/// `netns = "auto" | "host" | "self"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetNs {
    /// The agent decides when it loads the plugin: `host` when its procfs root is not `/proc`
    /// and has a pid 1 (`--path.procfs /host/proc`), `self` otherwise. Left unresolved (the plugin run without
    /// the agent, as in its tests), `self`.
    #[default]
    Auto,
    /// The host's: the namespace of the procfs root's pid 1, `<procfs>/1/net/…`.
    Host,
    /// The agent's own: `<procfs>/net/…`, as node_exporter reads.
    #[serde(rename = "self")]
    Own,
}

/// The procfs directory the parts read their `net/…` files from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetDir {
    dir: &'static str,
}

impl NetDir {
    /// The directory of the namespace `ns` (`auto` unresolved reads the agent's own).
    pub fn of(ns: NetNs) -> NetDir {
        NetDir {
            dir: match ns {
                NetNs::Host => "1/net",
                NetNs::Auto | NetNs::Own => "net",
            },
        }
    }

    /// The path of `file` (`dev`, `stat/nf_conntrack`) under the procfs root.
    pub fn file(self, file: &str) -> String {
        format!("{}/{file}", self.dir)
    }

    /// Whether this is the host's namespace read through pid 1 (not the agent's own).
    pub fn is_host(self) -> bool {
        self.dir != "net"
    }
}

impl Default for NetDir {
    fn default() -> Self {
        NetDir::of(NetNs::Own)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_per_namespace() {
        assert_eq!(NetDir::of(NetNs::Own).file("dev"), "net/dev");
        assert_eq!(NetDir::of(NetNs::Auto).file("dev"), "net/dev");
        assert_eq!(
            NetDir::of(NetNs::Host).file("stat/arp_cache"),
            "1/net/stat/arp_cache"
        );
        assert!(NetDir::of(NetNs::Host).is_host());
        assert!(!NetDir::default().is_host());
    }
}
