//! node_exporter's `softirqs` collector: `node_softirqs_functions_total{cpu,type}` from
//! `/proc/softirqs`, for the ten softirq types procfs knows (others are ignored, as there).
//! `cpu` is the column's position.

use sonde_procfs::Skipped;
use sonde_sdk::bundle::{Part, read_optional};
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// The types node_exporter reports, as `/proc/softirqs` names them.
const TYPES: [&str; 10] = [
    "HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU",
];

/// The softirqs part.
pub struct Softirqs;

/// One known type's row: its name and one count per CPU column.
pub type Row = (&'static str, Vec<u64>);

/// The known types' rows: type and one count per CPU column. A row with a count that is not a
/// number is left out (procfs fails the whole file); a type seen twice keeps its last row.
pub fn parse(text: &str) -> Result<(Vec<Row>, Skipped), Error> {
    let mut lines = text.lines();
    if lines.next().is_none() {
        return Err(Error::msg("/proc/softirqs: empty"));
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut skipped = Skipped::default();
    for (index, line) in lines.enumerate() {
        let mut fields = line.split_whitespace();
        let Some(kind) = fields
            .next()
            .and_then(|f| f.strip_suffix(':'))
            .and_then(|f| TYPES.iter().find(|t| **t == f))
        else {
            continue;
        };
        let counts: Result<Vec<u64>, _> = fields.map(str::parse::<u64>).collect();
        match counts {
            Ok(counts) if counts.is_empty() => {}
            Ok(counts) => match rows.iter_mut().find(|(k, _)| k == kind) {
                Some(row) => row.1 = counts,
                None => rows.push((kind, counts)),
            },
            Err(e) => skipped.line(index + 2, format!("{e} in line {line:?}")),
        }
    }
    Ok((rows, skipped))
}

impl Part for Softirqs {
    /// Nothing on a kernel without `/proc/softirqs`.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(text) = read_optional(host, Root::Proc, "softirqs")? else {
            return Ok(());
        };
        let (rows, skipped) = parse(&text)?;
        let mut family =
            MetricFamily::counter("node_softirqs_functions_total", "Softirq counts per CPU.");
        for (kind, counts) in &rows {
            for (cpu, count) in counts.iter().enumerate() {
                family.sample(&[("cpu", &cpu.to_string()), ("type", kind)], *count as f64);
            }
        }
        out.push(family);
        skipped.result("/proc/softirqs", !rows.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_types_only() {
        let (rows, skipped) =
            parse("   CPU0 CPU1\n  HI: 7 1\n  TIMER: 4 x\n  NEW: 1 2\n  RCU: 5\n  NET_RX:\n")
                .unwrap();
        assert_eq!(rows, [("HI", vec![7, 1]), ("RCU", vec![5])]);
        assert_eq!(skipped.count(), 1);
        assert!(parse("").is_err());
    }
}
