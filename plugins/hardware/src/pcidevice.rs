//! node_exporter's `pcidevice` collector (off by default): every device under
//! `/sys/bus/pci/devices` as `node_pcidevice_info` (location, parent, IDs; with `names`, the
//! names from `pci.ids`) and its link, power-management, SR-IOV and NUMA values, read as procfs
//! v0.21 reads them.
//!
//! `pci.ids` is read from the root filesystem (`Root::Rootfs`), only with `names = true`: this
//! needs a grant such as `rootfs:usr/share/misc/pci.ids` besides `sys`.

use serde::{Deserialize, Serialize};
use sonde_procfs::numbers::parse_i64;
use sonde_procfs::sys_read::sys_read;
use sonde_sdk::bundle::{Part, display_path};
use sonde_sdk::{Error, FsError, Host, Label, MetricFamily, ResultExt, Root};
use std::cell::OnceCell;
use std::collections::HashMap;

/// Where the devices are listed, relative to the sysfs root.
const DEVICES_DIR: &str = "bus/pci/devices";

/// Where node_exporter looks for `pci.ids` without `idsfile`, in order.
const IDS_PATHS: [&str; 2] = ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"];

/// `pcidevice = { … }`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Run it (`--collector.pcidevice`, off).
    pub enabled: bool,
    /// Path of the `pci.ids` file on the host (`--collector.pcidevice.idsfile`, unset: the first
    /// of `/usr/share/misc/pci.ids` and `/usr/share/hwdata/pci.ids` that exists).
    pub idsfile: String,
    /// Add the vendor, device, subsystem and class names to `node_pcidevice_info`
    /// (`--collector.pcidevice.names`, off).
    pub names: bool,
}

/// The part.
pub struct PciDevice {
    idsfile: String,
    names: bool,
    /// `pci.ids`, loaded at the first collection (as node_exporter loads it at its start).
    ids: OnceCell<PciIds>,
}

impl PciDevice {
    /// Builds the part from its config.
    pub fn new(config: &Config) -> Result<Self, Error> {
        Ok(PciDevice {
            idsfile: config.idsfile.clone(),
            names: config.names,
            ids: OnceCell::new(),
        })
    }
}

/// A device location, `0000:00:02.1` (segment:bus:device.function).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// PCI segment (domain).
    pub segment: u32,
    /// Bus.
    pub bus: u32,
    /// Device.
    pub device: u32,
    /// Function.
    pub function: u32,
}

impl Location {
    /// procfs' `parsePciDeviceLocation`: four hexadecimal fields.
    pub fn parse(text: &str) -> Option<Location> {
        let mut parts = text.split(':');
        let (segment, bus, rest) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let (device, function) = rest.split_once('.')?;
        if function.contains('.') {
            return None;
        }
        let hex = |s: &str| -> Option<u32> {
            let value = i64::from_str_radix(s.strip_prefix('+').unwrap_or(s), 16).ok()?;
            (0..=i64::from(i32::MAX))
                .contains(&value)
                .then_some(value as u32)
        };
        Some(Location {
            segment: hex(segment)?,
            bus: hex(bus)?,
            device: hex(device)?,
            function: hex(function)?,
        })
    }

    /// The four label values: `0000`, `00`, `02`, `1`.
    pub fn strings(&self) -> [String; 4] {
        [
            format!("{:04x}", self.segment),
            format!("{:02x}", self.bus),
            format!("{:02x}", self.device),
            format!("{:x}", self.function),
        ]
    }
}

/// The files read per device: the six IDs procfs requires, then the optional ones.
const FILES: [&str; 20] = [
    "class",
    "vendor",
    "device",
    "subsystem_vendor",
    "subsystem_device",
    "revision",
    "max_link_speed",
    "max_link_width",
    "current_link_speed",
    "current_link_width",
    "numa_node",
    "sriov_drivers_autoprobe",
    "sriov_numvfs",
    "sriov_offset",
    "sriov_stride",
    "sriov_totalvfs",
    "sriov_vf_device",
    "sriov_vf_total_msix",
    "d3cold_allowed",
    "power_state",
];

