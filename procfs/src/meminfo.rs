//! `/proc/meminfo`: every line, in file order, as the kernel prints it.
//!
//! `procfs-core`'s `Meminfo` has one field per line it knows, so lines added by newer kernels
//! (`KReclaimable`, `FileHugePages`, `Unaccepted`, …) would be lost; node_exporter 1.5.0 reports
//! every line, so this parser keeps them all.

use super::{Skipped, quoted};

/// One line of `/proc/meminfo`, e.g. `Active(anon):    2020004 kB`, borrowed from the file's
/// text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeminfoLine<'a> {
    /// The field name without the colon, e.g. `Active(anon)` or `HugePages_Total`.
    pub key: &'a str,
    /// The number as printed (kibibytes when `kb` is true, else a count).
    pub value: u64,
    /// The line has the `kB` unit; lines without a unit (`HugePages_*`) are counts.
    pub kb: bool,
}

impl MeminfoLine<'_> {
    /// The value in bytes for `kB` lines, else the plain count.
    pub fn scaled(&self) -> f64 {
        if self.kb {
            self.value as f64 * 1024.0
        } else {
            self.value as f64
        }
    }
}

/// Parses `/proc/meminfo`. Blank lines are ignored; a line that is not `Key: value [kB]` is
/// skipped (node_exporter fails the whole file on it).
pub fn parse(text: &str) -> (Vec<MeminfoLine<'_>>, Skipped) {
    let mut lines = Vec::with_capacity(64);
    let mut skipped = Skipped::default();
    for (index, line) in text.lines().enumerate() {
        match parse_line(line) {
            Ok(Some(parsed)) => lines.push(parsed),
            Ok(None) => {}
            Err(why) => skipped.line(index + 1, format!("{why} in line {}", quoted(line))),
        }
    }
    (lines, skipped)
}

/// One line; `None` when it is blank.
fn parse_line(line: &str) -> Result<Option<MeminfoLine<'_>>, String> {
    let mut fields = line.split_ascii_whitespace();
    let (key, value, kb) = match (fields.next(), fields.next(), fields.next(), fields.next()) {
        (None, ..) => return Ok(None),
        (Some(key), Some(value), None, None) => (key, value, false),
        (Some(key), Some(value), Some("kB"), None) => (key, value, true),
        (Some(_), Some(_), Some(_), None) => return Err("unit other than kB".to_owned()),
        _ => return Err("unexpected number of fields".to_owned()),
    };
    let key = key
        .strip_suffix(':')
        .ok_or_else(|| "no colon after the key".to_owned())?;
    Ok(Some(MeminfoLine {
        key,
        value: value.parse().map_err(|e| format!("{e}"))?,
        kb,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_line() {
        let (lines, skipped) = parse(
            "MemTotal:        3742148 kB\n\nActive(anon):    2020004 kB\n\
             KReclaimable:     123 kB\nHugePages_Total:       7\n",
        );
        assert!(skipped.is_empty());
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[1].key, "Active(anon)");
        assert_eq!(lines[0].scaled(), 3742148.0 * 1024.0);
        assert_eq!(lines[2].key, "KReclaimable");
        assert!(!lines[3].kb);
        assert_eq!(lines[3].scaled(), 7.0);
    }

    /// The error of a file of one malformed line.
    fn error(text: &str) -> String {
        let (lines, skipped) = parse(text);
        assert!(lines.is_empty());
        skipped
            .result("/proc/meminfo", false)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert!(error("MemTotal: 1 MB\n").contains("unit"));
        assert!(error("MemTotal:\n").contains("number of fields"));
        assert!(error("MemTotal: x kB\n").contains("MemTotal"));
        assert!(error("MemTotal 1 kB\n").contains("no colon"));
    }

    #[test]
    fn a_malformed_line_is_skipped_the_others_kept() {
        let (lines, skipped) = parse("MemTotal: 1 kB\nFoo: x kB\nMemFree: 2 kB\n");
        let keys: Vec<&str> = lines.iter().map(|l| l.key).collect();
        assert_eq!(keys, ["MemTotal", "MemFree"]);
        assert_eq!(
            skipped
                .result("/proc/meminfo", true)
                .unwrap_err()
                .to_string(),
            "/proc/meminfo: 1 malformed line skipped: line 2: invalid digit found in string in \
             line \"Foo: x kB\""
        );
    }
}
