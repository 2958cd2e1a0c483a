//! node_exporter's `diskstats` collector: the counters of `/proc/diskstats` per block device, and
//! the udev properties of each device (`node_disk_info`, `node_disk_filesystem_info`,
//! `node_disk_device_mapper_info`, `node_disk_ata_*`).

use crate::{Config, patterns};
use sonde_procfs::diskstats::{self, DiskStat};
use sonde_procfs::udev::{self, Properties};
use sonde_sdk::filter::NameFilter;
use sonde_sdk::{Error, FsError, Host, Level, MetricFamily, MetricKind, ResultExt, Root};

/// node_exporter's `--collector.diskstats.device-exclude` default: partitions, RAM disks,
/// loop devices and floppies.
pub const DEFAULT_DEVICE_EXCLUDE: &str = r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

/// node_exporter's `--path.udev.data` default.
pub const DEFAULT_UDEV_DATA_PATH: &str = "/run/udev/data";

/// `/proc/diskstats` counts sectors of 512 bytes, whatever the device's block size.
const SECTOR_BYTES: f64 = 512.0;

/// `/proc/diskstats` times are in milliseconds (node_exporter multiplies by `1.0 / 1000.0`).
const SECONDS_PER_MS: f64 = 1.0 / 1000.0;

/// One per-device counter family: name, HELP, TYPE and its value in a diskstats line (`None`
/// when the kernel does not report that column).
struct Stat {
    name: &'static str,
    help: &'static str,
    kind: MetricKind,
    value: fn(&DiskStat) -> Option<f64>,
}

const fn counter(
    name: &'static str,
    help: &'static str,
    value: fn(&DiskStat) -> Option<f64>,
) -> Stat {
    Stat {
        name,
        help,
        kind: MetricKind::Counter,
        value,
    }
}

/// The counter families, in node_exporter's order.
const STATS: [Stat; 17] = [
    counter(
        "node_disk_reads_completed_total",
        "The total number of reads completed successfully.",
        |d| Some(d.reads as f64),
    ),
    counter(
        "node_disk_reads_merged_total",
        "The total number of reads merged.",
        |d| Some(d.merged as f64),
    ),
    counter(
        "node_disk_read_bytes_total",
        "The total number of bytes read successfully.",
        |d| Some(d.sectors_read as f64 * SECTOR_BYTES),
    ),
    counter(
        "node_disk_read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        |d| Some(d.time_reading as f64 * SECONDS_PER_MS),
    ),
    counter(
        "node_disk_writes_completed_total",
        "The total number of writes completed successfully.",
        |d| Some(d.writes as f64),
    ),
    counter(
        "node_disk_writes_merged_total",
        "The number of writes merged.",
        |d| Some(d.writes_merged as f64),
    ),
    counter(
        "node_disk_written_bytes_total",
        "The total number of bytes written successfully.",
        |d| Some(d.sectors_written as f64 * SECTOR_BYTES),
    ),
    counter(
        "node_disk_write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        |d| Some(d.time_writing as f64 * SECONDS_PER_MS),
    ),
    Stat {
        name: "node_disk_io_now",
        help: "The number of I/Os currently in progress.",
        kind: MetricKind::Gauge,
        value: |d| Some(d.in_progress as f64),
    },
    counter(
        "node_disk_io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        |d| Some(d.time_in_progress as f64 * SECONDS_PER_MS),
    ),
    counter(
        "node_disk_io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        |d| Some(d.weighted_time_in_progress as f64 * SECONDS_PER_MS),
    ),
    counter(
        "node_disk_discards_completed_total",
        "The total number of discards completed successfully.",
        |d| d.discards.map(|v| v as f64),
    ),
    counter(
        "node_disk_discards_merged_total",
        "The total number of discards merged.",
        |d| d.discards_merged.map(|v| v as f64),
    ),
    // node_exporter reports discarded sectors as they are, not in bytes.
    counter(
        "node_disk_discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        |d| d.sectors_discarded.map(|v| v as f64),
    ),
    counter(
        "node_disk_discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        |d| d.time_discarding.map(|v| v as f64 * SECONDS_PER_MS),
    ),
    counter(
        "node_disk_flush_requests_total",
        "The total number of flush requests completed successfully",
        |d| d.flushes.map(|v| v as f64),
    ),
    counter(
        "node_disk_flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        |d| d.time_flushing.map(|v| v as f64 * SECONDS_PER_MS),
    ),
];

