//! Parsers of the cgroup v2 interface files, in the formats the kernel's cgroup-v2 documentation
//! names: single values (`memory.current`), limits (`memory.max`: a number or `max`), flat keyed
//! (`cpu.stat`: `key value` per line) and nested keyed (`io.stat`: `8:0 rbytes=1 wbytes=2`,
//! `cpu.pressure`: `some avg10=0.00 … total=3`).
//!
//! A line that does not have its format is left out and handed to `bad`, so the rest of the file
//! is still reported and the caller can say what it skipped.

/// A number of a single-value file (`memory.current`, `pids.current`).
pub fn single(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// A limit: `Some(None)` for `max` (no limit), `Some(Some(n))` for a number, `None` when the file
/// holds neither.
pub fn limit(text: &str) -> Option<Option<u64>> {
    match text.trim() {
        "max" => Some(None),
        value => value.parse().ok().map(Some),
    }
}

/// Calls `field(key, value)` for every `key value` line of a flat keyed file; other non-empty
/// lines go to `bad`.
pub fn flat_keyed<'t>(
    text: &'t str,
    mut field: impl FnMut(&'t str, u64),
    bad: &mut impl FnMut(&str),
) {
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = line.split_ascii_whitespace();
        match (
            words.next(),
            words.next().map(str::parse::<u64>),
            words.next(),
        ) {
            (Some(key), Some(Ok(value)), None) => field(key, value),
            _ => bad(line),
        }
    }
}

/// Calls `line(key, pairs)` for every line of a nested keyed file whose words after the first
/// are all `name=value`; other non-empty lines go to `bad`.
pub fn nested_keyed<'t>(
    text: &'t str,
    mut entry: impl FnMut(&'t str, &[(&'t str, &'t str)]),
    bad: &mut impl FnMut(&str),
) {
    let mut pairs = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = line.split_ascii_whitespace();
        let Some(key) = words.next() else { continue };
        pairs.clear();
        let mut ok = true;
        for word in words {
            match word.split_once('=') {
                Some((name, value)) if !name.is_empty() => pairs.push((name, value)),
                _ => ok = false,
            }
        }
        if ok {
            entry(key, &pairs);
        } else {
            bad(line);
        }
    }
}

/// The `total=` microseconds of the `some` and `full` lines of a pressure file
/// (`cpu.pressure`, `memory.pressure`, `io.pressure`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pressure {
    /// Time at least one task was stalled on the resource.
    pub some: Option<u64>,
    /// Time all non-idle tasks were stalled at once.
    pub full: Option<u64>,
}

/// Parses a pressure file; a `some` or `full` line without an integer `total=` goes to `bad`.
pub fn pressure(text: &str, bad: &mut impl FnMut(&str)) -> Pressure {
    let mut out = Pressure::default();
    let mut malformed = Vec::new();
    nested_keyed(
        text,
        |kind, pairs| {
            let total = pairs
                .iter()
                .find(|(name, _)| *name == "total")
                .and_then(|(_, value)| value.parse().ok());
            let slot = match kind {
                "some" => &mut out.some,
                "full" => &mut out.full,
                _ => return,
            };
            match total {
                Some(total) => *slot = Some(total),
                None => malformed.push(kind),
            }
        },
        bad,
    );
    for kind in malformed {
        bad(&format!("{kind} without an integer total"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_values_and_limits() {
        assert_eq!(single("4096\n"), Some(4096));
        assert_eq!(single("x\n"), None);
        assert_eq!(single(""), None);
        assert_eq!(limit("max\n"), Some(None));
        assert_eq!(limit("1073741824\n"), Some(Some(1 << 30)));
        assert_eq!(limit("-1\n"), None);
    }

    #[test]
    fn flat_keyed_lines_and_bad_ones() {
        let mut fields = Vec::new();
        let mut bad = Vec::new();
        flat_keyed(
            "usage_usec 10\nuser_usec x\n\nsystem_usec 3 4\nnr_periods 7\nlonely\n",
            |k, v| fields.push((k, v)),
            &mut |l: &str| bad.push(l.to_owned()),
        );
        assert_eq!(fields, [("usage_usec", 10), ("nr_periods", 7)]);
        assert_eq!(bad, ["user_usec x", "system_usec 3 4", "lonely"]);
    }

    #[test]
    fn nested_keyed_lines_and_bad_ones() {
        let mut lines = Vec::new();
        let mut bad = Vec::new();
        nested_keyed(
            "8:0 rbytes=1 wbytes=2\n259:0 rbytes\n253:1\n",
            |k, pairs| lines.push((k, pairs.to_vec())),
            &mut |l: &str| bad.push(l.to_owned()),
        );
        assert_eq!(
            lines,
            [
                ("8:0", vec![("rbytes", "1"), ("wbytes", "2")]),
                ("253:1", vec![])
            ]
        );
        assert_eq!(bad, ["259:0 rbytes"]);
    }

    #[test]
    fn pressure_totals() {
        let mut bad = Vec::new();
        let text = "some avg10=0.12 avg60=0.05 avg300=0.01 total=123456\n\
                    full avg10=0.00 avg60=0.00 avg300=0.00 total=789\n";
        let p = pressure(text, &mut |l: &str| bad.push(l.to_owned()));
        assert_eq!((p.some, p.full), (Some(123456), Some(789)));
        let p = pressure(
            "some avg10=0.00 total=x\nfull avg10=0.00 total=5\n",
            &mut |l: &str| bad.push(l.to_owned()),
        );
        assert_eq!((p.some, p.full), (None, Some(5)));
        assert_eq!(bad, ["some without an integer total"]);
    }
}
