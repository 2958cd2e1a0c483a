//! `/proc/net/softnet_stat`: per-CPU packet processing counters, one line of hex columns per
//! CPU. Older kernels print fewer columns; those missing read as 0.

use crate::Error;

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

/// Parses `/proc/net/softnet_stat`. A line with fewer than 9 columns, or a used column that is
/// not a 32-bit hex number, is an error.
pub fn parse(text: &str) -> Result<Vec<SoftnetStat>, Error> {
    text.lines()
        .enumerate()
        .map(|(index, line)| parse_line(index, line))
        .collect()
}

fn parse_line(index: usize, line: &str) -> Result<SoftnetStat, Error> {
    let columns: Vec<&str> = line.split_whitespace().collect();
    if columns.len() < 9 {
        return Err(Error::msg(format!(
            "/proc/net/softnet_stat: {} columns, expected at least 9",
            columns.len()
        )));
    }
    let hex = |i: usize| -> Result<u32, Error> {
        match columns.get(i) {
            None => Ok(0),
            Some(column) => u32::from_str_radix(column, 16).map_err(|_| {
                Error::msg(format!("/proc/net/softnet_stat: invalid column {column:?}"))
            }),
        }
    };
    // procfs parses the first nine columns, used or not.
    for i in 3..8 {
        hex(i)?;
    }
    // The last two columns only count together (Linux 5.14 added both).
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
        let stats = parse(old).unwrap();
        assert_eq!(stats[0].processed, 299641);
        assert_eq!((stats[0].cpu_collision, stats[0].flow_limit_count), (5, 3));
        assert_eq!(
            (stats[1].dropped, stats[1].time_squeezed, stats[1].cpu),
            (41, 10, 1)
        );
        assert_eq!(stats[1].received_rps, 0);
        let new = "00001b2b 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000007 00000003 00000000 00000000\n";
        let stats = parse(new).unwrap();
        assert_eq!(
            (stats[0].processed, stats[0].backlog_len, stats[0].cpu),
            (6955, 7, 3)
        );
    }

    #[test]
    fn short_or_invalid_lines_are_errors() {
        assert!(parse("1 2 3\n").is_err());
        assert!(parse("1 2 3 4 5 6 7 8 zz\n").is_err());
        assert!(parse("1 2 3 x 5 6 7 8 9\n").is_err());
    }
}