/// The ATA gauges: udev property, metric name, HELP.
const ATA: [(&str, &str, &str); 3] = [
    (
        "ID_ATA_WRITE_CACHE",
        "node_disk_ata_write_cache",
        "ATA disk has a write cache.",
    ),
    (
        "ID_ATA_WRITE_CACHE_ENABLED",
        "node_disk_ata_write_cache_enabled",
        "ATA disk has its write cache enabled.",
    ),
    (
        "ID_ATA_ROTATION_RATE_RPM",
        "node_disk_ata_rotation_rate_rpm",
        "ATA disk rotation rate in RPMs (0 for SSDs).",
    ),
];

/// The diskstats part, with its config resolved.
pub struct Diskstats {
    devices: NameFilter,
    /// The udev database directory relative to the rootfs root; `None` turns udev lookups off.
    udev_dir: Option<String>,
}

impl Diskstats {
    /// Compiles the device filter; an empty `udev_data_path` turns udev lookups off.
    pub fn new(config: &Config) -> Result<Self, Error> {
        let devices = patterns::include_exclude(
            "device",
            &config.device_include,
            &config.device_exclude,
            DEFAULT_DEVICE_EXCLUDE,
        )?;
        let udev_dir = (!config.udev_data_path.is_empty())
            .then(|| config.udev_data_path.trim_matches('/').to_owned());
        Ok(Diskstats { devices, udev_dir })
    }

    /// Appends the series of `/proc/diskstats` and of each kept device's udev data and
    /// rotational flag. A malformed line is left out (no series for that device) and fails the
    /// part.
    pub fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let text = match host.read_to_string(Root::Proc, "diskstats") {
            Err(FsError::NotFound) => return Ok(()),
            read => read.context("reading /proc/diskstats")?,
        };
        let (mut disks, skipped) = diskstats::parse(&text);
        let kept = !disks.is_empty();
        disks.retain(|d| self.devices.kept(&d.name));
        let properties = self.udev_properties(host, &disks);
        let rotational = rotational(host, &disks);
        let mut families = Families::new();
        for ((disk, properties), rotational) in disks.iter().zip(&properties).zip(rotational) {
            families.add(host, disk, properties, rotational);
        }
        out.extend(families.into_vec());
        skipped.result("/proc/diskstats", kept)
    }

    /// The udev properties of each disk, read in one batch; a device without a database file
    /// has none, as in node_exporter. Other failures are logged once and read as none.
    fn udev_properties(&self, host: &Host, disks: &[DiskStat]) -> Vec<Properties> {
        let Some(dir) = &self.udev_dir else {
            return vec![Properties::default(); disks.len()];
        };
        let paths: Vec<String> = disks
            .iter()
            .map(|d| {
                let file = udev::block_device_file(d.major, d.minor);
                if dir.is_empty() {
                    file
                } else {
                    format!("{dir}/{file}")
                }
            })
            .collect();
        let mut failure = None;
        let properties = host
            .read_many(Root::Rootfs, &paths)
            .into_iter()
            .map(|read| match read {
                Ok(bytes) => udev::parse(&String::from_utf8_lossy(&bytes)),
                Err(FsError::NotFound) => Properties::default(),
                Err(e) => {
                    failure.get_or_insert(e);
                    Properties::default()
                }
            })
            .collect();
        if let Some(e) = failure {
            host.log(
                Level::Warn,
                &format!("diskstats: reading udev data in /{dir}: {e}"),
            );
        }
        properties
    }
}

