//! `/sys/class/net/<iface>/`: the attributes of each network interface, read as procfs'
//! `sysfs.NetClass` reads them for node_exporter's `netclass` collector.
//!
//! Each attribute is read with one `read(2)` of at most 128 bytes and trimmed. Integers are parsed
//! with the base given by their prefix (`flags` is `0x1003`), and one that does not parse reads as
//! 0. An attribute the kernel refuses to give ([`is_unavailable`]: `speed` of a link that is down
//! answers `EINVAL`) is left out; any other read error fails the interface.

use crate::numbers;
use sonde_sdk::{Error, FsError, Host, Root};

/// The directory listing the interfaces, below the sysfs root.
pub const CLASS_DIR: &str = "class/net";

/// The attributes of one interface; `None` (or `""` for text) when the file is absent or refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetClassIface {
    /// The interface name, e.g. `eth0`.
    pub name: String,
    /// `addr_assign_type`: how the hardware address was assigned.
    pub addr_assign_type: Option<i64>,
    /// `address`: the hardware address.
    pub address: String,
    /// `broadcast`: the hardware broadcast address.
    pub broadcast: String,
    /// `carrier`: 1 when the physical link is up.
    pub carrier: Option<i64>,
    /// `carrier_changes`: number of link state changes.
    pub carrier_changes: Option<i64>,
    /// `carrier_up_count`: number of times the link went up.
    pub carrier_up_count: Option<i64>,
    /// `carrier_down_count`: number of times the link went down.
    pub carrier_down_count: Option<i64>,
    /// `dev_id`: the device id among devices sharing a hardware address.
    pub dev_id: Option<i64>,
    /// `dormant`: 1 when the interface is dormant.
    pub dormant: Option<i64>,
    /// `duplex`: `full`, `half` or `unknown`.
    pub duplex: String,
    /// `flags`: the `IFF_*` interface flags.
    pub flags: Option<i64>,
    /// `ifalias`: the operator-set alias.
    pub ifalias: String,
    /// `ifindex`: the interface index.
    pub ifindex: Option<i64>,
    /// `iflink`: the index of the interface this one is linked to.
    pub iflink: Option<i64>,
    /// `link_mode`: the link mode (0 default, 1 dormant).
    pub link_mode: Option<i64>,
    /// `mtu`: the MTU in bytes.
    pub mtu: Option<i64>,
    /// `name_assign_type`: how the name was assigned.
    pub name_assign_type: Option<i64>,
    /// `netdev_group`: the device group.
    pub netdev_group: Option<i64>,
    /// `operstate`: the RFC 2863 operational state, e.g. `up`, `down`, `unknown`.
    pub operstate: String,
    /// `speed`: the link speed in Mbit/s (`-1` when unknown).
    pub speed: Option<i64>,
    /// `tx_queue_len`: the transmit queue length.
    pub tx_queue_len: Option<i64>,
    /// `type`: the `ARPHRD_*` hardware type.
    pub r#type: Option<i64>,
}

/// The attribute files [`read_iface`] reads.
pub const ATTRIBUTES: [&str; 22] = [
    "addr_assign_type",
    "address",
    "broadcast",
    "carrier",
    "carrier_changes",
    "carrier_up_count",
    "carrier_down_count",
    "dev_id",
    "dormant",
    "duplex",
    "flags",
    "ifalias",
    "ifindex",
    "iflink",
    "link_mode",
    "mtu",
    "name_assign_type",
    "netdev_group",
    "operstate",
    "speed",
    "tx_queue_len",
    "type",
];

/// The interface names in `/sys/class/net` (regular files such as `bonding_masters` are not
/// interfaces), sorted.
pub fn devices(host: &Host) -> Result<Vec<String>, FsError> {
    Ok(host
        .read_dir(Root::Sys, CLASS_DIR)?
        .into_iter()
        .filter(|e| e.kind != sonde_sdk::EntryKind::File)
        .map(|e| e.name)
        .collect())
}

/// Reads the attributes of interface `name`. `Ok(None)` when none of its files exist (the
/// interface went away since it was listed).
pub fn read_iface(host: &Host, name: &str) -> Result<Option<NetClassIface>, Error> {
    let paths: Vec<String> = ATTRIBUTES
        .iter()
        .map(|attr| format!("{CLASS_DIR}/{name}/{attr}"))
        .collect();
    let mut iface = NetClassIface {
        name: name.to_owned(),
        ..NetClassIface::default()
    };
    let mut found = false;
    for ((attr, path), result) in ATTRIBUTES
        .iter()
        .zip(&paths)
        .zip(host.read_many(Root::Sys, &paths))
    {
        match result {
            Ok(bytes) => {
                found = true;
                iface.set(attr, &attribute_text(&bytes));
            }
            Err(e) if is_unavailable(&e) => found |= e != FsError::NotFound,
            Err(e) => return Err(Error::msg(format!("reading /sys/{path}: {e}"))),
        }
    }
    Ok(found.then_some(iface))
}

