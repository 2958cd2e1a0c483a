//! `/proc/net/stat/nf_conntrack`: netfilter connection tracking statistics, one line of hex
//! columns per CPU after a header. Columns are positional; kernels renamed some in their header
//! (`searched` became `clashres`, `delete_list` became `chainlength`) without moving them.

use sonde_sdk::Error;

/// One CPU's line of `/proc/net/stat/nf_conntrack` (columns 0–11 and 16).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConntrackStat {
    /// Column 0: entries in the table (the same on every line).
    pub entries: u64,
    /// Column 1: `searched` (`clashres` on newer kernels).
    pub searched: u64,
    /// Column 2: successful lookups.
    pub found: u64,
    /// Column 3: entries added (0 on newer kernels).
    pub new: u64,
    /// Column 4: packets that could not be tracked.
    pub invalid: u64,
    /// Column 5: packets that already had a conntrack entry.
    pub ignore: u64,
    /// Column 6: entries deleted (0 on newer kernels).
    pub delete: u64,
    /// Column 7: `delete_list` (`chainlength` on newer kernels).
    pub delete_list: u64,
    /// Column 8: entries inserted.
    pub insert: u64,
    /// Column 9: failed insertions.
    pub insert_failed: u64,
    /// Column 10: packets dropped because of a conntrack failure.
    pub drop: u64,
    /// Column 11: entries dropped to make room for new ones.
    pub early_drop: u64,
    /// Column 16 (Linux 2.6.35+, else 0): lookups restarted because of a hash resize.
    pub search_restart: u64,
}

/// Parses `/proc/net/stat/nf_conntrack`. Every column must be hex, and lines must have 16 or 17
/// columns.
pub fn parse(text: &str) -> Result<Vec<ConntrackStat>, Error> {
    text.lines().skip(1).map(parse_line).collect()
}

fn parse_line(line: &str) -> Result<ConntrackStat, Error> {
    let bad = |what: &str| {
        Error::msg(format!(
            "/proc/net/stat/nf_conntrack: {what} in line {line:?}"
        ))
    };
    let columns = line
        .split_whitespace()
        .map(|c| u64::from_str_radix(c, 16))
        .collect::<Result<Vec<u64>, _>>()
        .map_err(|_| bad("invalid column"))?;
    if !(16..=17).contains(&columns.len()) {
        return Err(bad(&format!("{} columns", columns.len())));
    }
    Ok(ConntrackStat {
        entries: columns[0],
        searched: columns[1],
        found: columns[2],
        new: columns[3],
        invalid: columns[4],
        ignore: columns[5],
        delete: columns[6],
        delete_list: columns[7],
        insert: columns[8],
        insert_failed: columns[9],
        drop: columns[10],
        early_drop: columns[11],
        search_restart: columns.get(16).copied().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_per_cpu_lines() {
        let text = "\
entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart
00000021  00000000 00000001 00000000 00000003 0000588a 00000000 00000000 00000002 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000004
00000021  00000000 00000000 00000000 00000002 000056a4 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000
";
        let stats = parse(text).unwrap();
        assert_eq!(stats.len(), 2);
        assert_eq!(
            (stats[0].entries, stats[0].found, stats[0].invalid),
            (33, 1, 3)
        );
        assert_eq!(
            (stats[0].ignore, stats[0].insert, stats[0].search_restart),
            (22666, 2, 4)
        );
        assert_eq!(stats[1].search_restart, 0);
    }

    #[test]
    fn bad_lines_are_errors() {
        assert!(parse("h\n1 2 3\n").is_err());
        assert!(parse(&format!("h\n{}\n", ["zz"; 17].join(" "))).is_err());
        assert!(parse("h\n").unwrap().is_empty());
    }
}