/// What procfs reads of one device.
#[derive(Debug, Default)]
struct Device {
    ids: [u32; 6],
    max_link_speed: Option<f64>,
    max_link_width: Option<f64>,
    current_link_speed: Option<f64>,
    current_link_width: Option<f64>,
    numa_node: Option<f64>,
    sriov_drivers_autoprobe: Option<bool>,
    sriov_numvfs: Option<f64>,
    sriov_totalvfs: Option<f64>,
    sriov_vf_total_msix: Option<f64>,
    d3cold_allowed: Option<bool>,
    power_state: Option<String>,
}

/// Parses the files of one device (in [`FILES`] order); the error names the first bad file.
fn parse_device(dir: &str, reads: Vec<Result<Vec<u8>, FsError>>) -> Result<Device, Error> {
    let mut device = Device::default();
    for (i, (file, read)) in FILES.iter().zip(reads).enumerate() {
        let path = || display_path(Root::Sys, &format!("{dir}/{file}"));
        let value = match read {
            Ok(bytes) => sys_read(&bytes),
            Err(FsError::NotFound) if i >= 6 => continue,
            Err(e) => return Err(Error::from(e).context(format!("reading {}", path()))),
        };
        let bad = |e: &dyn std::fmt::Display| Error::msg(format!("{}: {value:?}: {e}", path()));
        if i < 6 {
            let n = parse_i64(&value).map_err(|e| bad(&e))?;
            if i32::try_from(n).is_err() {
                return Err(bad(&"out of range"));
            }
            device.ids[i] = n as u32;
            continue;
        }
        if value.is_empty() || (i <= 10 && value.starts_with("Unknown")) {
            continue;
        }
        let int = |bits: u32| -> Result<f64, Error> {
            let n: i64 = value.parse().map_err(|e| bad(&e))?;
            let max = i64::MAX >> (64 - bits);
            if value.starts_with('+') || n > max || n < -max - 1 {
                return Err(bad(&"out of range"));
            }
            Ok(n as f64)
        };
        let uint = |bits: u32| -> Result<f64, Error> {
            let n: u64 = value.parse().map_err(|e| bad(&e))?;
            if value.starts_with('+') || (bits < 64 && n >> bits != 0) {
                return Err(bad(&"out of range"));
            }
            Ok(n as f64)
        };
        match *file {
            "max_link_speed" | "current_link_speed" => {
                // `8.0 GT/s PCIe`
                let (number, unit) = value.split_once(' ').ok_or_else(|| bad(&"invalid value"))?;
                if unit != "GT/s PCIe" {
                    return Err(bad(&"unknown unit"));
                }
                let speed: f64 = number.trim().parse().map_err(|e| bad(&e))?;
                if *file == "max_link_speed" {
                    device.max_link_speed = Some(speed);
                } else {
                    device.current_link_speed = Some(speed);
                }
            }
            "max_link_width" => device.max_link_width = Some(int(64)?),
            "current_link_width" => device.current_link_width = Some(int(64)?),
            "numa_node" => device.numa_node = Some(int(32)?),
            "sriov_drivers_autoprobe" => device.sriov_drivers_autoprobe = Some(int(32)? != 0.0),
            "sriov_numvfs" => device.sriov_numvfs = Some(uint(32)?),
            "sriov_offset" | "sriov_stride" | "sriov_totalvfs" => {
                let n = uint(32)?;
                if *file == "sriov_totalvfs" {
                    device.sriov_totalvfs = Some(n);
                }
            }
            "sriov_vf_device" => {
                u32::from_str_radix(&value, 16).map_err(|e| bad(&e))?;
            }
            "sriov_vf_total_msix" => device.sriov_vf_total_msix = Some(uint(64)?),
            "d3cold_allowed" => device.d3cold_allowed = Some(int(32)? != 0.0),
            "power_state" => device.power_state = Some(value.clone()),
            _ => {}
        }
    }
    Ok(device)
}

