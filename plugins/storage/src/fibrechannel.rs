//! node_exporter's `fibrechannel` collector: Fibre Channel host ports of `/sys/class/fc_host/`
//! (`node_fibrechannel_info` from the port attributes, one counter per file of
//! `<host>/statistics/`), as procfs' `FibreChannelClass` reads them.
//!
//! Attributes a driver does not expose are empty labels; the `0x` of `port_id`, `port_name` and
//! `fabric_name` is cut. Counters are read with the base their prefix gives (the kernel prints
//! hex); a counter of all ones (`0xffffffffffffffff`, not implemented by the HBA) is left out.
//! A port whose state is missing or `Unknown` reports every counter as 0, as node_exporter.
//! Where node_exporter dereferences a counter file that is missing (and panics), the counter is
//! left out here.

use crate::{Problems, sys_text};
use sonde_procfs::numbers::parse_u64;
use sonde_sdk::bundle::Part;
use sonde_sdk::{EntryKind, Error, FsError, Host, MetricFamily, Root};

/// The fibrechannel part.
pub struct FibreChannel;

/// The port attributes read (node_name too, as procfs, though no metric shows it).
const ATTRIBUTES: [&str; 11] = [
    "speed",
    "port_state",
    "port_type",
    "node_name",
    "port_id",
    "port_name",
    "fabric_name",
    "dev_loss_tmo",
    "symbolic_name",
    "supported_classes",
    "supported_speeds",
];

/// The `node_fibrechannel_info` labels after `fc_host`, each with its attribute.
const INFO_LABELS: [(&str, &str); 10] = [
    ("speed", "speed"),
    ("port_state", "port_state"),
    ("port_type", "port_type"),
    ("port_id", "port_id"),
    ("port_name", "port_name"),
    ("fabric_name", "fabric_name"),
    ("symbolic_name", "symbolic_name"),
    ("supported_classes", "supported_classes"),
    ("supported_speeds", "supported_speeds"),
    ("dev_loss_tmo", "dev_loss_tmo"),
];

/// The counters: file in `statistics/`, metric suffix, HELP.
const COUNTERS: [(&str, &str, &str); 14] = [
    (
        "dumped_frames",
        "dumped_frames_total",
        "Number of dumped frames",
    ),
    (
        "error_frames",
        "error_frames_total",
        "Number of errors in frames",
    ),
    (
        "invalid_crc_count",
        "invalid_crc_total",
        "Invalid Cyclic Redundancy Check count",
    ),
    ("rx_frames", "rx_frames_total", "Number of frames received"),
    (
        "rx_words",
        "rx_words_total",
        "Number of words received by host port",
    ),
    (
        "tx_frames",
        "tx_frames_total",
        "Number of frames transmitted by host port",
    ),
    (
        "tx_words",
        "tx_words_total",
        "Number of words transmitted by host port",
    ),
    (
        "seconds_since_last_reset",
        "seconds_since_last_reset_total",
        "Number of seconds since last host port reset",
    ),
    (
        "invalid_tx_word_count",
        "invalid_tx_words_total",
        "Number of invalid words transmitted by host port",
    ),
    (
        "link_failure_count",
        "link_failure_total",
        "Number of times the host port link has failed",
    ),
    (
        "loss_of_sync_count",
        "loss_of_sync_total",
        "Number of failures on either bit or transmission word boundaries",
    ),
    (
        "loss_of_signal_count",
        "loss_of_signal_total",
        "Number of times signal has been lost",
    ),
    (
        "nos_count",
        "nos_total",
        "Number Not_Operational Primitive Sequence received by host port",
    ),
    (
        "fcp_packet_aborts",
        "fcp_packet_aborts_total",
        "Number of aborted packets",
    ),
];

/// One port: its attributes (`None` when absent) and counters (in [`COUNTERS`] order).
struct Port {
    attributes: [Option<String>; 11],
    counters: [Option<u64>; 14],
}

impl Port {
    fn attribute(&self, name: &str) -> &str {
        ATTRIBUTES
            .iter()
            .position(|a| *a == name)
            .and_then(|i| self.attributes[i].as_deref())
            .unwrap_or("")
    }
}

