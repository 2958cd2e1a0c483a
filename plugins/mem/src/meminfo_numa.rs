//! node_exporter's `meminfo_numa` collector: each NUMA node's `meminfo` (gauges, in bytes for
//! `kB` lines, no `_bytes` suffix) and `numastat` (counters, `_total`), from
//! `/sys/devices/system/node/node<N>/`.

use rustc_hash::{FxHashMap, FxHashSet};
use sonde_sdk::bundle::Part;
use sonde_sdk::names::DerivedNames;
use sonde_sdk::{Error, FsError, Host, MetricFamily, MetricKind, Root};

const NODES: &str = "devices/system/node";

/// The meminfo_numa part: the family names derived so far, by metric name.
#[derive(Default)]
pub struct MeminfoNuma {
    names: DerivedNames,
}

/// One value: its metric name (after `node_memory_numa_`), type, node label and value.
struct Value<'a> {
    name: String,
    kind: MetricKind,
    node: &'a str,
    value: f64,
}

impl Part for MeminfoNuma {
    /// Appends `node_memory_numa_<field>{node}` for every line of every node's files, which are
    /// all read in one host call after one listing; a kernel without NUMA (no
    /// `/sys/devices/system/node`) gets nothing. A malformed line, or a node without one of its
    /// files, is left out and fails the part after the rest is reported (node_exporter reports
    /// nothing then).
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let entries = match host.read_dir(Root::Sys, NODES) {
            Ok(entries) => entries,
            Err(FsError::NotFound) => return Ok(()),
            Err(e) => return Err(Error::from(e).context(format!("reading /sys/{NODES}"))),
        };
        // node_exporter's glob `node[0-9]*`; the numastat label is the digits after `node`.
        let nodes: Vec<(&str, &str)> = entries
            .iter()
            .filter_map(|entry| {
                let rest = entry.name.strip_prefix("node")?;
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                (digits > 0).then(|| (entry.name.as_str(), &rest[..digits]))
            })
            .collect();
        if nodes.is_empty() {
            return Ok(());
        }
        let paths: Vec<String> = nodes
            .iter()
            .flat_map(|(dir, _)| {
                [
                    format!("{NODES}/{dir}/meminfo"),
                    format!("{NODES}/{dir}/numastat"),
                ]
            })
            .collect();
        let texts: Vec<Result<String, FsError>> = host
            .read_many(Root::Sys, &paths)
            .into_iter()
            .map(|read| read.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
            .collect();
        let mut values = Vec::new();
        let mut failures: Vec<String> = Vec::new();
        for (i, (_, number)) in nodes.iter().enumerate() {
            let (meminfo, numastat) = (&texts[2 * i], &texts[2 * i + 1]);
            let parsed = [
                (
                    &paths[2 * i],
                    meminfo.as_ref().map(|t| parse_meminfo(t, &mut values)),
                ),
                (
                    &paths[2 * i + 1],
                    numastat
                        .as_ref()
                        .map(|t| parse_numastat(t, number, &mut values)),
                ),
            ];
            for (path, result) in parsed {
                match result {
                    Ok(Ok(())) => {}
                    Ok(Err(problem)) => failures.push(format!("/sys/{path}: {problem}")),
                    Err(e) => failures.push(format!("/sys/{path}: {e}")),
                }
            }
        }
        let mut index: FxHashMap<String, usize> = FxHashMap::default();
        let mut seen: FxHashSet<(usize, &str)> = FxHashSet::default();
        let mut families: Vec<MetricFamily> = Vec::new();
        for value in values {
            let at = match index.get(&value.name) {
                Some(&at) => at,
                None => {
                    let Some(name) = self.names.get(&value.name, |field| {
                        crate::field_family(
                            host,
                            "meminfo_numa",
                            format!("node_memory_numa_{field}"),
                            format!("Memory information field {field}."),
                        )
                    }) else {
                        continue;
                    };
                    families.push(MetricFamily::new(
                        name.name.clone(),
                        name.help.clone(),
                        value.kind,
                    ));
                    index.insert(value.name, families.len() - 1);
                    families.len() - 1
                }
            };
            // A field printed twice for a node is reported once (client_golang drops the
            // repeated series); so is a numastat field that a meminfo line already gave.
            if families[at].kind == value.kind && seen.insert((at, value.node)) {
                families[at].sample(&[("node", value.node)], value.value);
            }
        }
        out.extend(families);
        match failures.len() {
            0 => Ok(()),
            1 => Err(Error::msg(failures.remove(0))),
            n => Err(Error::msg(format!(
                "{} (and {} more problems)",
                failures[0],
                n - 1
            ))),
        }
    }
}

/// A node's `meminfo`: `Node 0 Active(anon):  123 kB` lines, the node label taken from the line
/// (as node_exporter does). Every good line is kept; the first bad one is the error.
fn parse_meminfo<'a>(text: &'a str, values: &mut Vec<Value<'a>>) -> Result<(), String> {
    let mut problem = None;
    for (number, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let parsed = match (fields.len(), fields.get(3).map(|v| v.parse::<f64>())) {
            (4, Some(Ok(v))) => Ok(v),
            (5, Some(Ok(v))) if fields[4] == "kB" => Ok(v * 1024.0),
            (_, Some(Err(e))) if fields.len() <= 5 => Err(format!("invalid value: {e}")),
            _ => Err("unexpected number of fields".to_owned()),
        };
        match parsed {
            Ok(value) => values.push(Value {
                name: crate::meminfo::go_name(fields[2].trim_end_matches(':')),
                kind: MetricKind::Gauge,
                node: fields[1],
                value,
            }),
            Err(why) => {
                problem
                    .get_or_insert_with(|| format!("line {}: {why} in line {line:?}", number + 1));
            }
        }
    }
    problem.map_or(Ok(()), Err)
}

/// A node's `numastat`: `numa_hit 193460335812` lines, counters named `<key>_total`.
fn parse_numastat<'a>(
    text: &'a str,
    node: &'a str,
    values: &mut Vec<Value<'a>>,
) -> Result<(), String> {
    let mut problem = None;
    for (number, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let parsed = match fields[..] {
            [] => continue,
            [key, value] => value
                .parse::<f64>()
                .map(|v| (key, v))
                .map_err(|e| format!("invalid value: {e}")),
            _ => Err(format!("{} fields, expected 2", fields.len())),
        };
        match parsed {
            Ok((key, value)) => values.push(Value {
                name: format!("{key}_total"),
                kind: MetricKind::Counter,
                node,
                value,
            }),
            Err(why) => {
                problem
                    .get_or_insert_with(|| format!("line {}: {why} in line {line:?}", number + 1));
            }
        }
    }
    problem.map_or(Ok(()), Err)
}
