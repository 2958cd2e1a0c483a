//! node_exporter's `drbd` collector (off by default): DRBD 8 devices from `/proc/drbd`, read as
//! node_exporter reads it: word by word, a `<minor>:` word starting the device `drbd<minor>`,
//! `key:value` words giving the counters (`ns`, `dw`, `dr` and `oos` in KiB, reported in bytes),
//! the roles and disk states (`ro:Primary/Secondary`, `ds:UpToDate/…`: local and remote) and the
//! connection state (`cs:`).
//!
//! A value that does not parse is left out and fails the part (node_exporter stops reading the
//! file there); a role or disk state without its `/remote` half (where node_exporter panics) is
//! left out too. A key repeated for one device keeps its first value.

use sonde_sdk::bundle::{Part, read_optional};
use sonde_sdk::{Error, Host, MetricFamily, MetricKind, Root};
use std::collections::HashSet;

/// The drbd part.
pub struct Drbd;

/// The counters and gauges: key, metric suffix, type, multiplier, HELP.
const NUMERICAL: [(&str, &str, MetricKind, f64, &str); 12] = [
    (
        "ns",
        "network_sent_bytes_total",
        MetricKind::Counter,
        1024.0,
        "Total number of bytes sent via the network.",
    ),
    (
        "nr",
        "network_received_bytes_total",
        MetricKind::Counter,
        1.0,
        "Total number of bytes received via the network.",
    ),
    (
        "dw",
        "disk_written_bytes_total",
        MetricKind::Counter,
        1024.0,
        "Net data written on local hard disk; in bytes.",
    ),
    (
        "dr",
        "disk_read_bytes_total",
        MetricKind::Counter,
        1024.0,
        "Net data read from local hard disk; in bytes.",
    ),
    (
        "al",
        "activitylog_writes_total",
        MetricKind::Counter,
        1.0,
        "Number of updates of the activity log area of the meta data.",
    ),
    (
        "bm",
        "bitmap_writes_total",
        MetricKind::Counter,
        1.0,
        "Number of updates of the bitmap area of the meta data.",
    ),
    (
        "lo",
        "local_pending",
        MetricKind::Gauge,
        1.0,
        "Number of open requests to the local I/O sub-system.",
    ),
    (
        "pe",
        "remote_pending",
        MetricKind::Gauge,
        1.0,
        "Number of requests sent to the peer, but that have not yet been answered by the latter.",
    ),
    (
        "ua",
        "remote_unacknowledged",
        MetricKind::Gauge,
        1.0,
        "Number of requests received by the peer via the network connection, but that have not yet been answered.",
    ),
    (
        "ap",
        "application_pending",
        MetricKind::Gauge,
        1.0,
        "Number of block I/O requests forwarded to DRBD, but not yet answered by DRBD.",
    ),
    (
        "ep",
        "epochs",
        MetricKind::Gauge,
        1.0,
        "Number of Epochs currently on the fly.",
    ),
    (
        "oos",
        "out_of_sync_bytes",
        MetricKind::Gauge,
        1024.0,
        "Amount of data known to be out of sync; in bytes.",
    ),
];

/// The local/remote pairs: key, metric suffix, the value that reads as 1, HELP.
const PAIRS: [(&str, &str, &str, &str); 2] = [
    (
        "ro",
        "node_role_is_primary",
        "Primary",
        "Whether the role of the node is in the primary state.",
    ),
    (
        "ds",
        "disk_state_is_up_to_date",
        "UpToDate",
        "Whether the disk of the node is up to date.",
    ),
];

impl Part for Drbd {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(text) = read_optional(host, Root::Proc, "drbd")? else {
            return Ok(());
        };
        let mut numerical: Vec<MetricFamily> = NUMERICAL
            .iter()
            .map(|(_, suffix, kind, _, help)| {
                MetricFamily::new(format!("node_drbd_{suffix}"), *help, *kind)
            })
            .collect();
        let mut pairs: Vec<MetricFamily> = PAIRS
            .iter()
            .map(|(_, suffix, _, help)| MetricFamily::gauge(format!("node_drbd_{suffix}"), *help))
            .collect();
        let mut connected = MetricFamily::gauge(
            "node_drbd_connected",
            "Whether DRBD is connected to the peer.",
        );
        let mut device = "unknown".to_owned();
        let mut seen: HashSet<(String, &str)> = HashSet::new();
        let mut first_problem: Option<String> = None;
        let mut problems = 0;
        let mut problem = |message: String| {
            problems += 1;
            first_problem.get_or_insert(message);
        };
        for word in text.split_whitespace() {
            let mut kv = word.split(':');
            let (Some(key), Some(value), None) = (kv.next(), kv.next(), kv.next()) else {
                continue;
            };
            if value.is_empty()
                && key.bytes().all(|b| b.is_ascii_digit())
                && let Ok(minor) = key.parse::<u64>()
            {
                device = format!("drbd{minor}");
                continue;
            }
            if let Some(at) = NUMERICAL.iter().position(|(k, ..)| *k == key) {
                let Ok(number) = value.parse::<f64>() else {
                    problem(format!(
                        "/proc/drbd: {device}: {key}: {value:?} is not a number"
                    ));
                    continue;
                };
                if seen.insert((device.clone(), NUMERICAL[at].0)) {
                    numerical[at].sample(&[("device", &device)], number * NUMERICAL[at].3);
                }
            } else if let Some(at) = PAIRS.iter().position(|(k, ..)| *k == key) {
                let Some((local, remote)) = value.split_once('/') else {
                    problem(format!(
                        "/proc/drbd: {device}: {key}: {value:?} has no remote half"
                    ));
                    continue;
                };
                // Go's `strings.Split(v, "/")[1]`: the remote half ends at the next `/`.
                let remote = remote.split('/').next().unwrap_or(remote);
                if seen.insert((device.clone(), PAIRS[at].0)) {
                    let ok = PAIRS[at].2;
                    for (node, state) in [("local", local), ("remote", remote)] {
                        pairs[at].sample(
                            &[("device", &device), ("node", node)],
                            if state == ok { 1.0 } else { 0.0 },
                        );
                    }
                }
            } else if key == "cs" && seen.insert((device.clone(), "cs")) {
                connected.sample(
                    &[("device", &device)],
                    if value == "Connected" { 1.0 } else { 0.0 },
                );
            }
        }
        out.extend(numerical);
        out.extend(pairs);
        out.push(connected);
        match (first_problem, problems) {
            (None, _) => Ok(()),
            (Some(first), 1) => Err(Error::msg(first)),
            (Some(first), n) => Err(Error::msg(format!("{first} (and {} more)", n - 1))),
        }
    }
}
