//! `/proc/net/softnet_stat`: per-CPU packet processing counters, one line of hex columns per
//! CPU. Older kernels print fewer columns; those missing read as 0, as node_exporter reports them.

use super::{Skipped, quoted};

/// One line of `/proc/net/softnet_stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SoftnetStat {
    /// Column 0: packets processed.
    pub processed: u32,
    /// Column 1: packets dropped (backlog full).
    pub dropped: u32,
    /// Column 2: times processing ran out of quota or time.
    pub time_squeezed: u32,
    /// Column 8: collisions taking the device lock while transmitting.
    pub cpu_collision: u32,
    /// Column 9 (Linux 2.6.39+): times the CPU was woken to process RPS packets.
    pub received_rps: u32,
    /// Column 10 (Linux 4.18+): times the flow limit was reached.
    pub flow_limit_count: u32,
    /// Column 11 (Linux 5.14+): the backlog length.
    pub backlog_len: u32,
    /// Column 12 (Linux 5.14+): the CPU owning the line; on older kernels, the line's index.
    pub cpu: u32,
}

/// Parses `/proc/net/softnet_stat`. A line with fewer than 9 columns or with 12 (Linux 5.14 added
/// the last two together), or a used column that is not a 32-bit hex number, is skipped
/// (node_exporter's procfs fails the whole file on it).
pub fn parse(text: &str) -> (Vec<SoftnetStat>, Skipped) {
    let mut stats = Vec::new();
    let mut skipped = Skipped::default();
    for (index, line) in text.lines().enumerate() {
        match parse_line(index, line) {
            Ok(stat) => stats.push(stat),
            Err(problem) => skipped.line(index + 1, problem),
        }
    }
    (stats, skipped)
}

fn parse_line(index: usize, line: &str) -> Result<SoftnetStat, String> {
    let columns: Vec<&str> = line.split_whitespace().collect();
    if columns.len() < 9 {
        return Err(format!("{} columns, expected at least 9", columns.len()));
    }
    if columns.len() == 12 {
        return Err(format!(
            "12 columns, which no kernel prints, in line {}",
            quoted(line)
        ));
    }
    // Columns an older kernel does not print read as 0, as node_exporter reports them.
    let hex = |i: usize| -> Result<u32, String> {
        match columns.get(i) {
            None => Ok(0),
            Some(column) => u32::from_str_radix(column, 16)
                .map_err(|_| format!("invalid column {column:?} in line {}", quoted(line))),
        }
    };
    // procfs parses the first nine columns, used or not.
    for i in 3..8 {
        hex(i)?;
    }
    let (backlog_len, cpu) = if columns.len() >= 13 {
        (hex(11)?, hex(12)?)
    } else {
        (0, index as u32)
    };
    Ok(SoftnetStat {
        processed: hex(0)?,
        dropped: hex(1)?,
        time_squeezed: hex(2)?,
        cpu_collision: hex(8)?,
        received_rps: hex(9)?,
        flow_limit_count: hex(10)?,
        backlog_len,
        cpu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_and_new_layouts() {
        let old = "00049279 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000005 00000000 00000003\n\
                   000dfb82 00000029 0000000a 00000000 00000000 00000000 00000000 00000000 00000000\n";
        let (stats, skipped) = parse(old);
        assert!(skipped.is_empty());
        assert_eq!(stats[0].processed, 299641);
        assert_eq!((stats[0].cpu_collision, stats[0].flow_limit_count), (5, 3));
        assert_eq!(
            (stats[1].dropped, stats[1].time_squeezed, stats[1].cpu),
            (41, 10, 1)
        );
        assert_eq!(stats[1].received_rps, 0);
        let new = "00001b2b 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000007 00000003 00000000 00000000\n";
        let (stats, _) = parse(new);
        assert_eq!(
            (stats[0].processed, stats[0].backlog_len, stats[0].cpu),
            (6955, 7, 3)
        );
    }

    #[test]
    fn short_or_invalid_lines_are_errors() {
        for bad in [
            "1 2 3\n",
            "1 2 3 4 5 6 7 8 zz\n",
            "1 2 3 x 5 6 7 8 9\n",
            "1 2 3 4 5 6 7 8 9 a b c\n",
        ] {
            let (stats, skipped) = parse(bad);
            assert!(stats.is_empty() && skipped.count() == 1, "{bad}");
        }
    }

    #[test]
    fn a_malformed_line_is_skipped_the_other_cpus_kept() {
        let (stats, skipped) = parse("1 2 3 4 5 6 7 8 9 a b\n1 2\n3 2 3 4 5 6 7 8 9 a b\n");
        let cpus: Vec<(u32, u32)> = stats.iter().map(|s| (s.cpu, s.processed)).collect();
        assert_eq!(
            cpus,
            [(0, 1), (2, 3)],
            "old kernels: the CPU is the line's index"
        );
        assert_eq!(
            skipped
                .result("/proc/net/softnet_stat", true)
                .unwrap_err()
                .to_string(),
            "/proc/net/softnet_stat: 1 malformed line skipped: line 2: 2 columns, expected at \
             least 9"
        );
    }
}
