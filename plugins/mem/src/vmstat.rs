//! node_exporter's `vmstat` collector: the selected `/proc/vmstat` fields, untyped.

use rustc_hash::FxHashSet;
use sonde_procfs::vmstat;
use sonde_sdk::bundle::{Part, read_optional};
use sonde_sdk::filter::NameFilter;
use sonde_sdk::names::DerivedNames;
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// The vmstat part: the field filter compiled from the config and the names derived so far.
pub struct Vmstat {
    fields: NameFilter,
    names: DerivedNames,
}

impl Vmstat {
    /// The part for `--collector.vmstat.fields`, which node_exporter searches unanchored (Go's
    /// MatchString), as [`NameFilter`] does.
    pub fn new(fields: &str) -> Result<Self, Error> {
        Ok(Vmstat {
            fields: NameFilter::new(fields, "")?,
            names: DerivedNames::default(),
        })
    }
}

impl Part for Vmstat {
    /// Appends `node_vmstat_<field>` for each `/proc/vmstat` field the filter keeps; malformed
    /// lines are left out and fail the part.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        collect(host, &self.fields, &self.names, out)
    }
}

fn collect(
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
