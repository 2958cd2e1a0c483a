//! `/proc/net/netstat`, `/proc/net/snmp` and `/proc/net/snmp6`: the kernel's protocol counters
//! (`TcpExt`, `Ip`, `Tcp`, `Udp6`, …), as node_exporter's `netstat` collector reads them.
//!
//! procfs-core's `Snmp`/`Snmp6` keep a fixed set of fields; node_exporter exposes whatever the
//! kernel prints, so these parsers keep every field.

use super::{Skipped, quoted};

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
/// `Proto: Field1 Field2 …` then the values `Proto: 1 2 …`, split on single spaces. Counters
/// come in the file's order. A pair whose values do not match its header (count, or a value that
/// is not a number) is skipped; a header without its values line is skipped alone, and the
/// next line read as a header (node_exporter fails the whole file on either).
pub fn parse_pairs(text: &str) -> (Vec<Counter<'_>>, Skipped) {
    let mut stats = Vec::with_capacity(text.len() / 16);
    let mut skipped = Skipped::default();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((index, header)) = lines.next() {
        let mut names = header.split(' ');
        let prefix = names.next().unwrap_or_default();
        let Some(protocol) = prefix.strip_suffix(':') else {
            skipped.line(index + 1, format!("invalid header line {}", quoted(header)));
            continue;
        };
        let Some((index, values)) = lines.next_if(|(_, l)| l.split(' ').next() == Some(prefix))
        else {
            skipped.line(index + 1, format!("no values line for {protocol}"));
            continue;
        };
        match parse_pair(protocol, names, values.split(' ').skip(1)) {
            Ok(counters) => stats.extend(counters),
            Err(problem) => skipped.line(index + 1, problem),
        }
    }
    (stats, skipped)
}

/// The counters of one header and values pair.
fn parse_pair<'a>(
    protocol: &'a str,
    names: impl Iterator<Item = &'a str>,
    mut values: impl Iterator<Item = &'a str>,
) -> Result<Vec<Counter<'a>>, String> {
    let mismatch = || format!("field count mismatch for {protocol}");
    let mut counters = Vec::new();
    for field in names {
        let value = values.next().ok_or_else(mismatch)?;
        counters.push(Counter {
            protocol,
            field,
            value: parse_value(value)?,
        });
    }
    if values.next().is_some() {
        return Err(mismatch());
    }
    Ok(counters)
}

/// Parses `/proc/net/snmp6`: one `Ip6InReceives  7` per line. The protocol is the name up to and
/// including its first `6` (`Ip6`, `Icmp6`, `UdpLite6`), the field the rest. Lines with no `6`
/// in the name are ignored (as in node_exporter); one without a value, or whose value does not
/// parse, is skipped.
pub fn parse_snmp6(text: &str) -> (Vec<Counter<'_>>, Skipped) {
    let mut stats = Vec::with_capacity(text.len() / 32);
    let mut skipped = Skipped::default();
    for (index, line) in text.lines().enumerate() {
        let mut columns = line.split_whitespace();
        let Some(key) = columns.next() else { continue };
        let Some(six) = key.find('6') else { continue };
        let (protocol, field) = key.split_at(six + 1);
        match columns.next().map(parse_value) {
            Some(Ok(value)) => stats.push(Counter {
                protocol,
                field,
                value,
            }),
            Some(Err(problem)) => skipped.line(index + 1, problem),
            None => skipped.line(index + 1, format!("no value in line {}", quoted(line))),
        }
    }
    (stats, skipped)
}

fn parse_value(value: &str) -> Result<f64, String> {
    value
        .parse()
        .map_err(|_| format!("invalid value {value:?}"))
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
        let (stats, skipped) = parse_pairs(text);
        assert!(skipped.is_empty());
        let value = |p, f| {
            let c = stats.iter().find(|c| c.protocol == p && c.field == f);
            c.map(|c| c.value)
        };
        assert_eq!(value("TcpExt", "ListenDrops"), Some(12.0));
        assert_eq!(value("Tcp", "MaxConn"), Some(-1.0));
        assert_eq!(stats.len(), 5);
        assert_eq!(stats[0].field, "SyncookiesSent", "in the file's order");
    }

    /// The error of a part that read `text`, with nothing parsed.
    fn error(text: &str) -> String {
        let (stats, skipped) = parse_pairs(text);
        assert!(stats.is_empty(), "{text}");
        skipped
            .result("/proc/net/snmp", false)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn mismatched_or_invalid_pairs_are_errors() {
        assert_eq!(
            error("Ip: A B\nIp: 1\n"),
            "/proc/net/snmp: field count mismatch for Ip"
        );
        assert!(error("Ip: A\nIp: x\n").contains("invalid value \"x\""));
        assert!(error("Ip: A\n").contains("no values line for Ip"));
        assert!(error("Ip A\nIp 1\n").contains("invalid header line"));
    }

    #[test]
    fn a_bad_pair_is_skipped_the_others_kept() {
        let text = "\
Ip: Forwarding InReceives
Ip: 1 x
Icmp: InMsgs
Tcp: ActiveOpens
Tcp: 7
Udp: InDatagrams NoPorts
Udp: 3
Udp: InErrors
Udp: 4
";
        let (stats, skipped) = parse_pairs(text);
        let kept: Vec<(&str, &str, f64)> = stats
            .iter()
            .map(|c| (c.protocol, c.field, c.value))
            .collect();
        assert_eq!(
            kept,
            [("Tcp", "ActiveOpens", 7.0), ("Udp", "InErrors", 4.0)]
        );
        assert_eq!(
            skipped
                .result("/proc/net/snmp", true)
                .unwrap_err()
                .to_string(),
            "/proc/net/snmp: 3 malformed lines skipped, first line 2: invalid value \"x\""
        );
    }

    #[test]
    fn parses_snmp6() {
        let text = "Ip6InReceives                   \t7\nIcmp6OutType134 \t3\nUdpLite6InErrors 2\nbogus\nNoSix 1\n";
        let (stats, skipped) = parse_snmp6(text);
        assert!(skipped.is_empty());
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
        let (stats, skipped) = parse_snmp6("Ip6InReceives x\nIp6InDelivers\nIp6OutRequests 4\n");
        assert_eq!((stats.len(), skipped.count()), (1, 2));
    }
}