/// node_exporter's `rotational` label of each disk: `"1"` when `/sys/block/<dev>/queue/rotational`
/// reads 1, `"0"` otherwise, including when it cannot be read (partitions have none).
fn rotational(host: &Host, disks: &[DiskStat]) -> Vec<&'static str> {
    let paths: Vec<String> = disks
        .iter()
        .map(|d| format!("block/{}/queue/rotational", d.name))
        .collect();
    host.read_many(Root::Sys, &paths)
        .into_iter()
        .map(|read| match read {
            Ok(bytes) if String::from_utf8_lossy(&bytes).trim().parse() == Ok(1u64) => "1",
            _ => "0",
        })
        .collect()
}

/// The families being filled, one device at a time.
struct Families {
    info: MetricFamily,
    stats: Vec<MetricFamily>,
    filesystem: MetricFamily,
    device_mapper: MetricFamily,
    ata: Vec<MetricFamily>,
}

impl Families {
    fn new() -> Self {
        Families {
            info: MetricFamily::gauge("node_disk_info", "Info of /sys/block/<block_device>."),
            stats: STATS
                .iter()
                .map(|s| MetricFamily::new(s.name, s.help, s.kind))
                .collect(),
            filesystem: MetricFamily::gauge(
                "node_disk_filesystem_info",
                "Info about disk filesystem.",
            ),
            device_mapper: MetricFamily::gauge(
                "node_disk_device_mapper_info",
                "Info about disk device mapper.",
            ),
            ata: ATA
                .iter()
                .map(|(_, name, help)| MetricFamily::gauge(*name, *help))
                .collect(),
        }
    }

    /// Adds one device's series.
    fn add(&mut self, host: &Host, disk: &DiskStat, udev: &Properties, rotational: &str) {
        let device = disk.name.as_str();
        self.info.sample(
            &[
                ("device", device),
                ("major", &disk.major.to_string()),
                ("minor", &disk.minor.to_string()),
                ("path", udev.value("ID_PATH")),
                ("wwn", udev.value("ID_WWN")),
                ("model", udev.value("ID_MODEL")),
                // The serial printed on the label, else the short serial, else virtio's.
                (
                    "serial",
                    udev.first_non_empty(&["SCSI_IDENT_SERIAL", "ID_SERIAL_SHORT", "ID_SERIAL"]),
                ),
                ("revision", udev.value("ID_REVISION")),
                ("rotational", rotational),
            ],
            1.0,
        );
        for (stat, family) in STATS.iter().zip(&mut self.stats) {
            if let Some(value) = (stat.value)(disk) {
                family.sample(&[("device", device)], value);
            }
        }
        let fs_type = udev.value("ID_FS_TYPE");
        if !fs_type.is_empty() {
            self.filesystem.sample(
                &[
                    ("device", device),
                    ("type", fs_type),
                    ("usage", udev.value("ID_FS_USAGE")),
                    ("uuid", udev.value("ID_FS_UUID")),
                    ("version", udev.value("ID_FS_VERSION")),
                ],
                1.0,
            );
        }
        let dm_name = udev.value("DM_NAME");
        if !dm_name.is_empty() {
            self.device_mapper.sample(
                &[
                    ("device", device),
                    ("name", dm_name),
                    ("uuid", udev.value("DM_UUID")),
                    ("vg_name", udev.value("DM_VG_NAME")),
                    ("lv_name", udev.value("DM_LV_NAME")),
                    ("lv_layer", udev.value("DM_LV_LAYER")),
                ],
                1.0,
            );
        }
        if !udev.value("ID_ATA").is_empty() {
            for ((key, _, _), family) in ATA.iter().zip(&mut self.ata) {
                let Some(text) = udev.get(key) else { continue };
                match text.parse::<f64>() {
                    Ok(value) => {
                        family.sample(&[("device", device)], value);
                    }
                    Err(e) => host.log(
                        Level::Warn,
                        &format!("diskstats: {device}: udev {key}={text:?}: {e}"),
                    ),
                }
            }
        }
    }

    fn into_vec(self) -> Vec<MetricFamily> {
        let mut all = vec![self.info, self.filesystem, self.device_mapper];
        all.extend(self.stats);
        all.extend(self.ata);
        all
    }
}
