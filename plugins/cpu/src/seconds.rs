//! `node_cpu_seconds_total` and `node_cpu_guest_seconds_total` from `/proc/stat`.

use sonde_procfs::{USER_HZ, stat};
use sonde_sdk::{Error, MetricFamily};

/// Appends seconds per CPU and mode, and guest seconds when `guest` is on, from the text of
/// `/proc/stat`. A malformed CPU line is left out (no series for that CPU) and fails the part.
pub fn collect(text: &str, guest: bool, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let (cpus, skipped) = stat::parse_cpus(text);
    let mut seconds = MetricFamily::counter(
        "node_cpu_seconds_total",
        "Seconds the CPUs spent in each mode.",
    );
    let mut guest_seconds = MetricFamily::counter(
        "node_cpu_guest_seconds_total",
        "Seconds the CPUs spent in guests (VMs) for each mode.",
    );
    for t in &cpus {
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
    out.extend([seconds, guest_seconds]);
    skipped.result("/proc/stat", !cpus.is_empty())
}
