//! `/proc/vmstat`: the kernel's virtual memory counters, one `name value` pair per line.

use super::{Skipped, quoted};

/// One `/proc/vmstat` line, e.g. `pgfault 2320168809`, borrowed from the file's text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VmstatField<'a> {
    /// The counter name, e.g. `pgfault`.
    pub name: &'a str,
    /// Its value, parsed as node_exporter does (`strconv.ParseFloat`).
    pub value: f64,
}

/// Parses `/proc/vmstat`, in file order. Blank lines are ignored; a line without a numeric value
/// is skipped (node_exporter stops at it, keeping the fields before).
pub fn parse(text: &str) -> (Vec<VmstatField<'_>>, Skipped) {
    let mut fields = Vec::with_capacity(text.len() / 24);
    let mut skipped = Skipped::default();
    for (index, line) in text.lines().enumerate() {
        let mut parts = line.split_ascii_whitespace();
        let Some(name) = parts.next() else { continue };
        match parts.next().map(str::parse) {
            Some(Ok(value)) => fields.push(VmstatField { name, value }),
            Some(Err(e)) => skipped.line(index + 1, format!("{e} in line {}", quoted(line))),
            None => skipped.line(index + 1, format!("no value in line {}", quoted(line))),
        }
    }
    (fields, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_in_order() {
        let (f, skipped) = parse("nr_free_pages 57076\n\npgfault 2320168809\n");
        assert!(skipped.is_empty());
        assert_eq!(f.len(), 2);
        assert_eq!(f[1].name, "pgfault");
        assert_eq!(f[1].value, 2320168809.0);
    }

    #[test]
    fn malformed_lines_are_errors() {
        let error = |text| {
            parse(text)
                .1
                .result("/proc/vmstat", false)
                .unwrap_err()
                .to_string()
        };
        assert!(error("pgfault\n").contains("no value"));
        assert!(error("pgfault x\n").contains("pgfault"));
        let (f, skipped) = parse("pgfault 1\npgmajfault x\npswpin 3\n");
        assert_eq!((f.len(), f[1].name, skipped.count()), (2, "pswpin", 1));
    }
}