/// True for the read errors that mean "this attribute is not available" rather than a failure:
/// not found, permission denied, `EINVAL` and `EOPNOTSUPP` (what procfs ignores).
pub fn is_unavailable(error: &FsError) -> bool {
    match error {
        FsError::NotFound | FsError::PermissionDenied => true,
        FsError::Other(message) => {
            let message = message.to_ascii_lowercase();
            [
                "invalid argument",
                "os error 22",
                "operation not supported",
                "os error 95",
            ]
            .iter()
            .any(|m| message.contains(m))
        }
        _ => false,
    }
}

/// The text of a sysfs attribute as procfs' `SysReadFile` returns it: at most the first 128
/// bytes, whitespace-trimmed.
fn attribute_text(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(128)];
    String::from_utf8_lossy(head).trim().to_owned()
}

impl NetClassIface {
    /// Stores the value of attribute `attr`; integers that do not parse read as 0, as in procfs.
    fn set(&mut self, attr: &str, value: &str) {
        let int = || Some(numbers::parse_i64(value).unwrap_or(0));
        match attr {
            "addr_assign_type" => self.addr_assign_type = int(),
            "address" => self.address = value.to_owned(),
            "broadcast" => self.broadcast = value.to_owned(),
            "carrier" => self.carrier = int(),
            "carrier_changes" => self.carrier_changes = int(),
            "carrier_up_count" => self.carrier_up_count = int(),
            "carrier_down_count" => self.carrier_down_count = int(),
            "dev_id" => self.dev_id = int(),
            "dormant" => self.dormant = int(),
            "duplex" => self.duplex = value.to_owned(),
            "flags" => self.flags = int(),
            "ifalias" => self.ifalias = value.to_owned(),
            "ifindex" => self.ifindex = int(),
            "iflink" => self.iflink = int(),
            "link_mode" => self.link_mode = int(),
            "mtu" => self.mtu = int(),
            "name_assign_type" => self.name_assign_type = int(),
            "netdev_group" => self.netdev_group = int(),
            "operstate" => self.operstate = value.to_owned(),
            "speed" => self.speed = int(),
            "tx_queue_len" => self.tx_queue_len = int(),
            "type" => self.r#type = int(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonde_sdk::testing::Fixture;

    fn write(dir: &std::path::Path, files: &[(&str, &str)]) {
        for (path, text) in files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }

    #[test]
    fn reads_interfaces_like_procfs() {
        let dir = std::env::temp_dir().join(format!("sonde-net-class-{}", std::process::id()));
        let long_alias = "a".repeat(200);
        write(
            &dir,
            &[
                ("class/net/bonding_masters", "bond0\n"),
                ("class/net/eth0/flags", "0x1003\n"),
                ("class/net/eth0/dev_id", "0x20\n"),
                ("class/net/eth0/mtu", "1500\n"),
                ("class/net/eth0/speed", "-1\n"),
                ("class/net/eth0/carrier", "\n"),
                ("class/net/eth0/operstate", "up\n"),
                ("class/net/eth0/ifalias", &long_alias),
                ("class/net/gone/.keep", ""),
            ],
        );
        let host = Fixture::new().root(Root::Sys, &dir).host();
        assert_eq!(devices(&host).unwrap(), ["eth0", "gone"]);
        let eth0 = read_iface(&host, "eth0").unwrap().unwrap();
        assert_eq!(eth0.flags, Some(4099));
        assert_eq!(eth0.dev_id, Some(32));
        assert_eq!(eth0.mtu, Some(1500));
        assert_eq!(eth0.speed, Some(-1));
        assert_eq!(eth0.carrier, Some(0), "an empty integer reads as 0");
        assert_eq!(eth0.dormant, None);
        assert_eq!(eth0.operstate, "up");
        assert_eq!(eth0.ifalias.len(), 128, "SysReadFile reads 128 bytes");
        assert_eq!(read_iface(&host, "gone").unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refused_attributes_are_unavailable() {
        for e in [
            FsError::NotFound,
            FsError::PermissionDenied,
            FsError::Other("Invalid argument (os error 22)".into()),
            FsError::Other("Operation not supported (os error 95)".into()),
        ] {
            assert!(is_unavailable(&e), "{e}");
        }
        for e in [
            FsError::Other("Input/output error (os error 5)".into()),
            FsError::TimedOut,
            FsError::NotGranted,
        ] {
            assert!(!is_unavailable(&e), "{e}");
        }
    }
}
