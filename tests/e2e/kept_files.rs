//! Kept files against the real kernel, through a built-in plugin: what it reads every cycle is
//! kept open within its `keep_open_files`, and its output is the same series either way.

use crate::support::runtime;
use sonde::sandbox::grants::Grants;
use sonde::wasm::plugin::{Limits, Plugin};
use std::collections::BTreeSet;
use std::path::Path;

/// The series (names and labels, not values) of three collections of the net plugin over the
/// real `/proc` and `/sys` with at most `kept_files` kept, and how many it kept.
fn net_with(kept_files: usize) -> (BTreeSet<String>, usize) {
    let rt = runtime(Path::new("/proc"));
    let wasm = sonde::wasm::builtin::builtin("net").unwrap();
    let component = wasmtime::component::Component::new(rt.engine(), &wasm).unwrap();
    let limits = Limits {
        kept_files,
        ..Limits::default()
    };
    let mut plugin =
        Plugin::from_component(&rt, "net", &component, Grants::default(), limits).unwrap();
    plugin.set_grants(Grants::new(plugin.info().needs.iter().copied()));
    let mut series = BTreeSet::new();
    for _ in 0..3 {
        series.clear();
        for family in plugin.collect("{}").unwrap() {
            for sample in &family.samples {
                series.insert(format!("{}{:?}", family.name, sample.labels));
            }
        }
    }
    (series, plugin.counters().kept_files)
}

#[test]
fn a_plugin_keeps_what_it_reads_within_its_limit_with_the_same_series() {
    if !Path::new("/sys/class/net").exists() {
        return; // no sysfs here
    }
    let (fresh, none_kept) = net_with(0);
    let (kept_series, kept) = net_with(256);
    let (_, few) = net_with(5);
    assert_eq!(none_kept, 0);
    assert!(kept > 10, "the net plugin kept {kept} files");
    assert_eq!(few, 5);
    // Interfaces may come and go between the runs on a busy host; the families do not.
    let families = |s: &BTreeSet<String>| -> BTreeSet<String> {
        s.iter()
            .map(|k| k.split('[').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(families(&kept_series), families(&fresh));
    assert!(kept_series.len().abs_diff(fresh.len()) <= fresh.len() / 10);
}
