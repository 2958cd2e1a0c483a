//! `/proc/net/sockstat` and `/proc/net/sockstat6`: socket counts per protocol.

use crate::{Error, numbers};

/// The contents of a sockstat file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sockstat {
    /// `sockets: used N` (IPv4 file only).
    pub used: Option<i64>,
    /// One entry per protocol line, in file order.
    pub protocols: Vec<SockstatProtocol>,
}

/// One protocol line, e.g. `TCP: inuse 4 orphan 0 tw 4 alloc 17 mem 1`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SockstatProtocol {
    /// The protocol as printed, without its colon (`TCP`, `UDPLITE6`, `FRAG`).
    pub protocol: String,
    /// `inuse`: sockets in use (0 when the line has no such key).
    pub inuse: i64,
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
/// Unknown keys are ignored; values are integers with a prefix-given base. Errors do not name the
/// file; add it as context.
pub fn parse(text: &str) -> Result<Sockstat, Error> {
    let mut stat = Sockstat::default();
    for line in text.lines() {
        let bad = |what: &str| Error::msg(format!("{what} in line {line:?}"));
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.len() < 3 {
            return Err(bad("too few fields"));
        }
        if fields.len().is_multiple_of(2) {
            return Err(bad("odd number of key/value fields"));
        }
        let mut pairs = Vec::with_capacity(fields.len() / 2);
        for pair in fields[1..].chunks(2) {
            let value = numbers::parse_i64(pair[1]).map_err(|e| bad(e.message()))?;
            pairs.push((pair[0], value));
        }
        let protocol = fields[0].strip_suffix(':').unwrap_or(fields[0]);
        if protocol == "sockets" {
            let used = pairs.iter().rev().find(|(k, _)| *k == "used");
            stat.used = Some(used.map_or(0, |(_, v)| *v));
            continue;
        }
        let mut entry = SockstatProtocol {
            protocol: protocol.to_owned(),
            ..SockstatProtocol::default()
        };
        for (key, value) in pairs {
            match key {
                "inuse" => entry.inuse = value,
                "orphan" => entry.orphan = Some(value),
                "tw" => entry.tw = Some(value),
                "alloc" => entry.alloc = Some(value),
                "mem" => entry.mem = Some(value),
                "memory" => entry.memory = Some(value),
                _ => {}
            }
        }
        stat.protocols.push(entry);
    }
    Ok(stat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sockstat() {
        let text = "sockets: used 229\nTCP: inuse 4 orphan 0 tw 4 alloc 17 mem 1\nUDPLITE: inuse 0\nFRAG: inuse 0 memory 0\n";
        let stat = parse(text).unwrap();
        assert_eq!(stat.used, Some(229));
        assert_eq!(stat.protocols.len(), 3);
        let tcp = &stat.protocols[0];
        assert_eq!(tcp.protocol, "TCP");
        assert_eq!((tcp.inuse, tcp.tw, tcp.mem), (4, Some(4), Some(1)));
        assert_eq!(stat.protocols[1].orphan, None);
        assert_eq!(stat.protocols[2].memory, Some(0));
        let v6 = parse("TCP6: inuse 17\n").unwrap();
        assert_eq!((v6.used, v6.protocols[0].inuse), (None, 17));
    }

    #[test]
    fn rejects_malformed_lines() {
        for bad in ["TCP:", "TCP: inuse", "TCP: inuse 1 mem", "TCP: inuse x"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
