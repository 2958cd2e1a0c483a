//! node_exporter's `dmi` collector: `node_dmi_info`, labelled with the firmware's identification
//! strings from `/sys/class/dmi/id` (BIOS, board, chassis, product, system vendor). As in
//! node_exporter, they are read once (they change only with a reboot): the first collection that
//! reads the directory keeps its labels for the plugin's lifetime.

use sonde_procfs::sys_read::sys_read_bytes;
use sonde_procfs::text::to_valid_utf8;
use sonde_sdk::bundle::Part;
use sonde_sdk::{EntryKind, Error, FsError, Host, Label, MetricFamily, ResultExt, Root};
use std::cell::OnceCell;

/// The directory, relative to the sysfs root (a link to `devices/virtual/dmi/id`).
const DIR: &str = "class/dmi/id";

/// File → label. `chassis_type` is read by procfs but not exported by node_exporter.
const FIELDS: [(&str, &str); 20] = [
    ("bios_date", "bios_date"),
    ("bios_release", "bios_release"),
    ("bios_vendor", "bios_vendor"),
    ("bios_version", "bios_version"),
    ("board_asset_tag", "board_asset_tag"),
    ("board_name", "board_name"),
    ("board_serial", "board_serial"),
    ("board_vendor", "board_vendor"),
    ("board_version", "board_version"),
    ("chassis_asset_tag", "chassis_asset_tag"),
    ("chassis_serial", "chassis_serial"),
    ("chassis_vendor", "chassis_vendor"),
    ("chassis_version", "chassis_version"),
    ("product_family", "product_family"),
    ("product_name", "product_name"),
    ("product_serial", "product_serial"),
    ("product_sku", "product_sku"),
    ("product_uuid", "product_uuid"),
    ("product_version", "product_version"),
    ("sys_vendor", "system_vendor"),
];

const HELP: &str = "A metric with a constant '1' value labeled by bios_date, bios_release, \
    bios_vendor, bios_version, board_asset_tag, board_name, board_serial, board_vendor, \
    board_version, chassis_asset_tag, chassis_serial, chassis_vendor, chassis_version, \
    product_family, product_name, product_serial, product_sku, product_uuid, product_version, \
    system_vendor if provided by DMI.";

/// The part, with the labels once they were read.
#[derive(Default)]
pub struct Dmi {
    labels: OnceCell<Vec<Label>>,
}

impl Part for Dmi {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let labels = match self.labels.get() {
            Some(labels) => labels,
            None => {
                let labels = read(host)?;
                self.labels.get_or_init(|| labels)
            }
        };
        // A machine without DMI (most ARM boards, some VMs): no metric, as node_exporter.
        if !labels.is_empty() {
            let mut family = MetricFamily::gauge("node_dmi_info", HELP);
            family.sample_owned(labels.clone(), 1.0);
            out.push(family);
        }
        Ok(())
    }
}

/// The labels of the fields the firmware provides. Files only root may read (serials, the
/// UUID) are left out, as in node_exporter.
fn read(host: &Host) -> Result<Vec<Label>, Error> {
    let files = match host.read_dir(Root::Sys, DIR) {
        Err(FsError::NotFound) => return Ok(Vec::new()),
        listing => listing.context(format!("listing /sys/{DIR}"))?,
    };
    let wanted: Vec<(&str, &str)> = FIELDS
        .iter()
        .filter(|(file, _)| {
            files
                .iter()
                .any(|f| f.kind == EntryKind::File && f.name == *file)
        })
        .copied()
        .collect();
    let paths: Vec<String> = wanted.iter().map(|(f, _)| format!("{DIR}/{f}")).collect();
    let mut labels = Vec::new();
    for ((file, label), read) in wanted.into_iter().zip(host.read_many(Root::Sys, &paths)) {
        match read {
            Ok(bytes) => labels.push(Label {
                name: label.to_owned(),
                value: to_valid_utf8(sys_read_bytes(&bytes)),
            }),
            Err(FsError::PermissionDenied | FsError::NotFound) => {}
            Err(e) => return Err(Error::from(e).context(format!("reading /sys/{DIR}/{file}"))),
        }
    }
    labels.sort();
    Ok(labels)
}
