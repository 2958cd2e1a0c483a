//! `/proc/swaps`: the active swap areas, one line each under a header:
//! `Filename  Type  Size  Used  Priority`.
//!
//! The kernel prints a path with space, tab, newline and backslash as octal escapes (`\040`,
//! `\011`, `\012`, `\134`); like procfs (and so node_exporter), the parser keeps the name as
//! printed.

use super::{Skipped, quoted};

/// One swap area, borrowed from the file's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Swap<'a> {
    /// The file or partition, as printed (escapes kept).
    pub filename: &'a str,
    /// `partition` or `file`.
    pub kind: &'a str,
    /// Size in KiB.
    pub size_kib: i64,
    /// Used in KiB.
    pub used_kib: i64,
    /// Priority (negative for areas added without one).
    pub priority: i64,
}

/// Parses `/proc/swaps`. The first line (the header) is skipped, as are blank lines; a line with
/// fewer than 5 fields or a number that does not parse is skipped (procfs fails the whole file
/// on it).
pub fn parse(text: &str) -> (Vec<Swap<'_>>, Skipped) {
    let mut swaps = Vec::new();
    let mut skipped = Skipped::default();
    for (index, line) in text.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() < 5 {
            skipped.line(
                index + 1,
                format!(
                    "{} fields, expected 5 in line {}",
                    fields.len(),
                    quoted(line)
                ),
            );
            continue;
        }
        let number = |i: usize, what: &str| {
            fields[i]
                .parse::<i64>()
                .map_err(|e| format!("{what} {:?}: {e} in line {}", fields[i], quoted(line)))
        };
        match (number(2, "size"), number(3, "used"), number(4, "priority")) {
            (Ok(size_kib), Ok(used_kib), Ok(priority)) => swaps.push(Swap {
                filename: fields[0],
                kind: fields[1],
                size_kib,
                used_kib,
                priority,
            }),
            (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => skipped.line(index + 1, e),
        }
    }
    (swaps, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_areas_after_the_header() {
        let (swaps, skipped) = parse(
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
             /dev/zram0                              partition\t8388604\t\t76\t\t100\n\
             /swap\\040file file 1024 0 -2\n",
        );
        assert!(skipped.is_empty());
        assert_eq!(swaps.len(), 2);
        assert_eq!(swaps[0].filename, "/dev/zram0");
        assert_eq!(
            (swaps[0].size_kib, swaps[0].used_kib, swaps[0].priority),
            (8388604, 76, 100)
        );
        assert_eq!(
            (swaps[1].filename, swaps[1].kind, swaps[1].priority),
            ("/swap\\040file", "file", -2)
        );
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let (swaps, skipped) = parse("header\n/a file 1 2\n/b file x 0 1\n/c file 1 0 1\n");
        assert_eq!(swaps.len(), 1);
        assert_eq!(skipped.count(), 2);
        assert_eq!(parse("").0.len(), 0);
    }
}
