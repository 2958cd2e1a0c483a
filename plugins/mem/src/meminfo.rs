//! node_exporter's `meminfo` collector: one gauge per line of `/proc/meminfo`.
//!
//! node_exporter 1.5.0 reported every line; since 1.9 it reports a fixed list, which is a subset
//! of those. Reporting every line gives the series of both (and of kernels newer than either).

use rustc_hash::FxHashMap;
use sonde_procfs::meminfo::{self, MeminfoLine};
use sonde_sdk::bundle::{Part, read_optional};
use sonde_sdk::names::DerivedNames;
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// The meminfo part: the names derived so far, by line key; a `kB` line's key is marked with a
/// trailing space (a key never has one), since its name gets `_bytes`.
#[derive(Default)]
pub struct Meminfo {
    names: DerivedNames,
}

impl Part for Meminfo {
    /// Appends `node_memory_<field>` for every line of `/proc/meminfo`; malformed lines are left
    /// out and fail the part.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        collect(host, &self.names, out)
    }
}

fn collect(host: &Host, names: &DerivedNames, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let Some(text) = read_optional(host, Root::Proc, "meminfo")? else {
        return Ok(());
    };
    // A field printed twice is reported once, with its last value (node_exporter keeps a map).
    let mut index: FxHashMap<&str, usize> = FxHashMap::default();
    let mut key = String::new();
    let (lines, skipped) = meminfo::parse(&text);
    let kept = !lines.is_empty();
    for line in lines {
        key.clear();
        key.push_str(line.key);
        if line.kb {
            key.push(' ');
        }
        let name = names.get(&key, |_| {
            let field = field_name(&line);
            crate::field_family(
                host,
                "meminfo",
                format!("node_memory_{field}"),
                format!("Memory information field {field}."),
            )
        });
        let Some(name) = name else { continue };
        if let Some(&at) = index.get(line.key) {
            out[at].samples[0].value = line.scaled();
            continue;
        }
        let family = if name.name.ends_with("_total") {
            MetricFamily::counter(name.name.clone(), name.help.clone())
        } else {
            MetricFamily::gauge(name.name.clone(), name.help.clone())
        };
        index.insert(line.key, out.len());
        out.push(family.with_value(line.scaled()));
    }
    skipped.result("/proc/meminfo", kept)
}

/// node_exporter's name for a line: `Active(anon)` → `Active_anon`, plus `_bytes` for `kB` lines.
fn field_name(line: &MeminfoLine) -> String {
    let mut name = go_name(line.key);
    if line.kb {
        name.push_str("_bytes");
    }
    name
}

/// node_exporter's name for a key, `Active(anon)` → `Active_anon`: Go's regexp `\((.*)\)`
/// replaced by `_${1}`, from the first `(` to the last `)`.
pub(crate) fn go_name(key: &str) -> String {
    match (key.find('('), key.rfind(')')) {
        (Some(open), Some(close)) if open < close => {
            format!(
                "{}_{}{}",
                &key[..open],
                &key[open + 1..close],
                &key[close + 1..]
            )
        }
        _ => key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(key: &str, kb: bool) -> String {
        field_name(&MeminfoLine { key, value: 0, kb })
    }

    #[test]
    fn names_as_node_exporter() {
        assert_eq!(name("Active(anon)", true), "Active_anon_bytes");
        assert_eq!(name("HugePages_Total", false), "HugePages_Total");
        assert_eq!(name("A(b)c(d)", false), "A_b)c(d");
        assert_eq!(name("Odd)(", true), "Odd)(_bytes");
    }
}