/// The per-device gauges other than info, power state and NUMA node: metric suffix and HELP.
const GAUGES: [(&str, &str); 9] = [
    (
        "max_link_transfers_per_second",
        "Value of maximum link's transfers per second (T/s)",
    ),
    (
        "max_link_width",
        "Value of maximum link's width (number of lanes)",
    ),
    (
        "current_link_transfers_per_second",
        "Value of current link's transfers per second (T/s)",
    ),
    (
        "current_link_width",
        "Value of current link's width (number of lanes)",
    ),
    (
        "d3cold_allowed",
        "Whether the PCIe device supports D3cold power state (0/1).",
    ),
    (
        "sriov_drivers_autoprobe",
        "Whether SR-IOV drivers autoprobe is enabled for the device (0/1).",
    ),
    (
        "sriov_numvfs",
        "Number of Virtual Functions (VFs) currently enabled for SR-IOV.",
    ),
    (
        "sriov_totalvfs",
        "Total number of Virtual Functions (VFs) supported by the device.",
    ),
    (
        "sriov_vf_total_msix",
        "Total number of MSI-X vectors for Virtual Functions.",
    ),
];

/// The power states node_exporter reports, one series each.
const POWER_STATES: [&str; 7] = ["D0", "D1", "D2", "D3hot", "D3cold", "unknown", "error"];

const LOCATION_LABELS: [&str; 4] = ["segment", "bus", "device", "function"];

