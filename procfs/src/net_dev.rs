//! `/proc/net/dev`: traffic counters per network interface.
//!
//! procfs-core's parser splits the name from the counters on whitespace, which breaks on lines
//! such as `eth0:68210035552 …` (no space after the colon) and on alias names like `ibr10:30`;
//! this one splits at the last `:`, as the kernel's format and Go's procfs require.

use super::{Skipped, quoted};

/// The counter columns, named after the file's header (`Receive bytes` → `receive_bytes`), which
/// are also node_exporter's metric names (`node_network_<column>_total`).
pub const COLUMNS: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errs",
    "receive_drop",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errs",
    "transmit_drop",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

/// One interface line of `/proc/net/dev`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetDevLine {
    /// The interface name, e.g. `eth0`.
    pub name: String,
    /// The counters, in the order of [`COLUMNS`].
    pub counters: [u64; 16],
}

impl NetDevLine {
    /// The counters with their column names.
    pub fn columns(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        COLUMNS.into_iter().zip(self.counters)
    }
}

/// Parses `/proc/net/dev`: two header lines, then `name: 16 counters` per interface. A malformed
/// line is skipped (node_exporter's procfs fails the whole file on it).
pub fn parse(text: &str) -> (Vec<NetDevLine>, Skipped) {
    let mut lines = Vec::new();
    let mut skipped = Skipped::default();
    for (index, line) in text.lines().enumerate().skip(2) {
        match parse_line(line) {
            Ok(parsed) => lines.push(parsed),
            Err(problem) => skipped.line(index + 1, problem),
        }
    }
    (lines, skipped)
}

fn parse_line(line: &str) -> Result<NetDevLine, String> {
    let bad = |what: &str| format!("{what} in line {}", quoted(line));
    let (name, rest) = line.rsplit_once(':').ok_or_else(|| bad("no colon"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(bad("empty interface name"));
    }
    let mut fields = rest.split_whitespace();
    let mut counters = [0u64; 16];
    for counter in &mut counters {
        let field = fields.next().ok_or_else(|| bad("missing counters"))?;
        *counter = field.parse().map_err(|_| bad("invalid counter"))?;
    }
    Ok(NetDevLine {
        name: name.to_owned(),
        counters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
  eth0:68210035552 520993275    1    2    3     4          5         6 9315587528 43451486    7    8    9    10       11          12
ibr10:30:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
";

    #[test]
    fn parses_names_and_counters() {
        let (lines, skipped) = parse(SAMPLE);
        assert!(skipped.is_empty());
        let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["lo", "eth0", "ibr10:30"]);
        let eth0: Vec<(&str, u64)> = lines[1].columns().collect();
        assert_eq!(eth0[0], ("receive_bytes", 68210035552));
        assert_eq!(eth0[3], ("receive_drop", 2));
        assert_eq!(eth0[13], ("transmit_colls", 10));
        assert_eq!(eth0[15], ("transmit_compressed", 12));
    }

    #[test]
    fn rejects_malformed_lines() {
        let header = "h1\nh2\n";
        for line in [
            "eth0 1 2 3",
            ": 1 2",
            "eth0: 1 2 3",
            &format!("eth0: x{}", " 0".repeat(15)),
        ] {
            let (lines, skipped) = parse(&format!("{header}{line}\n"));
            assert!(lines.is_empty() && skipped.count() == 1, "{line}");
        }
        assert_eq!(parse(header), (vec![], Skipped::default()));
    }

    #[test]
    fn a_malformed_line_is_skipped_the_other_interfaces_kept() {
        let text = SAMPLE.replace(
            "  eth0:68210035552 520993275",
            "  eth0:68210035552 5209x3275",
        );
        let (lines, skipped) = parse(&text);
        let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["lo", "ibr10:30"]);
        let err = skipped
            .result("/proc/net/dev", true)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "/proc/net/dev: 1 malformed line skipped: line 4: invalid counter in line \"  eth0:"
            ),
            "{err}"
        );
    }
}
