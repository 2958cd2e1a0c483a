//! `instance = "auto"`: the host's primary IPv4 address, which is what DeepFlow (and most
//! dashboards keyed by host IP) expect in the `instance` label.
//!
//! Everything is read from the procfs root, not from the agent's own network namespace: with the
//! host's `/proc` mounted in a container, `<procfs>/1/net/…` describes the host's network (the
//! namespace of its pid 1). The address is the local address that lies in a directly connected
//! subnet of the interface carrying the default route (lowest metric), else the first local
//! address that is not loopback.

use crate::sandbox::Sandbox;
use sonde_sdk::Root;
use std::net::Ipv4Addr;

/// One line of `/proc/net/route`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    iface: String,
    destination: u32,
    gateway: u32,
    mask: u32,
    metric: u32,
    up: bool,
}

/// Parses `/proc/net/route`.
fn parse_routes(text: &str) -> Vec<Route> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            // The kernel prints the address's bytes (network order) as a native-endian u32.
            let hex = |s: &str| {
                u32::from_str_radix(s, 16)
                    .ok()
                    .map(|x| u32::from_be_bytes(x.to_ne_bytes()))
            };
            let flags = u32::from_str_radix(f[3], 16).ok()?;
            Some(Route {
                iface: f[0].to_owned(),
                destination: hex(f[1])?,
                gateway: hex(f[2])?,
                mask: hex(f[7])?,
                metric: f[6].parse().ok()?,
                up: flags & 1 != 0,
            })
        })
        .collect()
}

/// The local (`/32 host LOCAL`) addresses listed in `/proc/net/fib_trie`, in order, deduplicated.
fn parse_local_addresses(fib_trie: &str) -> Vec<Ipv4Addr> {
    let mut addresses = Vec::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in fib_trie.lines() {
        let line = line.trim();
        if let Some(address) = line.strip_prefix("|-- ") {
            last = address.parse().ok();
        } else if line == "/32 host LOCAL"
            && let Some(address) = last
            && !addresses.contains(&address)
        {
            addresses.push(address);
        }
    }
    addresses
}

/// Picks the primary address from the routing table and the local addresses.
fn primary_address(routes: &[Route], locals: &[Ipv4Addr]) -> Option<Ipv4Addr> {
    let default_iface = routes
        .iter()
        .filter(|r| r.up && r.destination == 0 && r.mask == 0)
        .min_by_key(|r| r.metric)
        .map(|r| r.iface.as_str());
    if let Some(iface) = default_iface {
        let subnets: Vec<(u32, u32)> = routes
            .iter()
            .filter(|r| r.up && r.iface == iface && r.gateway == 0 && r.mask != 0)
            .map(|r| (r.destination, r.mask))
            .collect();
        if let Some(address) = locals.iter().find(|a| {
            let a = u32::from(**a);
            subnets.iter().any(|(net, mask)| a & mask == net & mask)
        }) {
            return Some(*address);
        }
    }
    locals.iter().copied().find(|a| !a.is_loopback())
}

/// The primary IPv4 address of the host whose procfs is served by `sandbox`, if one is found.
pub fn detect(sandbox: &Sandbox) -> Option<Ipv4Addr> {
    let read = |path: &str| {
        sandbox
            .read_file(Root::Proc, path)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    // Pid 1's view is the host's network namespace; fall back to our own.
    let (routes, fib_trie) = match (read("1/net/route"), read("1/net/fib_trie")) {
        (Some(routes), Some(fib)) => (routes, fib),
        _ => (read("net/route")?, read("net/fib_trie")?),
    };
    primary_address(&parse_routes(&routes), &parse_local_addresses(&fib_trie))
}

/// The `instance` label for the configured value: `auto` is resolved with [`detect`] (falling
/// back to the host name, with a warning), anything else is used as written.
pub fn resolve(configured: &str, sandbox: &Sandbox) -> String {
    if configured != "auto" {
        return configured.to_owned();
    }
    match detect(sandbox) {
        Some(address) => address.to_string(),
        None => {
            let name = crate::sandbox::system::uname().nodename;
            tracing::warn!(instance = %name, "no IPv4 address found for instance = \"auto\"; using the host name");
            name
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
";

    /// The Local table of a host with loopback, eth0 (192.0.2.2/24) and docker0 (172.17.0.1/16).
    const FIB_TRIE: &str = "Local:
  +-- 0.0.0.0/0 3 0 5
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 172.17.0.0/16 2 0 2
           |-- 172.17.0.1
              /32 host LOCAL
     +-- 192.0.2.0/24 2 0 2
        +-- 192.0.2.0/30 2 0 2
           |-- 192.0.2.0
              /24 link UNICAST
           |-- 192.0.2.2
              /32 host LOCAL
        |-- 192.0.2.255
           /32 link BROADCAST
";

    #[test]
    fn default_route_interface_address_wins() {
        let routes = parse_routes(ROUTE);
        assert_eq!(routes[0].gateway, u32::from(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(routes[1].mask, u32::from(Ipv4Addr::new(255, 255, 255, 0)));
        let locals = parse_local_addresses(FIB_TRIE);
        assert_eq!(
            locals,
            [
                Ipv4Addr::new(127, 0, 0, 1),
                Ipv4Addr::new(172, 17, 0, 1),
                Ipv4Addr::new(192, 0, 2, 2)
            ]
        );
        assert_eq!(
            primary_address(&routes, &locals),
            Some(Ipv4Addr::new(192, 0, 2, 2))
        );
    }

    #[test]
    fn without_a_default_route_the_first_non_loopback_address() {
        let routes = parse_routes(
            &ROUTE
                .lines()
                .filter(|l| !l.contains("010200C0"))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        let locals = parse_local_addresses(FIB_TRIE);
        assert_eq!(
            primary_address(&routes, &locals),
            Some(Ipv4Addr::new(172, 17, 0, 1))
        );
        assert_eq!(primary_address(&[], &[Ipv4Addr::LOCALHOST]), None);
    }

    #[test]
    fn this_machine_has_an_address_and_fixed_values_pass_through() {
        let sandbox = Sandbox::open(crate::sandbox::RootPaths::default(), 1 << 20);
        let detected = detect(&sandbox).expect("an IPv4 address on this machine");
        assert!(!detected.is_loopback());
        assert_eq!(resolve("10.9.8.7", &sandbox), "10.9.8.7");
        assert_eq!(resolve("auto", &sandbox), detected.to_string());
    }
}
