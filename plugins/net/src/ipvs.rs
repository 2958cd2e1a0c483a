//! node_exporter's `ipvs` collector: the IP Virtual Server totals of `/proc/net/ip_vs_stats`
//! (`node_ipvs_{connections,incoming_packets,outgoing_packets,incoming_bytes,outgoing_bytes}_total`)
//! and, per real server, the active and inactive connections and weight of `/proc/net/ip_vs`
//! (`node_ipvs_backend_*`), summed over the backends that share the configured labels.
//!
//! Parsed as procfs' `IPVSStats` and `IPVSBackendStatus` do: addresses are hex (`C0A80016:0CEA`,
//! IPv6 as `[2001:0db8:…]:0050`), printed as Go prints a `net.IP` (IPv4-mapped IPv6 addresses as
//! IPv4); a fwmark service (`FWM 10001000`) has `local_mark` set and an empty `local_address`
//! with port 0. A kernel without IPVS has no `ip_vs_stats`: one read, no families.
//!
//! Where procfs fails the whole file on a malformed line, this leaves that line out (a malformed
//! service line also its real servers, which would otherwise be counted under the service
//! before it) and fails the part after reporting the rest. procfs knows only `TCP`, `UDP` and
//! `FWM` services and counts the real servers of an `SCTP` service under the service before it;
//! here `SCTP` services are read like `TCP` ones.

use crate::netns::NetDir;
use serde::{Deserialize, Serialize};
use sonde_procfs::Skipped;
use sonde_sdk::bundle::{Part, read_optional};
use sonde_sdk::{Error, Host, MetricFamily, Root};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The backend labels, in node_exporter's order.
pub const BACKEND_LABELS: [&str; 6] = [
    "local_address",
    "local_port",
    "remote_address",
    "remote_port",
    "proto",
    "local_mark",
];

/// `ipvs = { … }`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Run it (`--collector.ipvs`, on).
    pub enabled: bool,
    /// Comma-separated labels of the backend families
    /// (`--collector.ipvs.backend-labels`, all six).
    pub backend_labels: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            backend_labels: BACKEND_LABELS.join(","),
        }
    }
}

/// The ipvs part.
pub struct Ipvs {
    /// Where the `net/…` files are read.
    net: NetDir,
    /// Indexes into [`BACKEND_LABELS`], in its order.
    labels: Vec<usize>,
}

impl Ipvs {
    /// Checks the labels: unknown ones are an error, as in node_exporter; the order of the
    /// flag's list does not matter, empty items are ignored.
    pub fn new(config: &Config, net: NetDir) -> Result<Self, Error> {
        let wanted: Vec<&str> = config
            .backend_labels
            .split(',')
            .filter(|l| !l.is_empty())
            .collect();
        let mut unknown: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|l| !BACKEND_LABELS.contains(l))
            .collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            unknown.dedup();
            return Err(Error::msg(format!(
                "unknown IPVS backend labels: {:?}",
                unknown.join(", ")
            )));
        }
        Ok(Ipvs {
            net,
            labels: (0..BACKEND_LABELS.len())
                .filter(|i| wanted.contains(&BACKEND_LABELS[*i]))
                .collect(),
        })
    }
}

/// The totals of `ip_vs_stats`: connections, incoming and outgoing packets and bytes.
pub type Totals = [u64; 5];

/// One real server line of `/proc/net/ip_vs`, with its service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// The label values, in [`BACKEND_LABELS`]' order.
    pub labels: [String; 6],
    /// Weight.
    pub weight: u64,
    /// ActiveConn.
    pub active: u64,
    /// InActConn.
    pub inactive: u64,
}

