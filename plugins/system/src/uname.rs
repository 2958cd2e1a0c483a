//! node_exporter's `uname` collector: `uname(2)` as the labels of `node_uname_info`.

use sonde_sdk::{Error, Host, MetricFamily};

/// Appends `node_uname_info`.
pub fn collect(host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let u = host.uname();
    out.push(
        MetricFamily::info(
            "node_uname_info",
            "Labeled system information as provided by the uname system call.",
        )
        .with_sample(
            &[
                ("sysname", &u.sysname),
                ("release", &u.release),
                ("version", &u.version),
                ("machine", &u.machine),
                ("nodename", &u.nodename),
                ("domainname", &u.domainname),
            ],
            1.0,
        ),
    );
    Ok(())
}
