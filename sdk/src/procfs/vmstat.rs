//! `/proc/vmstat`: the kernel's virtual memory counters, one `name value` pair per line.

use crate::Error;

/// One `/proc/vmstat` line, e.g. `pgfault 2320168809`, borrowed from the file's text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VmstatField<'a> {
    /// The counter name, e.g. `pgfault`.
    pub name: &'a str,
    /// Its value, parsed as node_exporter does (`strconv.ParseFloat`).
    pub value: f64,
}

/// Parses `/proc/vmstat`, in file order. Blank lines are skipped; a line without a numeric value
/// is an error.
pub fn parse(text: &str) -> Result<Vec<VmstatField<'_>>, Error> {
    let mut fields = Vec::with_capacity(text.len() / 24);
    for line in text.lines() {
        let mut parts = line.split_ascii_whitespace();
        let Some(name) = parts.next() else { continue };
        let value = parts
            .next()
            .ok_or_else(|| Error::msg(format!("/proc/vmstat: no value in line {line:?}")))?;
        fields.push(VmstatField {
            name,
            value: value
                .parse()
                .map_err(|e| Error::msg(format!("/proc/vmstat: {name} {value:?}: {e}")))?,
        });
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_in_order() {
        let f = parse("nr_free_pages 57076\n\npgfault 2320168809\n").unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[1].name, "pgfault");
        assert_eq!(f[1].value, 2320168809.0);
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert!(
            parse("pgfault\n")
                .unwrap_err()
                .to_string()
                .contains("no value")
        );
        assert!(
            parse("pgfault x\n")
                .unwrap_err()
                .to_string()
                .contains("pgfault")
        );
    }
}