impl Part for Ipvs {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(stats) = read_optional(host, Root::Proc, &self.net.file("ip_vs_stats"))? else {
            return Ok(());
        };
        let totals =
            parse_stats(&stats).map_err(|e| Error::msg(format!("/proc/net/ip_vs_stats: {e}")))?;
        for (value, (name, help)) in totals.iter().zip([
            (
                "node_ipvs_connections_total",
                "The total number of connections made.",
            ),
            (
                "node_ipvs_incoming_packets_total",
                "The total number of incoming packets.",
            ),
            (
                "node_ipvs_outgoing_packets_total",
                "The total number of outgoing packets.",
            ),
            (
                "node_ipvs_incoming_bytes_total",
                "The total amount of incoming data.",
            ),
            (
                "node_ipvs_outgoing_bytes_total",
                "The total amount of outgoing data.",
            ),
        ]) {
            out.push(MetricFamily::counter(name, help).with_value(*value as f64));
        }

        let text = host
            .read_to_string(Root::Proc, &self.net.file("ip_vs"))
            .map_err(|e| Error::msg(format!("reading /proc/{}: {e}", self.net.file("ip_vs"))))?;
        let (backends, skipped) = parse_backends(&text);
        let mut sums: BTreeMap<Vec<&str>, [u64; 3]> = BTreeMap::new();
        for backend in &backends {
            let key: Vec<&str> = self
                .labels
                .iter()
                .map(|i| backend.labels[*i].as_str())
                .collect();
            let sum = sums.entry(key).or_default();
            sum[0] = sum[0].wrapping_add(backend.active);
            sum[1] = sum[1].wrapping_add(backend.inactive);
            sum[2] = sum[2].wrapping_add(backend.weight);
        }
        let mut families = [
            MetricFamily::gauge(
                "node_ipvs_backend_connections_active",
                "The current active connections by local and remote address.",
            ),
            MetricFamily::gauge(
                "node_ipvs_backend_connections_inactive",
                "The current inactive connections by local and remote address.",
            ),
            MetricFamily::gauge(
                "node_ipvs_backend_weight",
                "The current backend weight by local and remote address.",
            ),
        ];
        for (values, sum) in &sums {
            let labels: Vec<(&str, &str)> = self
                .labels
                .iter()
                .map(|i| BACKEND_LABELS[*i])
                .zip(values.iter().copied())
                .collect();
            for (family, value) in families.iter_mut().zip(sum) {
                family.sample(&labels, *value as f64);
            }
        }
        out.extend(families);
        skipped.result("/proc/net/ip_vs", !backends.is_empty())
    }
}

/// The totals of `/proc/net/ip_vs_stats`: its third line, five hex numbers.
pub fn parse_stats(text: &str) -> Result<Totals, String> {
    let lines: Vec<&str> = text.splitn(4, '\n').collect();
    if lines.len() != 4 {
        return Err("too short".to_owned());
    }
    let fields: Vec<&str> = lines[2].split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "{} fields, expected 5, in line {:?}",
            fields.len(),
            lines[2]
        ));
    }
    let mut totals = [0; 5];
    for (total, field) in totals.iter_mut().zip(fields) {
        *total = parse_hex(field).ok_or_else(|| format!("invalid hex number {field:?}"))?;
    }
    Ok(totals)
}

/// The real servers of `/proc/net/ip_vs`, and the lines left out.
pub fn parse_backends(text: &str) -> (Vec<Backend>, Skipped) {
    let mut backends = Vec::new();
    let mut skipped = Skipped::default();
    // The service the following real servers belong to: proto, address, port, mark; `None`
    // after a malformed service line.
    let mut service: Option<[String; 4]> = Some(Default::default());
    for (index, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [] => {}
            ["IP" | "Prot", ..] | [_, "RemoteAddress:Port", ..] => {}
            [proto @ ("TCP" | "UDP" | "SCTP"), address, ..] => {
                service = match parse_address(address) {
                    Some((address, port)) => {
                        Some([proto.to_string(), address, port.to_string(), String::new()])
                    }
                    None => {
                        skipped.line(index + 1, format!("invalid address in line {line:?}"));
                        None
                    }
                };
            }
            ["FWM", mark, ..] => {
                service = Some([
                    "FWM".to_owned(),
                    String::new(),
                    "0".to_owned(),
                    mark.to_string(),
                ]);
            }
            ["->", address, _forward, weight, active, inactive, ..] => {
                let Some([proto, local_address, local_port, mark]) = &service else {
                    skipped.line(
                        index + 1,
                        format!("real server of a malformed service: {line:?}"),
                    );
                    continue;
                };
                let parsed = (
                    parse_address(address),
                    parse_dec(weight),
                    parse_dec(active),
                    parse_dec(inactive),
                );
                let (
                    Some((remote_address, remote_port)),
                    Some(weight),
                    Some(active),
                    Some(inactive),
                ) = parsed
                else {
                    skipped.line(index + 1, format!("malformed real server line {line:?}"));
                    continue;
                };
                backends.push(Backend {
                    labels: [
                        local_address.clone(),
                        local_port.clone(),
                        remote_address,
                        remote_port.to_string(),
                        proto.clone(),
                        mark.clone(),
                    ],
                    weight,
                    active,
                    inactive,
                });
            }
            // Short real server lines and unknown services are ignored, as procfs does.
            _ => {}
        }
    }
    (backends, skipped)
}

