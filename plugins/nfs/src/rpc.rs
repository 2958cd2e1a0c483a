//! The format `/proc/net/rpc/nfs` and `/proc/net/rpc/nfsd` share: one line per section, a key
//! and its integer columns (`net 70 70 69 45`, `proc3 22 0 1061909262 …`).
//!
//! node_exporter's procfs fails the whole file on a line it does not know or cannot parse. Here
//! a line whose key neither collector reads is ignored (a newer kernel's addition), and a
//! malformed line of a known section leaves that section's series out and fails the part after
//! the others were reported. A section that is absent reads as zeros, as in node_exporter
//! (whose structs default to 0): e.g. `proc2` on kernels built without NFSv2.

use sonde_procfs::Skipped;
use std::collections::HashMap;

/// A parsed file: each section's fields (the last line of a key wins, as in procfs), parsed to
/// integers when a collector asks for the section.
pub struct RpcFile<'a> {
    sections: HashMap<&'a str, (usize, Vec<&'a str>)>,
    /// The lines left out so far.
    pub skipped: Skipped,
}

/// A section's columns; reading past its end gives 0 (a section that is absent has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Values(pub Vec<u64>);

impl Values {
    /// Column `i`, or 0 past the end.
    pub fn at(&self, i: usize) -> u64 {
        self.0.get(i).copied().unwrap_or(0)
    }
}

impl<'a> RpcFile<'a> {
    /// Splits `text` into sections. A line with a key but no value is skipped.
    pub fn parse(text: &'a str) -> Self {
        let mut sections = HashMap::new();
        let mut skipped = Skipped::default();
        for (index, line) in text.lines().enumerate() {
            let mut fields = line.split_whitespace();
            // A blank line carries nothing (procfs refuses one; the kernel writes none).
            let Some(key) = fields.next() else {
                continue;
            };
            let values: Vec<&str> = fields.collect();
            if values.is_empty() {
                skipped.line(index + 1, format!("no values in line {line:?}"));
                continue;
            }
            sections.insert(key, (index + 1, values));
        }
        RpcFile { sections, skipped }
    }

    /// The section `key`: its first `columns` fields (all when `None`) as integers, checked by
    /// `check` (a problem's description, or `None` when the shape is right). An absent section is
    /// empty (zeros); a malformed one is `None`, recorded in [`RpcFile::skipped`].
    pub fn section(
        &mut self,
        key: &str,
        columns: Option<usize>,
        check: impl FnOnce(&[u64]) -> Option<String>,
    ) -> Option<Values> {
        let Some((line, fields)) = self.sections.get(key) else {
            return Some(Values(Vec::new()));
        };
        let fields = match columns {
            Some(n) if fields.len() < n => {
                self.skipped.line(
                    *line,
                    format!("{key}: {} columns, expected {n}", fields.len()),
                );
                return None;
            }
            Some(n) => &fields[..n],
            None => &fields[..],
        };
        let mut values = Vec::with_capacity(fields.len());
        for field in fields {
            match field.parse::<u64>() {
                Ok(v) => values.push(v),
                Err(_) => {
                    self.skipped
                        .line(*line, format!("{key}: invalid integer {field:?}"));
                    return None;
                }
            }
        }
        if let Some(problem) = check(&values) {
            self.skipped.line(*line, format!("{key}: {problem}"));
            return None;
        }
        Some(Values(values))
    }
}

/// A check for a section of exactly `n` columns.
pub fn exactly(n: usize) -> impl FnOnce(&[u64]) -> Option<String> {
    move |v| (v.len() != n).then(|| format!("{} columns, expected {n}", v.len()))
}

/// A check for a `procN` section: its first column counts the others, and there are at least
/// `min` of them (`exact`: exactly `min`).
pub fn counted(min: usize, exact: bool) -> impl FnOnce(&[u64]) -> Option<String> {
    move |v| {
        let count = v[0];
        let rest = v.len() - 1;
        if count != rest as u64 {
            Some(format!("count {count} but {rest} values"))
        } else if rest < min || (exact && rest != min) {
            Some(format!(
                "{rest} values, expected {}{min}",
                if exact { "" } else { "at least " }
            ))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_absent_read_as_zeros_malformed_ones_are_skipped() {
        let mut file = RpcFile::parse("net 1 2 3 4\nrpc 1 x 3\nproc2 3 1 2\nfuture a b\nlonely\n");
        assert_eq!(
            file.section("net", None, exactly(4)),
            Some(Values(vec![1, 2, 3, 4]))
        );
        assert_eq!(file.section("rpc", None, exactly(3)), None);
        assert_eq!(file.section("proc2", None, counted(18, false)), None);
        assert_eq!(
            file.section("proc3", None, counted(22, false))
                .unwrap()
                .at(5),
            0
        );
        let err = file.skipped.result("/proc/net/rpc/nfs", true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/proc/net/rpc/nfs: 3 malformed lines skipped, first line 5: no values in line \"lonely\""
        );
    }

    #[test]
    fn counted_sections_check_their_count() {
        assert_eq!(counted(2, true)(&[2, 5, 6]), None);
        assert!(counted(2, true)(&[3, 5, 6, 7]).is_some());
        assert!(counted(2, false)(&[3, 5, 6]).is_some());
        assert_eq!(counted(2, false)(&[3, 5, 6, 7]), None);
        assert!(counted(2, false)(&[1, 5]).is_some());
    }
}
