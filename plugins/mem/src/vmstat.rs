//! node_exporter's `vmstat` collector: the selected `/proc/vmstat` fields, untyped.

use rustc_hash::FxHashSet;
use sonde_procfs::vmstat;
use sonde_sdk::bundle::read_optional;
use sonde_sdk::filter::NameFilter;
use sonde_sdk::names::DerivedNames;
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// Appends `node_vmstat_<field>` for each `/proc/vmstat` field `fields` keeps, named from
/// `names` (the names derived so far); malformed lines are left out and fail the part.
pub fn collect(
    host: &Host,
    fields: &NameFilter,
    names: &DerivedNames,
    out: &mut Vec<MetricFamily>,
) -> Result<(), Error> {
    let Some(text) = read_optional(host, Root::Proc, "vmstat")? else {
        return Ok(());
    };
    // A field printed twice is reported once: client_golang drops the repeated series.
    let mut seen = FxHashSet::default();
    let (parsed, skipped) = vmstat::parse(&text);
    let kept = !parsed.is_empty();
    for field in parsed {
        if fields.ignored(field.name) || !seen.insert(field.name) {
            continue;
        }
        let name = names.get(field.name, |field| {
            crate::field_family(
                host,
                "vmstat",
                format!("node_vmstat_{field}"),
                format!("/proc/vmstat information field {field}."),
            )
        });
        if let Some(name) = name {
            out.push(
                MetricFamily::untyped(name.name.clone(), name.help.clone()).with_value(field.value),
            );
        }
    }
    skipped.result("/proc/vmstat", kept)
}
