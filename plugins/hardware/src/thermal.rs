//! node_exporter's `thermal_zone` collector: `/sys/class/thermal/thermal_zone*` temperatures and
//! `/sys/class/thermal/cooling_device*` throttle states, read as procfs v0.21 reads them.

use sonde_procfs::sys_read::sys_read;
use sonde_sdk::bundle::Part;
use sonde_sdk::{Error, FsError, Host, MetricFamily, ResultExt, Root};

/// Where zones and cooling devices are listed, relative to the sysfs root.
const CLASS_DIR: &str = "class/thermal";

/// The part (no flags besides `enabled`).
pub struct ThermalZone;

impl Part for ThermalZone {
    /// Appends `node_thermal_zone_temp` and the `node_cooling_device_*` families.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        collect(host, out)
    }
}

fn collect(host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let names: Vec<String> = match host.read_dir(Root::Sys, CLASS_DIR) {
        Err(FsError::NotFound) => return Ok(()),
        listing => listing.context(format!("listing /sys/{CLASS_DIR}"))?,
    }
    .into_iter()
    .map(|e| e.name)
    .collect();
    out.push(zones(host, &names));
    out.extend(cooling_devices(host, &names)?);
    Ok(())
}

/// The entries named `<prefix><digit>…` (procfs' glob `<prefix>[0-9]*`), with what follows the
/// prefix.
fn numbered<'a>(names: &'a [String], prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
    names.iter().filter_map(move |name| {
        let number = name.strip_prefix(prefix)?;
        number
            .starts_with(|c: char| c.is_ascii_digit())
            .then_some((name.as_str(), number))
    })
}

/// `node_thermal_zone_temp{zone,type}`. As in node_exporter 1.12 (procfs v0.21), a zone whose
/// `type` or `temp` cannot be read is still reported, with an empty type or a temperature of 0.
fn zones(host: &Host, names: &[String]) -> MetricFamily {
    let mut family = MetricFamily::gauge("node_thermal_zone_temp", "Zone temperature in Celsius");
    for (dir, zone) in numbered(names, "thermal_zone") {
        let [kind, temp] = read_attrs(host, dir, ["type", "temp"]);
        let kind = kind.unwrap_or_default();
        let millidegrees: i64 = temp.ok().and_then(|t| t.parse().ok()).unwrap_or(0);
        family.sample(
            &[("zone", zone), ("type", &kind)],
            millidegrees as f64 / 1000.0,
        );
    }
    family
}

/// `node_cooling_device_cur_state` and `node_cooling_device_max_state` `{name,type}`. A device
/// whose files are missing or refused is skipped; any other failure (a value that is not a
/// number) fails the list, as in procfs.
fn cooling_devices(host: &Host, names: &[String]) -> Result<Vec<MetricFamily>, Error> {
    let mut cur = MetricFamily::gauge(
        "node_cooling_device_cur_state",
        "Current throttle state of the cooling device",
    );
    let mut max = MetricFamily::gauge(
        "node_cooling_device_max_state",
        "Maximum throttle state of the cooling device",
    );
    for (dir, name) in numbered(names, "cooling_device") {
        let [kind, max_state, cur_state] =
            read_attrs(host, dir, ["type", "max_state", "cur_state"]);
        let context = |file: &str| format!("reading /sys/{CLASS_DIR}/{dir}/{file}");
        let (kind, max_state, cur_state) = match (kind, max_state, cur_state) {
            (Ok(kind), Ok(max_state), Ok(cur_state)) => (kind, max_state, cur_state),
            (kind, max_state, cur_state) => {
                // procfs stops at the first failing file, in this order.
                let (file, error) = [
                    ("type", kind),
                    ("max_state", max_state),
                    ("cur_state", cur_state),
                ]
                .into_iter()
                .find_map(|(file, r)| r.err().map(|e| (file, e)))
                .expect("one of them failed");
                if ignorable(&error) {
                    continue;
                }
                return Err(Error::from(error).context(context(file)));
            }
        };
        let max_state: i64 = max_state.parse().context(context("max_state"))?;
        let cur_state: i64 = cur_state.parse().context(context("cur_state"))?;
        cur.sample(&[("name", name), ("type", &kind)], cur_state as f64);
        max.sample(&[("name", name), ("type", &kind)], max_state as f64);
    }
    Ok(vec![cur, max])
}

/// Reads `files` of `class/thermal/<dir>` in one host call, each as `SysReadFile` returns it.
fn read_attrs<const N: usize>(
    host: &Host,
    dir: &str,
    files: [&str; N],
) -> [Result<String, FsError>; N] {
    let paths = files.map(|f| format!("{CLASS_DIR}/{dir}/{f}"));
    let mut results = host.read_many(Root::Sys, &paths).into_iter();
    std::array::from_fn(|_| {
        results
            .next()
            .unwrap_or(Err(FsError::NotFound))
            .map(|bytes| sys_read(&bytes))
    })
}

/// procfs' `canIgnoreError`: a missing or refused file, `EINVAL` or `EOPNOTSUPP` (some drivers'
/// answer to reading a state).
fn ignorable(error: &FsError) -> bool {
    match error {
        FsError::NotFound | FsError::PermissionDenied => true,
        FsError::Other(message) => {
            message.contains("(os error 22)") || message.contains("(os error 95)")
        }
        _ => false,
    }
}