impl Part for PciDevice {
    /// One listing of `bus/pci/devices`, then per device a `read_link` (its parent is in the
    /// link's target) and one batch read. A device that cannot be parsed is left out and fails
    /// the part after the others were reported.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let entries = match host.read_dir(Root::Sys, DEVICES_DIR) {
            Err(FsError::NotFound) => return Ok(()),
            listing => listing.context(format!("listing /sys/{DEVICES_DIR}"))?,
        };
        let mut errors = Vec::new();
        let ids = self.names.then(|| {
            self.ids.get_or_init(|| {
                let (ids, error) = PciIds::load(host, &self.idsfile);
                errors.extend(error);
                ids
            })
        });
        let mut info = MetricFamily::gauge(
            "node_pcidevice_info",
            "Non-numeric data from /sys/bus/pci/devices/<location>, value is always 1.",
        );
        let mut gauges: Vec<MetricFamily> = GAUGES
            .iter()
            .map(|(name, help)| MetricFamily::gauge(format!("node_pcidevice_{name}"), *help))
            .collect();
        let mut power = MetricFamily::gauge(
            "node_pcidevice_power_state",
            "PCIe device power state, one of: D0, D1, D2, D3hot, D3cold, unknown or error.",
        );
        let mut numa = MetricFamily::gauge(
            "node_pcidevice_numa_node",
            "NUMA node number for the PCI device. -1 indicates unknown or not available.",
        );
        let mut seen = std::collections::HashSet::new();
        for entry in entries {
            let dir = format!("{DEVICES_DIR}/{}", entry.name);
            let target = match host.read_link(Root::Sys, &dir) {
                Ok(target) => target,
                Err(e) => {
                    errors.push(Error::from(e).context(format!("reading the link /sys/{dir}")));
                    continue;
                }
            };
            let mut components = target.trim_end_matches('/').rsplit('/');
            let own = components.next().unwrap_or_default();
            let parent = components.next().unwrap_or_default();
            let Some(location) = Location::parse(own) else {
                errors.push(Error::msg(format!("/sys/{dir}: invalid location {own:?}")));
                continue;
            };
            let parent = if parent.starts_with("pci") {
                None
            } else {
                match Location::parse(parent) {
                    Some(parent) => Some(parent),
                    None => {
                        errors.push(Error::msg(format!(
                            "/sys/{dir}: invalid parent location {parent:?}"
                        )));
                        continue;
                    }
                }
            };
            let paths: Vec<String> = FILES.iter().map(|f| format!("{dir}/{f}")).collect();
            let device = match parse_device(&dir, host.read_many(Root::Sys, &paths)) {
                Ok(device) => device,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            // procfs keys devices by location: a second link to the same one is the same device.
            if !seen.insert((
                location.segment,
                location.bus,
                location.device,
                location.function,
            )) {
                continue;
            }
            let loc = location.strings();
            let parent_strings =
                parent.map_or_else(|| ["*", "*", "*", "*"].map(String::from), |p| p.strings());
            let [class, vendor, dev, sub_vendor, sub_device, revision] = device.ids;
            let class_id = format!("0x{class:06x}");
            let vendor_id = format!("0x{vendor:04x}");
            let device_id = format!("0x{dev:04x}");
            let sub_vendor_id = format!("0x{sub_vendor:04x}");
            let sub_device_id = format!("0x{sub_device:04x}");
            let mut labels: Vec<(&str, String)> = LOCATION_LABELS
                .iter()
                .copied()
                .zip(loc.iter().cloned())
                .chain(
                    [
                        "parent_segment",
                        "parent_bus",
                        "parent_device",
                        "parent_function",
                    ]
                    .into_iter()
                    .zip(parent_strings),
                )
                .collect();
            labels.extend([
                ("class_id", class_id.clone()),
                ("vendor_id", vendor_id.clone()),
                ("device_id", device_id.clone()),
                ("subsystem_vendor_id", sub_vendor_id.clone()),
                ("subsystem_device_id", sub_device_id.clone()),
                ("revision", format!("0x{revision:02x}")),
            ]);
            if let Some(ids) = ids {
                labels.extend([
                    ("vendor_name", ids.vendor(&vendor_id)),
                    ("device_name", ids.device(&vendor_id, &device_id)),
                    ("subsystem_vendor_name", ids.vendor(&sub_vendor_id)),
                    (
                        "subsystem_device_name",
                        ids.subsystem(&vendor_id, &device_id, &sub_vendor_id, &sub_device_id),
                    ),
                    ("class_name", ids.class(&class_id)),
                ]);
            }
            let mut labels: Vec<Label> = labels
                .into_iter()
                .map(|(name, value)| Label {
                    name: name.to_owned(),
                    value,
                })
                .collect();
            labels.sort();
            info.sample_owned(labels, 1.0);

            let flag = |b: Option<bool>| b.map_or(0.0, |b| if b { 1.0 } else { 0.0 });
            let values = [
                device.max_link_speed.map_or(-1.0, |s| s * 1e9),
                device.max_link_width.unwrap_or(-1.0),
                device.current_link_speed.map_or(-1.0, |s| s * 1e9),
                device.current_link_width.unwrap_or(-1.0),
                flag(device.d3cold_allowed),
                flag(device.sriov_drivers_autoprobe),
                device.sriov_numvfs.unwrap_or(0.0),
                device.sriov_totalvfs.unwrap_or(0.0),
                device.sriov_vf_total_msix.unwrap_or(0.0),
            ];
            let location_labels: Vec<(&str, &str)> = LOCATION_LABELS
                .iter()
                .copied()
                .zip(loc.iter().map(String::as_str))
                .collect();
            for (family, value) in gauges.iter_mut().zip(values) {
                family.sample(&location_labels, value);
            }
            if let Some(state) = &device.power_state {
                for candidate in POWER_STATES {
                    let mut labels = location_labels.clone();
                    labels.push(("state", candidate));
                    power.sample(&labels, if candidate == state { 1.0 } else { 0.0 });
                }
            }
            if let Some(node) = device.numa_node.filter(|n| *n != -1.0) {
                numa.sample(&location_labels, node);
            }
        }
        out.push(info);
        out.extend(gauges);
        out.push(power);
        out.push(numa);
        errors.pop().map_or(Ok(()), Err)
    }
}

