//! node_exporter's `time` collector: the wall clock, the local time zone, and the kernel's clock
//! sources (`/sys/devices/system/clocksource`).

use sonde_procfs::sysfs;
use sonde_sdk::{Error, Host, MetricFamily, ResultExt};

const CLOCKSOURCE_DIR: &str = "devices/system/clocksource";

/// Appends `node_time_seconds`, `node_time_zone_offset_seconds{time_zone}` and the
/// `node_time_clocksource_{available,current}_info{device,clocksource}` families.
pub fn collect(host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let clock = host.clock();
    out.push(
        MetricFamily::gauge(
            "node_time_seconds",
            "System time in seconds since epoch (1970).",
        )
        .with_value(clock.unix_seconds),
    );
    out.push(
        MetricFamily::gauge(
            "node_time_zone_offset_seconds",
            "System time zone offset in seconds.",
        )
        .with_sample(
            &[("time_zone", &clock.zone_name)],
            clock.zone_offset_seconds.into(),
        ),
    );
    clocksources(host, out).context("couldn't get clocksources")
}

/// The clock sources of each `clocksourceN` directory; `device` is its index in the sorted
/// listing, as in node_exporter.
fn clocksources(host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let mut available = MetricFamily::gauge(
        "node_time_clocksource_available_info",
        "Available clocksources read from '/sys/devices/system/clocksource'.",
    );
    let mut current = MetricFamily::gauge(
        "node_time_clocksource_current_info",
        "Current clocksource read from '/sys/devices/system/clocksource'.",
    );
    let devices = sysfs::list(host, CLOCKSOURCE_DIR)?
        .into_iter()
        .filter(|name| {
            name.strip_prefix("clocksource")
                .is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()))
        });
    const FILES: [&str; 2] = ["available_clocksource", "current_clocksource"];
    for (index, name) in devices.enumerate() {
        let device = index.to_string();
        let dir = format!("{CLOCKSOURCE_DIR}/{name}");
        let mut texts = Vec::with_capacity(FILES.len());
        for (file, read) in FILES.iter().zip(sysfs::read_attrs(host, &dir, &FILES)) {
            texts.push(read?.ok_or_else(|| Error::msg(format!("/sys/{dir}/{file}: not found")))?);
        }
        for source in texts[0].split_whitespace() {
            available.sample(&[("device", &device), ("clocksource", source)], 1.0);
        }
        current.sample(&[("device", &device), ("clocksource", &texts[1])], 1.0);
    }
    out.push(available);
    out.push(current);
    Ok(())
}
