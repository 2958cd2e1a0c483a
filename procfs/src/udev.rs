//! The udev database (`/run/udev/data/b<major>:<minor>` for block devices), which holds the
//! device properties udev computed: `ID_MODEL`, `ID_SERIAL_SHORT`, `ID_FS_TYPE`, `DM_NAME`, …
//!
//! Each file has one record per line, a one-letter type, a colon, then the data. Only `E:`
//! lines (device properties, `E:KEY=value`) are read, as node_exporter does; see udevadm(8).

use std::collections::HashMap;

/// The device properties of one udev database file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Properties(HashMap<String, String>);

impl Properties {
    /// The value of `key`, if the device has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The value of `key`, or `""` when absent (node_exporter's label for a missing property).
    pub fn value(&self, key: &str) -> &str {
        self.get(key).unwrap_or("")
    }

    /// The first of `keys` whose value is not empty, or `""`.
    pub fn first_non_empty(&self, keys: &[&str]) -> &str {
        keys.iter()
            .map(|k| self.value(k))
            .find(|v| !v.is_empty())
            .unwrap_or("")
    }
}

/// The database file name of the block device `major:minor`, e.g. `b8:0`.
pub fn block_device_file(major: impl std::fmt::Display, minor: impl std::fmt::Display) -> String {
    format!("b{major}:{minor}")
}

/// Parses a udev database file: `E:KEY=value` lines become properties (split at the first
/// `=`, so values may contain `=`); other lines and `E:` lines without `=` are ignored.
pub fn parse(text: &str) -> Properties {
    Properties(
        text.lines()
            .filter_map(|line| line.strip_prefix("E:")?.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_properties_only() {
        let p = parse(
            "S:disk/by-id/wwn-0x7c72382b8de36a64\nW:702\nE:ID_MODEL=TOSHIBA_KSDB4U86\n\
             E:ID_FS_VERSION=LVM2 001\nE:SYSTEMD_WANTS=lvm2-pvscan@8:0.service\nE:X=a=b\n\
             E:NOVALUE\nE:ID_SERIAL=\nG:systemd\n",
        );
        assert_eq!(p.get("ID_MODEL"), Some("TOSHIBA_KSDB4U86"));
        assert_eq!(p.value("ID_FS_VERSION"), "LVM2 001");
        assert_eq!(p.value("X"), "a=b");
        assert_eq!(p.get("NOVALUE"), None);
        assert_eq!(p.get("S"), None);
        assert_eq!(p.value("ID_WWN"), "");
        assert_eq!(
            p.first_non_empty(&["SCSI_IDENT_SERIAL", "ID_SERIAL", "ID_MODEL"]),
            "TOSHIBA_KSDB4U86"
        );
        assert_eq!(p.first_non_empty(&["ID_SERIAL"]), "");
        assert_eq!(block_device_file(259, 0), "b259:0");
    }
}