/// The names of `pci.ids`, parsed as node_exporter 1.12 parses them.
#[derive(Debug, Default)]
pub struct PciIds {
    vendors: HashMap<String, String>,
    devices: HashMap<String, HashMap<String, String>>,
    subsystems: HashMap<String, HashMap<String, String>>,
    classes: HashMap<String, String>,
    subclasses: HashMap<String, String>,
    prog_ifs: HashMap<String, String>,
}

impl PciIds {
    /// Reads `idsfile` (a host path), else the first default path that exists. A file that
    /// cannot be read gives no names (node_exporter then shows the IDs) and, unless it is
    /// missing, an error for the log.
    fn load(host: &Host, idsfile: &str) -> (PciIds, Option<Error>) {
        let candidates: Vec<&str> = if idsfile.is_empty() {
            IDS_PATHS.to_vec()
        } else {
            vec![idsfile]
        };
        for path in candidates {
            let relative = path.trim_start_matches('/');
            match host.read(Root::Rootfs, relative) {
                Ok(bytes) => return (PciIds::parse(&String::from_utf8_lossy(&bytes)), None),
                Err(FsError::NotFound) => continue,
                Err(e) => {
                    return (
                        PciIds::default(),
                        Some(Error::from(e).context(format!("reading {path}"))),
                    );
                }
            }
        }
        (PciIds::default(), None)
    }