impl Part for FibreChannel {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let hosts = match host.read_dir(Root::Sys, "class/fc_host") {
            Ok(hosts) => hosts,
            Err(FsError::NotFound) => return Ok(()),
            Err(e) => return Err(Error::msg(format!("listing /sys/class/fc_host: {e}"))),
        };
        let mut info = MetricFamily::gauge(
            "node_fibrechannel_info",
            "Non-numeric data from /sys/class/fc_host/<host>, value is always 1.",
        );
        let mut counters: Vec<MetricFamily> = COUNTERS
            .iter()
            .map(|(_, suffix, help)| {
                MetricFamily::counter(format!("node_fibrechannel_{suffix}"), *help)
            })
            .collect();
        let mut problems = Problems::default();
        for entry in &hosts {
            let name = entry.name.as_str();
            let port = match read_port(host, name) {
                Ok(port) => port,
                Err(e) => {
                    problems.add(e);
                    continue;
                }
            };
            let mut labels = vec![("fc_host", name)];
            labels.extend(
                INFO_LABELS
                    .iter()
                    .map(|(label, attribute)| (*label, port.attribute(attribute))),
            );
            info.sample(&labels, 1.0);
            let state = port.attribute("port_state");
            let disabled = port.attributes[1].is_none() || state == "Unknown";
            for (family, value) in counters.iter_mut().zip(port.counters) {
                let value = if disabled { Some(0) } else { value };
                if let Some(value) = value.filter(|v| *v != u64::MAX) {
                    family.sample(&[("fc_host", name)], value as f64);
                }
            }
        }
        out.push(info);
        out.extend(counters);
        problems.result()
    }
}

/// Reads the port `/sys/class/fc_host/<name>`.
fn read_port(host: &Host, name: &str) -> Result<Port, String> {
    let dir = format!("class/fc_host/{name}");
    let files = ATTRIBUTES.map(|f| format!("{dir}/{f}"));
    let mut attributes: [Option<String>; 11] = Default::default();
    for ((slot, read), file) in attributes
        .iter_mut()
        .zip(host.read_many(Root::Sys, &files))
        .zip(ATTRIBUTES)
    {
        *slot = match read {
            Ok(bytes) => {
                let text = sys_text(&bytes);
                Some(match file {
                    "node_name" | "port_id" | "port_name" | "fabric_name" if text.len() > 2 => {
                        String::from_utf8_lossy(&text.as_bytes()[2..]).into_owned()
                    }
                    _ => text,
                })
            }
            Err(FsError::NotFound) => None,
            Err(e) => return Err(format!("reading /sys/{dir}/{file}: {e}")),
        };
    }
    let mut counters = [None; 14];
    let statistics = format!("{dir}/statistics");
    let files = match host.read_dir(Root::Sys, &statistics) {
        Ok(files) => files,
        Err(FsError::NotFound) => Vec::new(),
        Err(e) => return Err(format!("listing /sys/{statistics}: {e}")),
    };
    let wanted: Vec<(usize, String)> = files
        .iter()
        .filter(|f| f.kind == EntryKind::File)
        .filter_map(|f| {
            let at = COUNTERS.iter().position(|(file, _, _)| *file == f.name)?;
            Some((at, format!("{statistics}/{}", f.name)))
        })
        .collect();
    let paths: Vec<&str> = wanted.iter().map(|(_, path)| path.as_str()).collect();
    for ((at, path), read) in wanted.iter().zip(host.read_many(Root::Sys, &paths)) {
        let bytes = match read {
            Ok(bytes) => bytes,
            // Write-only or refused statistics files are skipped, as procfs does.
            Err(FsError::NotFound | FsError::PermissionDenied) => continue,
            Err(FsError::Other(e))
                if e.contains("not supported") || e.contains("nvalid argument") =>
            {
                continue;
            }
            Err(e) => return Err(format!("reading /sys/{path}: {e}")),
        };
        let text = sys_text(&bytes);
        counters[*at] = Some(parse_u64(&text).map_err(|e| format!("/sys/{path}: {e}"))?);
    }
    Ok(Port {
        attributes,
        counters,
    })
}
