//! `/proc/net/arp`: the IPv4 neighbour table.
//!
//! Parsed as Go's procfs `GatherARPEntries` does: lines of 6 columns are entries, the 9-column
//! header and blank lines are skipped, anything else is an error; the hardware address must be a
//! MAC address and the flags a number.

use crate::numbers;
use sonde_sdk::Error;

/// One entry of `/proc/net/arp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpEntry {
    /// The IPv4 address, as printed.
    pub ip_address: String,
    /// The hardware address, as printed, e.g. `cc:aa:dd:ee:aa:bb`.
    pub hw_address: String,
    /// The `ATF_*` flags (`0x2` complete, `0x4` permanent, …).
    pub flags: u8,
    /// The interface, e.g. `eth0`.
    pub device: String,
}

/// Parses `/proc/net/arp`.
pub fn parse(text: &str) -> Result<Vec<ArpEntry>, Error> {
    let mut entries = Vec::new();
    for line in text.lines() {
        let columns: Vec<&str> = line.split_whitespace().collect();
        match columns.len() {
            0 | 9 => continue,
            6 => entries.push(parse_entry(&columns)?),
            n => {
                return Err(Error::msg(format!(
                    "/proc/net/arp: {n} columns, expected 6, in line {line:?}"
                )));
            }
        }
    }
    Ok(entries)
}

fn parse_entry(columns: &[&str]) -> Result<ArpEntry, Error> {
    if !is_mac_address(columns[3]) {
        return Err(Error::msg(format!(
            "/proc/net/arp: invalid hardware address {:?}",
            columns[3]
        )));
    }
    let flags = numbers::parse_u64(columns[2])
        .ok()
        .and_then(|f| u8::try_from(f).ok())
        .ok_or_else(|| Error::msg(format!("/proc/net/arp: invalid flags {:?}", columns[2])))?;
    Ok(ArpEntry {
        ip_address: columns[0].to_owned(),
        hw_address: columns[3].to_owned(),
        flags,
        device: columns[5].to_owned(),
    })
}

/// True for what Go's `net.ParseMAC` accepts: 6, 8 or 20 bytes written as hex pairs separated by
/// `:` or `-`, or as groups of four hex digits separated by `.`.
fn is_mac_address(text: &str) -> bool {
    let groups = |separator: char, width: usize| -> Option<usize> {
        let parts: Vec<&str> = text.split(separator).collect();
        parts
            .iter()
            .all(|p| p.len() == width && p.bytes().all(|b| b.is_ascii_hexdigit()))
            .then_some(parts.len() * width / 2)
    };
    let bytes = if text.contains('.') {
        groups('.', 4)
    } else if text.contains('-') {
        groups('-', 2)
    } else {
        groups(':', 2)
    };
    matches!(bytes, Some(6 | 8 | 20))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries() {
        let text = "\
IP address       HW type     Flags       HW address            Mask     Device
192.168.1.1    0x1         0x2         cc:aa:dd:ee:aa:bb     *        eth0

10.0.0.1       0x1         0x0         00:00:00:00:00:00     *        eth1
";
        let entries = parse(text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].device, "eth0");
        assert_eq!(entries[0].flags, 2);
        assert_eq!(entries[1].ip_address, "10.0.0.1");
    }

    #[test]
    fn rejects_bad_entries() {
        for line in [
            "10.0.0.1 0x1 0x2 zz:aa:dd:ee:aa:bb * eth0",
            "10.0.0.1 0x1 0x2 cc:aa:dd:ee:aa * eth0",
            "10.0.0.1 0x1 0x100 cc:aa:dd:ee:aa:bb * eth0",
            "10.0.0.1 0x1 0x2 cc:aa:dd:ee:aa:bb eth0",
        ] {
            assert!(parse(line).is_err(), "{line}");
        }
    }

    #[test]
    fn mac_address_forms() {
        for ok in [
            "cc:aa:dd:ee:aa:bb",
            "CC-AA-DD-EE-AA-BB",
            "ccaa.ddee.aabb",
            "00:00:00:00:fe:80:00:00",
        ] {
            assert!(is_mac_address(ok), "{ok}");
        }
        for bad in [
            "",
            "cc:aa:dd:ee:aa",
            "c:aa:dd:ee:aa:bb",
            "cc:aa-dd:ee:aa:bb",
        ] {
            assert!(!is_mac_address(bad), "{bad}");
        }
        assert!(is_mac_address(&["00"; 20].join(":")));
    }
}