    /// node_exporter's `loadPCIIds`, line by line.
    pub fn parse(text: &str) -> PciIds {
        let mut ids = PciIds::default();
        let (mut vendor, mut device, mut base_class, mut subclass) =
            (String::new(), String::new(), String::new(), String::new());
        let mut in_class = false;
        let split = |line: &str| -> Option<(String, String)> {
            let (id, name) = line.split_once("  ")?;
            Some((id.trim().to_owned(), name.trim().to_owned()))
        };
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let tab = line.starts_with('\t');
            let tab2 = line.starts_with("\t\t");
            if line.starts_with("C ") {
                if let Some((id, name)) = split(line) {
                    let id = id[1..].trim().to_owned();
                    ids.classes.insert(id.clone(), name);
                    base_class = id;
                    in_class = true;
                }
            } else if tab && !tab2 && in_class {
                if let Some((id, name)) = split(&line[1..])
                    && !base_class.is_empty()
                {
                    subclass = format!("{base_class}{id}");
                    ids.subclasses.insert(subclass.clone(), name);
                }
            } else if tab2 && !line.starts_with("\t\t\t") && in_class {
                if let Some((id, name)) = split(&line[2..])
                    && !subclass.is_empty()
                {
                    ids.prog_ifs.insert(format!("{subclass}{id}"), name);
                }
            } else if !tab {
                if let Some((id, name)) = split(line) {
                    ids.vendors.insert(id.clone(), name);
                    vendor = id;
                    device.clear();
                    in_class = false;
                }
            } else if !tab2 {
                if let Some((id, name)) = split(&line[1..])
                    && !vendor.is_empty()
                {
                    ids.devices
                        .entry(vendor.clone())
                        .or_default()
                        .insert(id.clone(), name);
                    device = id;
                }
            } else if let Some((id, name)) = split(&line[2..])
                && !vendor.is_empty()
                && !device.is_empty()
            {
                let entry = ids
                    .subsystems
                    .entry(format!("{vendor}:{device}"))
                    .or_default();
                if let [sub_vendor, sub_device] = id.split_whitespace().collect::<Vec<_>>()[..] {
                    entry.insert(format!("{sub_vendor}:{sub_device}"), name);
                }
            }
        }
        ids
    }

    fn strip(id: &str) -> String {
        id.strip_prefix("0x").unwrap_or(id).to_lowercase()
    }

    /// `getPCIVendorName`.
    pub fn vendor(&self, vendor_id: &str) -> String {
        let id = Self::strip(vendor_id);
        self.vendors.get(&id).cloned().unwrap_or(id)
    }

    /// `getPCIDeviceName`.
    pub fn device(&self, vendor_id: &str, device_id: &str) -> String {
        let (vendor, device) = (Self::strip(vendor_id), Self::strip(device_id));
        self.devices
            .get(&vendor)
            .and_then(|devices| devices.get(&device))
            .cloned()
            .unwrap_or(device)
    }

    /// `getPCISubsystemName`.
    pub fn subsystem(
        &self,
        vendor_id: &str,
        device_id: &str,
        sub_vendor_id: &str,
        sub_device_id: &str,
    ) -> String {
        let strip = |id: &str| id.strip_prefix("0x").unwrap_or(id).to_owned();
        let key = format!("{}:{}", strip(vendor_id), strip(device_id));
        let sub_key = format!("{}:{}", strip(sub_vendor_id), strip(sub_device_id));
        self.subsystems
            .get(&key)
            .and_then(|s| s.get(&sub_key))
            .cloned()
            .unwrap_or_else(|| strip(sub_device_id))
    }

    /// `getPCIClassName`: the programming interface, else the subclass, else the class.
    pub fn class(&self, class_id: &str) -> String {
        let id = Self::strip(class_id);
        let prefix = |n: usize| id.get(..n).filter(|_| id.len() >= n);
        prefix(6)
            .and_then(|p| self.prog_ifs.get(p))
            .or_else(|| prefix(4).and_then(|p| self.subclasses.get(p)))
            .or_else(|| prefix(2).and_then(|p| self.classes.get(p)))
            .cloned()
            .unwrap_or_else(|| format!("Unknown class ({id})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_as_procfs() {
        let loc = Location::parse("0000:00:02.1").unwrap();
        assert_eq!(loc.strings(), ["0000", "00", "02", "1"]);
        assert_eq!(
            Location::parse("10000:ff:1f.7").unwrap().strings(),
            ["10000", "ff", "1f", "7"]
        );
        assert_eq!(Location::parse("pci0000:00"), None);
        assert_eq!(Location::parse("0000:00:02"), None);
        assert_eq!(Location::parse("0000:00:02.1.2"), None);
    }

    #[test]
    fn pci_ids_names() {
        let ids = PciIds::parse(
            "# comment\n\
             8086  Intel Corporation\n\
             \t1521  I350 Gigabit Network Connection\n\
             \t\t8086 00a3  Ethernet Server Adapter I350-T4\n\
             C 01  Mass storage controller\n\
             \t08  Non-Volatile memory controller\n\
             \t\t02  NVM Express\n\
             C 02  Network controller\n",
        );
        assert_eq!(ids.vendor("0x8086"), "Intel Corporation");
        assert_eq!(ids.vendor("0x144d"), "144d");
        assert_eq!(
            ids.device("0x8086", "0x1521"),
            "I350 Gigabit Network Connection"
        );
        assert_eq!(ids.device("0x8086", "0x1522"), "1522");
        assert_eq!(
            ids.subsystem("0x8086", "0x1521", "0x8086", "0x00a3"),
            "Ethernet Server Adapter I350-T4"
        );
        assert_eq!(
            ids.subsystem("0x8086", "0x1521", "0x8086", "0x00a4"),
            "00a4"
        );
        assert_eq!(ids.class("0x010802"), "NVM Express");
        assert_eq!(ids.class("0x010800"), "Non-Volatile memory controller");
        assert_eq!(ids.class("0x020000"), "Network controller");
        assert_eq!(ids.class("0x030000"), "Unknown class (030000)");
    }
}
