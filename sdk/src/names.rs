//! Family names and HELP texts derived from the field names a kernel file prints
//! (`pgfault` → `node_vmstat_pgfault`), built once per field and reused every cycle.
//!
//! A collector keeps its [`DerivedNames`] in its own struct: the host keeps a plugin's instance,
//! and so its collector, between cycles, and the fields of `/proc/vmstat`, `/proc/meminfo` or
//! `/proc/net/snmp` are the same every time: formatting and checking a few hundred names per
//! cycle was a large share of a collector's work.
//!
//! ```
//! use sonde_sdk::names::{DerivedNames, FamilyName};
//!
//! /// A collector's state, kept while its instance lives.
//! #[derive(Default)]
//! struct Vmstat {
//!     names: DerivedNames,
//! }
//!
//! let vmstat = Vmstat::default();
//! let name = vmstat.names.get("pgfault", |field| {
//!     FamilyName::checked(
//!         format!("node_vmstat_{field}"),
//!         format!("/proc/vmstat information field {field}."),
//!     )
//! });
//! assert_eq!(name.unwrap().name, "node_vmstat_pgfault");
//! ```

use crate::metrics::is_valid_metric_name;
use crate::{Host, Level};
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::rc::Rc;

/// How many fields a [`DerivedNames`] remembers before it starts over.
const FIELDS_KEPT: usize = 16_384;

/// A family's name and HELP text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyName {
    /// The metric name, e.g. `node_vmstat_pgfault`.
    pub name: String,
    /// The HELP text.
    pub help: String,
}

impl FamilyName {
    /// The pair, or `None` when `name` is not a valid Prometheus metric name (a field with
    /// characters a metric name cannot have).
    pub fn checked(name: String, help: String) -> Option<FamilyName> {
        is_valid_metric_name(&name).then_some(FamilyName { name, help })
    }
}

/// True when `name` is a valid metric name; otherwise logs `part: skipping invalid metric name
/// "name"` through `host`, so a kernel field that makes no valid name is skipped, not fatal.
pub fn valid_or_logged(host: &Host, part: &str, name: &str) -> bool {
    let valid = is_valid_metric_name(name);
    if !valid {
        host.log(
            Level::Warn,
            &format!("{part}: skipping invalid metric name {name:?}"),
        );
    }
    valid
}

/// Remembers, per field, the [`FamilyName`] derived from it (or that none could be).
#[derive(Debug, Default)]
pub struct DerivedNames {
    fields: RefCell<FxHashMap<String, Option<Rc<FamilyName>>>>,
}

impl DerivedNames {
    /// The name derived from `field`: `derive(field)` the first time, the remembered answer
    /// after that.
    pub fn get(
        &self,
        field: &str,
        derive: impl FnOnce(&str) -> Option<FamilyName>,
    ) -> Option<Rc<FamilyName>> {
        if let Some(known) = self.fields.borrow().get(field) {
            return known.clone();
        }
        let derived = derive(field).map(Rc::new);
        let mut fields = self.fields.borrow_mut();
        if fields.len() >= FIELDS_KEPT {
            fields.clear();
        }
        fields.insert(field.to_owned(), derived.clone());
        derived
    }
}

/// node_exporter's `SanitizeMetricName`: every match of `_*[^0-9A-Za-z_]+_*` becomes one `_`
/// (`fs.file-nr` → `fs_file_nr`), for names node_exporter derives from what a kernel prints
/// (sysctl names, bcachefs counters, RAPL zones).
pub fn sanitize_metric_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < chars.len() {
        let mut j = i;
        while j < chars.len() && chars[j] == '_' {
            j += 1;
        }
        let mut k = j;
        while k < chars.len() && !valid(chars[k]) {
            k += 1;
        }
        if k == j {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        while k < chars.len() && chars[k] == '_' {
            k += 1;
        }
        out.push('_');
        i = k;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_metric_names_as_node_exporter() {
        assert_eq!(sanitize_metric_name("fs.file-nr"), "fs_file_nr");
        assert_eq!(
            sanitize_metric_name("kernel.threads-max"),
            "kernel_threads_max"
        );
        assert_eq!(sanitize_metric_name("a_-_-_b"), "a__b");
        assert_eq!(sanitize_metric_name("a__b"), "a__b");
        assert_eq!(sanitize_metric_name("x._y"), "x_y");
        assert_eq!(sanitize_metric_name("a__-.__b"), "a_b");
        assert_eq!(sanitize_metric_name("__a"), "__a");
        assert_eq!(sanitize_metric_name("a\"\n\\b\u{e9}"), "a_b_");
        assert_eq!(sanitize_metric_name("é"), "_");
    }

    #[test]
    fn derives_once_per_field_and_remembers_invalid_names() {
        let names = DerivedNames::default();
        let calls = std::cell::Cell::new(0);
        let get = |field: &str| {
            names.get(field, |f| {
                calls.set(calls.get() + 1);
                FamilyName::checked(format!("node_x_{f}"), format!("Field {f}."))
            })
        };
        assert_eq!(get("a").unwrap().help, "Field a.");
        assert_eq!(get("a").unwrap().name, "node_x_a");
        assert_eq!(get("b-c"), None);
        assert_eq!(get("b-c"), None);
        assert_eq!(calls.get(), 2);
    }
}