/// `C0A80016:0CEA` or `[2001:0db8:0000:0000:0000:0000:0000:0001]:0050`: the address as Go prints
/// it and the port.
pub fn parse_address(text: &str) -> Option<(String, u16)> {
    let address = match text.len() {
        13 => {
            let hex = text.get(..8)?;
            let bits = u32::from_str_radix(hex, 16)
                .ok()
                .filter(|_| hex.bytes().all(|b| b.is_ascii_hexdigit()))?;
            Ipv4Addr::from(bits).to_string()
        }
        46 => {
            let ip: Ipv6Addr = text.get(1..40)?.parse().ok()?;
            // Go prints IPv4-mapped addresses as IPv4.
            match ip.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => ip.to_string(),
            }
        }
        _ => return None,
    };
    let port = text.get(text.len() - 4..)?;
    if !port.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((address, u16::from_str_radix(port, 16).ok()?))
}

/// A hex number as Go's `ParseUint(s, 16, 64)` reads it: no sign, no prefix.
fn parse_hex(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}

/// A decimal number as Go's `ParseUint(s, 10, 64)` reads it.
fn parse_dec(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_as_go_prints_them() {
        assert_eq!(
            parse_address("C0A80016:0CEA"),
            Some(("192.168.0.22".to_owned(), 3306))
        );
        assert_eq!(
            parse_address("[2001:0db8:0000:0000:0000:0000:0000:0001]:0050"),
            Some(("2001:db8::1".to_owned(), 80))
        );
        assert_eq!(
            parse_address("[0000:0000:0000:0000:0000:ffff:c0a8:0001]:0050"),
            Some(("192.168.0.1".to_owned(), 80))
        );
        assert_eq!(
            parse_address("[fe80:0000:0000:0001:0000:0000:0000:0001]:01bb"),
            Some(("fe80:0:0:1::1".to_owned(), 443))
        );
        assert_eq!(parse_address("C0A8001:00CEA"), None);
        assert_eq!(parse_address("+0A80016:0CEA"), None);
        assert_eq!(parse_address("C0A80016:0CEX"), None);
        assert_eq!(
            parse_address("[é000:0000:0000:0000:0000:ffff:c0a8:01]:0050"),
            None
        );
        assert_eq!(parse_address("C0A80016"), None);
    }

    #[test]
    fn stats() {
        let text = "   Total Incoming Outgoing         Incoming         Outgoing\n   Conns  Packets  Packets            Bytes            Bytes\n 16AA370 E33656E5        0     51D8C8883AB3                0\n\n";
        assert_eq!(
            parse_stats(text).unwrap(),
            [0x16AA370, 0xE33656E5, 0, 0x51D8C8883AB3, 0]
        );
        assert!(parse_stats("a\nb\n").is_err());
        assert!(parse_stats("a\nb\n1 2 3 4\n").is_err());
        assert!(parse_stats("a\nb\n1 2 3 4 x\n").is_err());
    }
}
