//! node_exporter's `filefd` collector: allocated and maximum file handles.

use sonde_procfs::file_nr;
use sonde_sdk::bundle::read_optional;
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// Appends `node_filefd_allocated` and `node_filefd_maximum` from `/proc/sys/fs/file-nr`.
pub fn collect(host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let Some(text) = read_optional(host, Root::Proc, "sys/fs/file-nr")? else {
        return Ok(());
    };
    let nr = file_nr::parse(&text)?;
    out.push(
        MetricFamily::gauge(
            "node_filefd_allocated",
            "File descriptor statistics: allocated.",
        )
        .with_value(nr.allocated),
    );
    out.push(
        MetricFamily::gauge(
            "node_filefd_maximum",
            "File descriptor statistics: maximum.",
        )
        .with_value(nr.maximum),
    );
    Ok(())
}
