//! `/proc/net/udp` and `/proc/net/udp6`: one line per UDP socket after a header. This module
//! sums the socket queues, as procfs' `NetUDPSummary` does for node_exporter's `udp_queues`.
//!
//! procfs-core parses these files too, but would allocate an entry (with decoded addresses) per
//! socket; a busy host has tens of thousands of them and only the sums are needed here. Lines are
//! still validated as Go's procfs validates them, so malformed input fails the same way.

use crate::numbers;
use sonde_sdk::Error;

/// The sums over all sockets of a `/proc/net/udp{,6}` file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpSummary {
    /// Sum of the `tx_queue` columns, in bytes.
    pub tx_queue: u64,
    /// Sum of the `rx_queue` columns, in bytes.
    pub rx_queue: u64,
    /// Number of sockets (lines).
    pub sockets: u64,
    /// Sum of the `drops` columns.
    pub drops: u64,
}

/// Sums `/proc/net/udp` or `/proc/net/udp6` (errors do not name the file; add it as context).
pub fn summarize(text: &str) -> Result<UdpSummary, Error> {
    let mut summary = UdpSummary::default();
    for line in text.lines().skip(1) {
        let socket = parse_line(line)
            .map_err(|what| Error::msg(format!("{what} in socket line {line:?}")))?;
        summary.tx_queue = summary.tx_queue.wrapping_add(socket.tx_queue);
        summary.rx_queue = summary.rx_queue.wrapping_add(socket.rx_queue);
        summary.drops = summary.drops.wrapping_add(socket.drops);
        summary.sockets += 1;
    }
    Ok(summary)
}

/// The queue and drop counts of one socket line, after checking its other columns.
fn parse_line(line: &str) -> Result<UdpSummary, String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 13 {
        return Err(format!("{} columns, expected at least 13", fields.len()));
    }
    let hex = |text: &str, what: &str| {
        u64::from_str_radix(text, 16).map_err(|_| format!("invalid {what} {text:?}"))
    };
    let auto = |text: &str, what: &str| {
        numbers::parse_u64(text).map_err(|_| format!("invalid {what} {text:?}"))
    };
    let (sl, _) = pair(fields[0], "sl")?;
    auto(sl, "sl")?;
    for (column, what) in [(fields[1], "local_address"), (fields[2], "rem_address")] {
        let (ip, port) = pair(column, what)?;
        if !matches!(ip.len(), 8 | 32) || !ip.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("invalid {what} {column:?}"));
        }
        hex(port, what)?;
    }
    hex(fields[3], "st")?;
    let (tx, rx) = pair(fields[4], "tx_queue:rx_queue")?;
    auto(fields[7], "uid")?;
    auto(fields[9], "inode")?;
    Ok(UdpSummary {
        tx_queue: hex(tx, "tx_queue")?,
        rx_queue: hex(rx, "rx_queue")?,
        sockets: 1,
        drops: auto(fields[12], "drops")?,
    })
}

/// Splits `a:b` into its two parts; no colon or more than one is an error.
fn pair<'a>(text: &'a str, what: &str) -> Result<(&'a str, &'a str), String> {
    match text.split_once(':') {
        Some((a, b)) if !b.contains(':') => Ok((a, b)),
        _ => Err(format!("invalid {what} {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n";

    #[test]
    fn sums_queues() {
        let text = format!(
            "{HEADER}\
   0: 00000000:0016 00000000:0000 0A 00000015:00000000 00:00000000 00000000     0        0 2740 1 ffff88003d3af3c0 100 0 0 10 0
  11: 0100007F:0035 00000000:0000 07 00000001:00000200 00:00000000 00000000   101        0 1234 2 ffff88003d3af3c0 3
"
        );
        let s = summarize(&text).unwrap();
        assert_eq!(
            (s.tx_queue, s.rx_queue, s.sockets, s.drops),
            (0x16, 0x200, 2, 103)
        );
        let v6 = format!(
            "{HEADER}  0: 00000000000000000000000000000000:0222 00000000000000000000000000000000:0000 07 00000000:00000004 00:00000000 00000000     0        0 5 2 ffff 0\n"
        );
        assert_eq!(summarize(&v6).unwrap().rx_queue, 4);
        assert_eq!(summarize(HEADER).unwrap(), UdpSummary::default());
    }

    #[test]
    fn malformed_lines_are_errors() {
        let good = "0: 00000000:0016 00000000:0000 0A 00000015:00000000 00:00000000 00000000 0 0 2740 1 ffff 100";
        assert!(summarize(&format!("{HEADER}{good}\n")).is_ok());
        for (from, to) in [
            ("0:", "0"),
            ("00000000:0016", "000000:0016"),
            ("0A", "0Z"),
            ("00000015:00000000", "0000001500000000"),
            (" 100", " x"),
        ] {
            let line = good.replacen(from, to, 1);
            assert!(summarize(&format!("{HEADER}{line}\n")).is_err(), "{line}");
        }
        assert!(summarize(&format!("{HEADER}0: 1 2\n")).is_err());
    }
}
