//! `/proc/net/netstat`, `/proc/net/snmp` and `/proc/net/snmp6`: the kernel's protocol counters
//! (`TcpExt`, `Ip`, `Tcp`, `Udp6`, …), as node_exporter's `netstat` collector reads them.
//!
//! procfs-core's `Snmp`/`Snmp6` keep a fixed set of fields; node_exporter exposes whatever the
//! kernel prints, so these parsers keep every field.

use crate::Error;
use std::collections::BTreeMap;

/// Counters by protocol (`TcpExt`, `Ip6`) and field (`ListenDrops`, `InOctets`).
pub type ProtocolStats = BTreeMap<String, BTreeMap<String, f64>>;

/// Parses `/proc/net/netstat` or `/proc/net/snmp`: pairs of lines, a header
/// `Proto: Field1 Field2 …` then the values `Proto: 1 2 …`, split on single spaces. `file` names
/// the file in errors. A protocol seen twice keeps its last pair of lines.
pub fn parse_pairs(text: &str, file: &str) -> Result<ProtocolStats, Error> {
    let mut stats = ProtocolStats::new();
    let mut lines = text.lines();
    while let Some(header) = lines.next() {
        let names: Vec<&str> = header.split(' ').collect();
        let values: Vec<&str> = lines.next().unwrap_or("").split(' ').collect();
        let protocol = names[0]
            .strip_suffix(':')
            .ok_or_else(|| Error::msg(format!("{file}: invalid header line {header:?}")))?;
        if names.len() != values.len() {
            return Err(Error::msg(format!(
                "{file}: field count mismatch for {protocol}"
            )));
        }
        let mut fields = BTreeMap::new();
        for (name, value) in names.iter().zip(&values).skip(1) {
            fields.insert((*name).to_owned(), parse_value(value, file)?);
        }
        stats.insert(protocol.to_owned(), fields);
    }
    Ok(stats)
}

/// Parses `/proc/net/snmp6`: one `Ip6InReceives  7` per line. The protocol is the name up to and
/// including its first `6` (`Ip6`, `Icmp6`, `UdpLite6`), the field the rest; lines with fewer
/// than two columns or no `6` in the name are skipped.
pub fn parse_snmp6(text: &str) -> Result<ProtocolStats, Error> {
    let mut stats = ProtocolStats::new();
    for line in text.lines() {
        let mut columns = line.split_whitespace();
        let (Some(key), Some(value)) = (columns.next(), columns.next()) else {
            continue;
        };
        if let Some(six) = key.find('6') {
            let (protocol, field) = key.split_at(six + 1);
            stats
                .entry(protocol.to_owned())
                .or_default()
                .insert(field.to_owned(), parse_value(value, "/proc/net/snmp6")?);
        }
    }
    Ok(stats)
}

fn parse_value(value: &str, file: &str) -> Result<f64, Error> {
    value
        .parse()
        .map_err(|_| Error::msg(format!("{file}: invalid value {value:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_and_value_pairs() {
        let text = "\
TcpExt: SyncookiesSent ListenDrops
TcpExt: 0 12
Tcp: RtoAlgorithm MaxConn CurrEstab
Tcp: 1 -1 5
";
        let stats = parse_pairs(text, "/proc/net/netstat").unwrap();
        assert_eq!(stats["TcpExt"]["ListenDrops"], 12.0);
        assert_eq!(stats["Tcp"]["MaxConn"], -1.0);
        assert_eq!(stats["Tcp"].len(), 3);
    }

    #[test]
    fn mismatched_or_invalid_pairs_are_errors() {
        let err = parse_pairs("Ip: A B\nIp: 1\n", "/proc/net/snmp").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/proc/net/snmp: field count mismatch for Ip"
        );
        assert!(parse_pairs("Ip: A\nIp: x\n", "f").is_err());
        assert!(parse_pairs("Ip: A\n", "f").is_err());
        assert!(parse_pairs("Ip A\nIp 1\n", "f").is_err());
    }

    #[test]
    fn parses_snmp6() {
        let text = "Ip6InReceives                   \t7\nIcmp6OutType134 \t3\nUdpLite6InErrors 2\nbogus\nNoSix 1\n";
        let stats = parse_snmp6(text).unwrap();
        assert_eq!(stats["Ip6"]["InReceives"], 7.0);
        assert_eq!(stats["Icmp6"]["OutType134"], 3.0);
        assert_eq!(stats["UdpLite6"]["InErrors"], 2.0);
        assert_eq!(stats.len(), 3);
        assert!(parse_snmp6("Ip6InReceives x\n").is_err());
    }
}
