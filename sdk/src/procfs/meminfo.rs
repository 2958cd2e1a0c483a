//! `/proc/meminfo`: every line, in file order, as the kernel prints it.
//!
//! `procfs-core`'s `Meminfo` has one field per line it knows, so lines added by newer kernels
//! (`KReclaimable`, `FileHugePages`, `Unaccepted`, …) would be lost; node_exporter 1.5.0 reports
//! every line, so this parser keeps them all.

use crate::Error;

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

/// Parses `/proc/meminfo`. Blank lines are skipped; a line that is not `Key: value [kB]` is an
/// error, as in node_exporter.
pub fn parse(text: &str) -> Result<Vec<MeminfoLine<'_>>, Error> {
    let mut lines = Vec::with_capacity(64);
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let bad = |why: &str| Error::msg(format!("/proc/meminfo: {why} in line {line:?}"));
        let (key, value, kb) = match (fields.next(), fields.next(), fields.next(), fields.next()) {
            (None, ..) => continue,
            (Some(key), Some(value), None, None) => (key, value, false),
            (Some(key), Some(value), Some("kB"), None) => (key, value, true),
            (Some(_), Some(_), Some(_), None) => return Err(bad("unit other than kB")),
            _ => return Err(bad("unexpected number of fields")),
        };
        lines.push(MeminfoLine {
            key: key.strip_suffix(':').unwrap_or(key),
            value: value.parse().map_err(|e| bad(&format!("{e}")))?,
            kb,
        });
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_line() {
        let lines = parse(
            "MemTotal:        3742148 kB\n\nActive(anon):    2020004 kB\n\
             KReclaimable:     123 kB\nHugePages_Total:       7\n",
        )
        .unwrap();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[1].key, "Active(anon)");
        assert_eq!(lines[0].scaled(), 3742148.0 * 1024.0);
        assert_eq!(lines[2].key, "KReclaimable");
        assert!(!lines[3].kb);
        assert_eq!(lines[3].scaled(), 7.0);
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert!(
            parse("MemTotal: 1 MB\n")
                .unwrap_err()
                .to_string()
                .contains("unit")
        );
        assert!(parse("MemTotal:\n").is_err());
        assert!(
            parse("MemTotal: x kB\n")
                .unwrap_err()
                .to_string()
                .contains("MemTotal")
        );
    }
}
