//! `/proc/net/netstat`, `/proc/net/snmp` and `/proc/net/snmp6`: the kernel's protocol counters
//! (`TcpExt`, `Ip`, `Tcp`, `Udp6`, …), as node_exporter's `netstat` collector reads them.
//!
//! procfs-core's `Snmp`/`Snmp6` keep a fixed set of fields; node_exporter exposes whatever the
//! kernel prints, so these parsers keep every field.

use crate::Error;

/// One counter: protocol (`TcpExt`, `Ip6`), field (`ListenDrops`, `InOctets`) and value,
/// borrowed from the file's text — these files have hundreds of fields and a collector keeps a
/// few dozen, so parsing allocates nothing per field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counter<'a> {
    /// The protocol, e.g. `TcpExt`.
    pub protocol: &'a str,
    /// The field, e.g. `ListenDrops`.
    pub field: &'a str,
    /// The value.
    pub value: f64,
}

/// Parses `/proc/net/netstat` or `/proc/net/snmp`: pairs of lines, a header
/// `Proto: Field1 Field2 …` then the values `Proto: 1 2 …`, split on single spaces. `file` names
/// the file in errors. Counters come in the file's order.
pub fn parse_pairs<'a>(text: &'a str, file: &str) -> Result<Vec<Counter<'a>>, Error> {
    let mut stats = Vec::with_capacity(text.len() / 16);
    let mut lines = text.lines();
    while let Some(header) = lines.next() {
        let mut names = header.split(' ');
        let mut values = lines.next().unwrap_or("").split(' ');
        let protocol = names
            .next()
            .and_then(|p| p.strip_suffix(':'))
            .ok_or_else(|| Error::msg(format!("{file}: invalid header line {header:?}")))?;
        let mismatch = || Error::msg(format!("{file}: field count mismatch for {protocol}"));
        values.next().ok_or_else(mismatch)?;
        for name in names {
            let value = values.next().ok_or_else(mismatch)?;
            stats.push(Counter {
                protocol,
                field: name,
                value: parse_value(value, file)?,
            });
        }
        if values.next().is_some() {
            return Err(mismatch());
        }
    }
    Ok(stats)
}

/// Parses `/proc/net/snmp6`: one `Ip6InReceives  7` per line. The protocol is the name up to and
/// including its first `6` (`Ip6`, `Icmp6`, `UdpLite6`), the field the rest; lines with fewer
/// than two columns or no `6` in the name are skipped.
pub fn parse_snmp6(text: &str) -> Result<Vec<Counter<'_>>, Error> {
    let mut stats = Vec::with_capacity(text.len() / 32);
    for line in text.lines() {
        let mut columns = line.split_whitespace();
        let (Some(key), Some(value)) = (columns.next(), columns.next()) else {
            continue;
        };
        if let Some(six) = key.find('6') {
            let (protocol, field) = key.split_at(six + 1);
            stats.push(Counter {
                protocol,
                field,
                value: parse_value(value, "/proc/net/snmp6")?,
            });
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
        let value = |p, f| {
            let c = stats.iter().find(|c| c.protocol == p && c.field == f);
            c.map(|c| c.value)
        };
        assert_eq!(value("TcpExt", "ListenDrops"), Some(12.0));
        assert_eq!(value("Tcp", "MaxConn"), Some(-1.0));
        assert_eq!(stats.len(), 5);
        assert_eq!(stats[0].field, "SyncookiesSent", "in the file's order");
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
        let pairs: Vec<_> = stats
            .iter()
            .map(|c| (c.protocol, c.field, c.value))
            .collect();
        assert_eq!(
            pairs,
            [
                ("Ip6", "InReceives", 7.0),
                ("Icmp6", "OutType134", 3.0),
                ("UdpLite6", "InErrors", 2.0)
            ]
        );
        assert!(parse_snmp6("Ip6InReceives x\n").is_err());
    }
}
