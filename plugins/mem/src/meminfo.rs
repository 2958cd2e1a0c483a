//! node_exporter's `meminfo` collector: one gauge per line of `/proc/meminfo`.
//!
//! node_exporter 1.5.0 reported every line; since 1.9 it reports a fixed list, which is a subset
//! of those. Reporting every line gives the series of both (and of kernels newer than either).

use sonde_sdk::bundle::read_optional;
use sonde_sdk::metrics::is_valid_metric_name;
use sonde_sdk::procfs::meminfo::{self, MeminfoLine};
use sonde_sdk::{Error, Host, Level, MetricFamily, Root};
use std::collections::BTreeMap;

/// Appends `node_memory_<field>` for every line of `/proc/meminfo`.
pub fn collect(host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let Some(text) = read_optional(host, Root::Proc, "meminfo")? else {
        return Ok(());
    };
    // A field printed twice is reported once, with its last value (node_exporter keeps a map).
    let mut fields = BTreeMap::new();
    for line in meminfo::parse(&text)? {
        fields.insert(field_name(&line), line.scaled());
    }
    for (field, value) in fields {
        let name = format!("node_memory_{field}");
        if !is_valid_metric_name(&name) {
            host.log(Level::Warn, &format!("meminfo: skipping field {field:?}"));
            continue;
        }
        let help = format!("Memory information field {field}.");
        let family = if field.ends_with("_total") {
            MetricFamily::counter(name, help)
        } else {
            MetricFamily::gauge(name, help)
        };
        out.push(family.with_value(value));
    }
    Ok(())
}

/// node_exporter's name for a line: `Active(anon)` → `Active_anon`, plus `_bytes` for `kB` lines.
fn field_name(line: &MeminfoLine) -> String {
    let key = &line.key;
    // Go's regexp `\((.*)\)` replaced by `_${1}`: from the first `(` to the last `)`.
    let mut name = match (key.find('('), key.rfind(')')) {
        (Some(open), Some(close)) if open < close => {
            format!(
                "{}_{}{}",
                &key[..open],
                &key[open + 1..close],
                &key[close + 1..]
            )
        }
        _ => key.clone(),
    };
    if line.kb {
        name.push_str("_bytes");
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(key: &str, kb: bool) -> String {
        field_name(&MeminfoLine {
            key: key.to_owned(),
            value: 0,
            kb,
        })
    }

    #[test]
    fn names_as_node_exporter() {
        assert_eq!(name("Active(anon)", true), "Active_anon_bytes");
        assert_eq!(name("HugePages_Total", false), "HugePages_Total");
        assert_eq!(name("A(b)c(d)", false), "A_b)c(d");
        assert_eq!(name("Odd)(", true), "Odd)(_bytes");
    }
}
