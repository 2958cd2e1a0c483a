//! `node_cpu_seconds_total` and `node_cpu_guest_seconds_total` from `/proc/stat`.

use sonde_sdk::procfs::{USER_HZ, stat};
use sonde_sdk::{Error, Host, MetricFamily, ResultExt, Root};

/// Seconds per CPU and mode, and guest seconds when `guest` is on.
pub fn collect(host: &Host, guest: bool) -> Result<Vec<MetricFamily>, Error> {
    let text = host
        .read_to_string(Root::Proc, "stat")
        .context("reading /proc/stat")?;
    let stat = stat::parse(&text)?;
    let mut seconds = MetricFamily::counter(
        "node_cpu_seconds_total",
        "Seconds the CPUs spent in each mode.",
    );
    let mut guest_seconds = MetricFamily::counter(
        "node_cpu_guest_seconds_total",
        "Seconds the CPUs spent in guests (VMs) for each mode.",
    );
    for t in &stat.cpus {
        let cpu = t.cpu.to_string();
        for (mode, ticks) in [
            ("user", t.user),
            ("nice", t.nice),
            ("system", t.system),
            ("idle", t.idle),
            ("iowait", t.iowait),
            ("irq", t.irq),
            ("softirq", t.softirq),
            ("steal", t.steal),
        ] {
            seconds.sample(&[("cpu", &cpu), ("mode", mode)], ticks as f64 / USER_HZ);
        }
        if guest {
            guest_seconds.sample(&[("cpu", &cpu), ("mode", "user")], t.guest as f64 / USER_HZ);
            guest_seconds.sample(
                &[("cpu", &cpu), ("mode", "nice")],
                t.guest_nice as f64 / USER_HZ,
            );
        }
    }
    Ok(vec![seconds, guest_seconds])
}
