//! `/proc/net/sockstat` and `/proc/net/sockstat6`: socket counts per protocol.

use super::{Skipped, quoted};
use crate::numbers;

/// The contents of a sockstat file. A key a line does not have is `None`, not 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sockstat {
    /// `sockets: used N` (IPv4 file only); `None` too when that line has no `used`.
    pub used: Option<i64>,
    /// One entry per protocol line, in file order.
    pub protocols: Vec<SockstatProtocol>,
}

/// One protocol line, e.g. `TCP: inuse 4 orphan 0 tw 4 alloc 17 mem 1`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SockstatProtocol {
    /// The protocol as printed, without its colon (`TCP`, `UDPLITE6`, `FRAG`).
    pub protocol: String,
    /// `inuse`: sockets in use.
    pub inuse: Option<i64>,
    /// `orphan`: orphaned sockets.
    pub orphan: Option<i64>,
    /// `tw`: sockets in TIME_WAIT.
    pub tw: Option<i64>,
    /// `alloc`: allocated sockets.
    pub alloc: Option<i64>,
    /// `mem`: memory used, in pages.
    pub mem: Option<i64>,
    /// `memory`: memory used by fragments, in bytes.
    pub memory: Option<i64>,
}

/// Parses a sockstat file: `proto: key value key value …` per line, split on single spaces.
/// Unknown keys are ignored; values are integers with a prefix-given base. A malformed line is
/// skipped (node_exporter's procfs fails the whole file on it).
pub fn parse(text: &str) -> (Sockstat, Skipped) {
    let mut stat = Sockstat::default();
    let mut skipped = Skipped::default();
    for (index, line) in text.lines().enumerate() {
        if let Err(what) = parse_line(line, &mut stat) {
            skipped.line(index + 1, format!("{what} in line {}", quoted(line)));
        }
    }
    (stat, skipped)
}

/// Adds one line to `stat`; nothing when it is malformed.
fn parse_line(line: &str, stat: &mut Sockstat) -> Result<(), String> {
    let fields: Vec<&str> = line.split(' ').collect();
    if fields.len() < 3 {
        return Err("too few fields".to_owned());
    }
    if fields.len().is_multiple_of(2) {
        return Err("odd number of key/value fields".to_owned());
    }
    let mut pairs = Vec::with_capacity(fields.len() / 2);
    for pair in fields[1..].chunks(2) {
        let value = numbers::parse_i64(pair[1]).map_err(|e| e.message().to_owned())?;
        pairs.push((pair[0], value));
    }
    let protocol = fields[0].strip_suffix(':').unwrap_or(fields[0]);
    if protocol == "sockets" {
        stat.used = pairs
            .iter()
            .rev()
            .find(|(k, _)| *k == "used")
            .map(|(_, v)| *v);
        return Ok(());
    }
    let mut entry = SockstatProtocol {
        protocol: protocol.to_owned(),
        ..SockstatProtocol::default()
    };
    for (key, value) in pairs {
        match key {
            "inuse" => entry.inuse = Some(value),
            "orphan" => entry.orphan = Some(value),
            "tw" => entry.tw = Some(value),
            "alloc" => entry.alloc = Some(value),
            "mem" => entry.mem = Some(value),
            "memory" => entry.memory = Some(value),
            _ => {}
        }
    }
    stat.protocols.push(entry);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sockstat() {
        let text = "sockets: used 229\nTCP: inuse 4 orphan 0 tw 4 alloc 17 mem 1\nUDPLITE: inuse 0\nFRAG: inuse 0 memory 0\n";
        let (stat, skipped) = parse(text);
        assert!(skipped.is_empty());
        assert_eq!(stat.used, Some(229));
        assert_eq!(stat.protocols.len(), 3);
        let tcp = &stat.protocols[0];
        assert_eq!(tcp.protocol, "TCP");
        assert_eq!((tcp.inuse, tcp.tw, tcp.mem), (Some(4), Some(4), Some(1)));
        assert_eq!(stat.protocols[1].orphan, None);
        assert_eq!(stat.protocols[2].memory, Some(0));
        let (v6, _) = parse("TCP6: inuse 17\n");
        assert_eq!((v6.used, v6.protocols[0].inuse), (None, Some(17)));
    }

    #[test]
    fn rejects_malformed_lines() {
        for bad in ["TCP:", "TCP: inuse", "TCP: inuse 1 mem", "TCP: inuse x"] {
            let (stat, skipped) = parse(bad);
            assert!(stat.protocols.is_empty() && skipped.count() == 1, "{bad}");
        }
    }

    #[test]
    fn missing_keys_are_none_malformed_lines_skipped() {
        let (stat, skipped) =
            parse("sockets: alloc 3\nTCP: orphan 1\nUDP: inuse x\nRAW: inuse 2\n");
        assert_eq!(stat.used, None);
        let protocols: Vec<(&str, Option<i64>)> = stat
            .protocols
            .iter()
            .map(|p| (p.protocol.as_str(), p.inuse))
            .collect();
        assert_eq!(protocols, [("TCP", None), ("RAW", Some(2))]);
        assert_eq!(
            skipped
                .result("/proc/net/sockstat", true)
                .unwrap_err()
                .to_string(),
            "/proc/net/sockstat: 1 malformed line skipped: line 3: invalid integer \"x\" in line \
             \"UDP: inuse x\""
        );
    }
}
