//! node_exporter's `vmstat` collector: the selected `/proc/vmstat` fields, untyped.

use sonde_sdk::bundle::read_optional;
use sonde_sdk::filter::NameFilter;
use sonde_sdk::metrics::is_valid_metric_name;
use sonde_sdk::procfs::vmstat;
use sonde_sdk::{Error, Host, Level, MetricFamily, Root};
use std::collections::HashSet;

/// Appends `node_vmstat_<field>` for each `/proc/vmstat` field `fields` keeps.
pub fn collect(host: &Host, fields: &NameFilter, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let Some(text) = read_optional(host, Root::Proc, "vmstat")? else {
        return Ok(());
    };
    // A field printed twice is reported once: client_golang drops the repeated series.
    let mut seen = HashSet::new();
    for field in vmstat::parse(&text)? {
        if fields.ignored(&field.name) || !seen.insert(field.name.clone()) {
            continue;
        }
        let name = format!("node_vmstat_{}", field.name);
        if !is_valid_metric_name(&name) {
            host.log(
                Level::Warn,
                &format!("vmstat: skipping field {:?}", field.name),
            );
            continue;
        }
        let help = format!("/proc/vmstat information field {}.", field.name);
        out.push(MetricFamily::untyped(name, help).with_value(field.value));
    }
    Ok(())
}
