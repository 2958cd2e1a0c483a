//! node_exporter's `entropy` collector: the kernel's random pool.

use sonde_sdk::bundle::{display_path, read_optional};
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// Appends `node_entropy_available_bits` and `node_entropy_pool_size_bits` from
/// `/proc/sys/kernel/random`.
pub fn collect(host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let Some(available) = read_number(host, "sys/kernel/random/entropy_avail")? else {
        return Ok(());
    };
    out.push(
        MetricFamily::gauge("node_entropy_available_bits", "Bits of available entropy.")
            .with_value(available),
    );
    if let Some(pool_size) = read_number(host, "sys/kernel/random/poolsize")? {
        out.push(
            MetricFamily::gauge("node_entropy_pool_size_bits", "Bits of entropy pool.")
                .with_value(pool_size),
        );
    }
    Ok(())
}

/// A file holding one unsigned integer; `None` when it does not exist.
fn read_number(host: &Host, path: &str) -> Result<Option<f64>, Error> {
    let Some(text) = read_optional(host, Root::Proc, path)? else {
        return Ok(None);
    };
    let value: u64 = text.trim().parse().map_err(|e| {
        Error::msg(format!(
            "{}: {:?}: {e}",
            display_path(Root::Proc, path),
            text.trim()
        ))
    })?;
    Ok(Some(value as f64))
}
