//! node_exporter's `netclass` collector (its default sysfs mode): `node_network_up`,
//! `node_network_info` and one `node_network_<property>{device}` family per attribute of
//! `/sys/class/net/<device>/`.

use serde::{Deserialize, Serialize};
use sonde_procfs::net_class::{self, NetClassIface};
use sonde_sdk::bundle::Part;
use sonde_sdk::filter::NameFilter;
use sonde_sdk::{Error, FsError, Host, MetricFamily, MetricKind};

/// `netclass = { … }`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Run it (`--collector.netclass`, on).
    pub enabled: bool,
    /// Devices matching this regex are left out (`--collector.netclass.ignored-devices`, `^$`).
    pub ignored_devices: String,
    /// Leave out `node_network_speed_bytes` when the speed is negative, i.e. unknown
    /// (`--collector.netclass.ignore-invalid-speed`, off).
    pub ignore_invalid_speed: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            ignored_devices: "^$".to_owned(),
            ignore_invalid_speed: false,
        }
    }
}

/// The netclass part.
pub struct NetClass {
    ignored: NameFilter,
    ignore_invalid_speed: bool,
}

impl NetClass {
    /// Checks the config's pattern.
    pub fn new(config: &Config) -> Result<Self, Error> {
        Ok(NetClass {
            ignored: NameFilter::new("", &config.ignored_devices)?,
            ignore_invalid_speed: config.ignore_invalid_speed,
        })
    }
}

/// The per-attribute families: metric suffix, type, and the attribute's value.
type Property = (&'static str, MetricKind, fn(&NetClassIface) -> Option<i64>);

const PROPERTIES: [Property; 16] = [
    ("address_assign_type", MetricKind::Gauge, |i| {
        i.addr_assign_type
    }),
    ("carrier", MetricKind::Gauge, |i| i.carrier),
    ("carrier_changes_total", MetricKind::Counter, |i| {
        i.carrier_changes
    }),
    ("carrier_up_changes_total", MetricKind::Counter, |i| {
        i.carrier_up_count
    }),
    ("carrier_down_changes_total", MetricKind::Counter, |i| {
        i.carrier_down_count
    }),
    ("device_id", MetricKind::Gauge, |i| i.dev_id),
    ("dormant", MetricKind::Gauge, |i| i.dormant),
    ("flags", MetricKind::Gauge, |i| i.flags),
    ("iface_id", MetricKind::Gauge, |i| i.ifindex),
    ("iface_link", MetricKind::Gauge, |i| i.iflink),
    ("iface_link_mode", MetricKind::Gauge, |i| i.link_mode),
    ("mtu_bytes", MetricKind::Gauge, |i| i.mtu),
    ("name_assign_type", MetricKind::Gauge, |i| {
        i.name_assign_type
    }),
    ("net_dev_group", MetricKind::Gauge, |i| i.netdev_group),
    ("transmit_queue_length", MetricKind::Gauge, |i| {
        i.tx_queue_len
    }),
    ("protocol_type", MetricKind::Gauge, |i| i.r#type),
];

impl Part for NetClass {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let devices = match net_class::devices(host) {
            Ok(devices) => devices,
            Err(FsError::NotFound | FsError::PermissionDenied) => return Ok(()),
            Err(e) => return Err(Error::msg(format!("reading /sys/class/net: {e}"))),
        };
        let mut up = MetricFamily::gauge(
            "node_network_up",
            "Value is 1 if operstate is 'up', 0 otherwise.",
        );
        let mut info = MetricFamily::gauge(
            "node_network_info",
            "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
        );
        let mut properties: Vec<MetricFamily> = PROPERTIES
            .iter()
            .map(|(name, kind, _)| property_family(name, *kind))
            .collect();
        let mut speed = property_family("speed_bytes", MetricKind::Gauge);
        for name in devices.iter().filter(|d| self.ignored.kept(d)) {
            let Some(iface) = net_class::read_iface(host, name)? else {
                continue;
            };
            let device = [("device", name.as_str())];
            up.sample(&device, if iface.operstate == "up" { 1.0 } else { 0.0 });
            info.sample(
                &[
                    ("device", name),
                    ("address", &iface.address),
                    ("broadcast", &iface.broadcast),
                    ("duplex", &iface.duplex),
                    ("operstate", &iface.operstate),
                    ("adminstate", admin_state(iface.flags)),
                    ("ifalias", &iface.ifalias),
                ],
                1.0,
            );
            for (family, (_, _, value)) in properties.iter_mut().zip(PROPERTIES) {
                if let Some(v) = value(&iface) {
                    family.sample(&device, v as f64);
                }
            }
            if let Some(mbits) = iface.speed
                && (mbits >= 0 || !self.ignore_invalid_speed)
            {
                // Mbit/s to bytes/s in integers, as node_exporter: `speed * 1000 * 1000 / 8`.
                speed.sample(&device, (mbits.wrapping_mul(1_000_000) / 8) as f64);
            }
        }
        out.extend(properties);
        out.extend([up, info, speed]);
        Ok(())
    }
}

/// `node_network_<name>`, HELP `Network device property: <name>`.
fn property_family(name: &str, kind: MetricKind) -> MetricFamily {
    MetricFamily::new(
        format!("node_network_{name}"),
        format!("Network device property: {name}"),
        kind,
    )
}

/// `up` when the `IFF_UP` flag is set, `down` if not, `unknown` without flags.
fn admin_state(flags: Option<i64>) -> &'static str {
    match flags {
        None => "unknown",
        Some(f) if f & 1 == 1 => "up",
        Some(_) => "down",
    }
}
