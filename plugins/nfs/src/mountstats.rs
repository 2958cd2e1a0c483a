//! node_exporter's `mountstats` collector (optional there, off by default here): per-mount NFS
//! client statistics from `/proc/self/mountstats` (age, bytes, events, each transport and each
//! operation), labelled with the export, the transport protocol and the server address, which
//! node_exporter takes from the `addr=` super option of the line of `/proc/self/mountinfo` at the
//! same position (both files list the mounts of the reader's namespace in the same order).
//!
//! Names are reported as the kernel writes them in mountstats, with its octal escapes (`\040` for
//! a space, `\012` for a newline, `\134` for a backslash) left as they are: procfs does not
//! decode them in this file, so node_exporter's `export` and `mountpoint` labels carry them, and
//! so do ours. Invalid UTF-8 becomes one U+FFFD per run of bad bytes, as elsewhere in sonde
//! (client_golang refuses such a label value).
//!
//! Where procfs fails the whole file (and node_exporter the collector) on one malformed mount,
//! this part leaves that mount out, reports the others and then fails. A mount of another
//! filesystem that prints statistics, which procfs refuses, is skipped silently.

use sonde_procfs::Skipped;
use sonde_procfs::text::to_valid_utf8;
use sonde_sdk::bundle::{Part, display_path};
use sonde_sdk::metrics::Label;
use sonde_sdk::{Error, FsError, Host, MetricFamily, MetricKind, Root};
use std::collections::HashSet;

/// The mountstats part.
pub struct MountStats;

const MOUNTSTATS: &str = "self/mountstats";
const MOUNTINFO: &str = "self/mountinfo";

/// node_exporter reports the time counters modulo 2^53 (a float64's mantissa).
const FLOAT64_MANTISSA: u64 = 1 << 53;

/// One NFS mount's statistics from mountstats.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NfsMount {
    /// The mount's position among the `device` lines of the file (from 0): the line of
    /// mountinfo that describes it.
    pub index: usize,
    /// The export (`server:/path`), as written.
    pub device: String,
    /// The mount point, as written.
    pub mount_point: String,
    /// Seconds since the mount.
    pub age: u64,
    /// The `bytes:` counters (0 when the line is absent).
    pub bytes: [u64; 8],
    /// The `events:` counters (0 when the line is absent).
    pub events: [u64; 27],
    /// The `xprt:` lines.
    pub transports: Vec<Transport>,
    /// The per-operation lines.
    pub operations: Vec<Operation>,
}

/// One `xprt:` line, with procfs' layout of the udp, tcp and rdma variants.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Transport {
    /// `tcp`, `udp` or `rdma`.
    pub protocol: String,
    /// Times a connection was established from scratch.
    pub bind: u64,
    /// TCP connects.
    pub connect: u64,
    /// Seconds since the transport was last used.
    pub idle_time: u64,
    /// RPC requests sent.
    pub sends: u64,
    /// RPC replies received.
    pub receives: u64,
    /// Replies with an unknown transaction ID.
    pub bad_xids: u64,
    /// Cumulative backlog queue length.
    pub backlog: u64,
    /// Most RPC slots used at once.
    pub max_slots: u64,
    /// Cumulative sending queue length.
    pub sending: u64,
    /// Cumulative pending queue length.
    pub pending: u64,
}

/// One line of the per-operation statistics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Operation {
    /// The operation (`READ`, `GETATTR`, …).
    pub name: String,
    /// Requests, transmissions, major timeouts, bytes sent, bytes received, queue, response and
    /// request time in milliseconds.
    pub values: [u64; 8],
}

/// Parses mountstats: the NFS mounts with statistics, and the lines of the mounts left out.
pub fn parse(text: &str) -> (Vec<NfsMount>, Skipped) {
    let lines: Vec<&str> = text.lines().collect();
    let mut mounts = Vec::new();
    let mut skipped = Skipped::default();
    let mut index = 0;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.first() != Some(&"device") {
            continue;
        }
        let position = index;
        index += 1;
        if fields.len() < 8
            || fields[2] != "mounted"
            || fields[3] != "on"
            || fields[5] != "with"
            || fields[6] != "fstype"
        {
            skipped.line(i, format!("invalid device line {line:?}"));
            continue;
        }
        // No statistics (not NFS), or the statistics of a filesystem procfs does not read.
        if fields.len() == 8 || (fields[7] != "nfs" && fields[7] != "nfs4") {
            continue;
        }
        let version = fields[8].strip_prefix("statvers=").unwrap_or(fields[8]);
        let mut mount = NfsMount {
            index: position,
            device: fields[1].to_owned(),
            mount_point: fields[4].to_owned(),
            ..NfsMount::default()
        };
        let mut problem = None;
        i = parse_block(&lines, i, version, &mut mount, &mut problem);
        match problem {
            Some((number, text)) => skipped.line(number, format!("{}: {text}", mount.device)),
            None => mounts.push(mount),
        }
    }
    (mounts, skipped)
}

/// Reads the statistics of one mount from line `start` to the blank line that ends them (or the
/// next `device` line), into `mount`; the first problem found goes to `problem`. Returns the
/// index of the line after the block.
fn parse_block(
    lines: &[&str],
    start: usize,
    version: &str,
    mount: &mut NfsMount,
    problem: &mut Option<(usize, String)>,
) -> usize {
    let mut i = start;
    let mut per_op = false;
    let mut fail = |i: usize, text: String| {
        if problem.is_none() {
            *problem = Some((i + 1, text));
        }
    };
    while i < lines.len() {
        let fields: Vec<&str> = lines[i].split_whitespace().collect();
        match fields.first().copied() {
            None => return i + 1,
            Some("device") => return i,
            Some("per-op") => {
                per_op = true;
                i += 1;
                break;
            }
            Some("age:") => match fields.get(1).map(|f| f.parse::<u64>()) {
                // Go's time.Duration holds at most 2^63 ns.
                Some(Ok(age)) if age <= i64::MAX as u64 / 1_000_000_000 => mount.age = age,
                _ => fail(i, format!("invalid age line {:?}", lines[i])),
            },
            Some("bytes:") => {
                if let Err(e) = numbers(&fields[1..], &mut mount.bytes) {
                    fail(i, format!("bytes: {e}"));
                }
            }
            Some("events:") => {
                if let Err(e) = numbers(&fields[1..], &mut mount.events) {
                    fail(i, format!("events: {e}"));
                }
            }
            Some("xprt:") => match transport(&fields[1..], version) {
                Ok(t) => mount.transports.push(t),
                Err(e) => fail(i, format!("xprt: {e}")),
            },
            _ => {}
        }
        i += 1;
    }
    if !per_op {
        return i;
    }
    while i < lines.len() {
        let fields: Vec<&str> = lines[i].split_whitespace().collect();
        match fields.first().copied() {
            None => return i + 1,
            Some("device") => return i,
            Some(name) => {
                let mut values = [0u64; 9];
                let name = name.strip_suffix(':').unwrap_or(name);
                if fields.len() < 9 {
                    fail(
                        i,
                        format!(
                            "operation {name}: {} fields, expected at least 9",
                            fields.len()
                        ),
                    );
                } else if fields.len() > 10 {
                    // procfs reads every column; no kernel prints more than 9 values.
                    let mut more = vec![0; fields.len() - 1];
                    match numbers(&fields[1..], &mut more) {
                        Ok(()) => values.copy_from_slice(&more[..9]),
                        Err(e) => fail(i, format!("operation {name}: {e}")),
                    }
                } else if let Err(e) = numbers(&fields[1..], &mut values[..fields.len() - 1]) {
                    fail(i, format!("operation {name}: {e}"));
                }
                let mut eight = [0; 8];
                eight.copy_from_slice(&values[..8]);
                mount.operations.push(Operation {
                    name: name.to_owned(),
                    values: eight,
                });
            }
        }
        i += 1;
    }
    i
}

/// Parses exactly `out.len()` unsigned integers from `fields`.
fn numbers(fields: &[&str], out: &mut [u64]) -> Result<(), String> {
    if fields.len() != out.len() {
        return Err(format!("{} values, expected {}", fields.len(), out.len()));
    }
    for (field, slot) in fields.iter().zip(out.iter_mut()) {
        *slot = field
            .parse()
            .map_err(|_| format!("invalid integer {field:?}"))?;
    }
    Ok(())
}

/// Parses an `xprt:` line (after the key) of statistics version `version` as procfs does.
fn transport(fields: &[&str], version: &str) -> Result<Transport, String> {
    let Some((&protocol, values)) = fields.split_first() else {
        return Err("no protocol".to_owned());
    };
    if values.is_empty() {
        return Err(format!("no values for {protocol}"));
    }
    let ok = match (version, protocol) {
        ("1.0", "tcp") => values.len() == 10,
        ("1.0", "udp") => values.len() == 7,
        ("1.1", "tcp") => values.len() == 13,
        ("1.1", "udp") => values.len() == 10,
        ("1.1", "rdma") => values.len() >= 20,
        ("1.0" | "1.1", _) => return Err(format!("unknown protocol {protocol:?}")),
        _ => return Err(format!("unknown statistics version {version:?}")),
    };
    if !ok {
        return Err(format!(
            "{} values for {protocol} in version {version}",
            values.len()
        ));
    }
    let mut ns = vec![0u64; values.len()];
    numbers(values, &mut ns)?;
    let at = |i: usize| ns.get(i).copied().unwrap_or(0);
    Ok(if protocol == "udp" {
        // port bind sends recvs bad_xids req_u bklog_u [max_slots sending_u pending_u]
        Transport {
            protocol: protocol.to_owned(),
            bind: at(1),
            connect: 0,
            idle_time: 0,
            sends: at(2),
            receives: at(3),
            bad_xids: at(4),
            backlog: at(6),
            max_slots: at(7),
            sending: at(8),
            pending: at(9),
        }
    } else {
        // port bind connect connect_time idle_time sends recvs bad_xids req_u bklog_u
        // [max_slots sending_u pending_u] (tcp 1.1); rdma has its own columns from the 11th.
        let tcp = protocol == "tcp";
        Transport {
            protocol: protocol.to_owned(),
            bind: at(1),
            connect: at(2),
            idle_time: at(4),
            sends: at(5),
            receives: at(6),
            bad_xids: at(7),
            backlog: at(9),
            max_slots: if tcp { at(10) } else { 0 },
            sending: if tcp { at(11) } else { 0 },
            pending: if tcp { at(12) } else { 0 },
        }
    })
}

/// The `addr=` super option of a mountinfo line, as procfs reads options: split at `,`, then at
/// `=` (the value is the second part), the last occurrence winning; `""` when absent.
fn server_address(line: &str) -> Result<String, Error> {
    let info = sonde_procfs::mountinfo::parse_line(line.as_bytes())?;
    let mut addr = String::new();
    for option in &info.super_options {
        let mut parts = option.split('=');
        if parts.next() == Some("addr") {
            addr = parts.next().unwrap_or_default().to_owned();
        }
    }
    Ok(addr)
}

/// Reads a file as bytes made valid UTF-8 Go's way; `None` when it does not exist.
fn read(host: &Host, path: &str) -> Result<Option<String>, Error> {
    match host.read(Root::Proc, path) {
        Ok(bytes) => Ok(Some(match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => to_valid_utf8(e.as_bytes()),
        })),
        Err(FsError::NotFound) => Ok(None),
        Err(e) => {
            Err(Error::from(e).context(format!("reading {}", display_path(Root::Proc, path))))
        }
    }
}

type Column = (&'static str, &'static str, MetricKind);

/// The families of a mount (labels export, protocol, mountaddr), after `age_seconds_total`.
const BYTES: [Column; 8] = [
    (
        "read_bytes_total",
        "Number of bytes read using the read() syscall.",
        MetricKind::Counter,
    ),
    (
        "write_bytes_total",
        "Number of bytes written using the write() syscall.",
        MetricKind::Counter,
    ),
    (
        "direct_read_bytes_total",
        "Number of bytes read using the read() syscall in O_DIRECT mode.",
        MetricKind::Counter,
    ),
    (
        "direct_write_bytes_total",
        "Number of bytes written using the write() syscall in O_DIRECT mode.",
        MetricKind::Counter,
    ),
    (
        "total_read_bytes_total",
        "Number of bytes read from the NFS server, in total.",
        MetricKind::Counter,
    ),
    (
        "total_write_bytes_total",
        "Number of bytes written to the NFS server, in total.",
        MetricKind::Counter,
    ),
    (
        "read_pages_total",
        "Number of pages read directly via mmap()'d files.",
        MetricKind::Counter,
    ),
    (
        "write_pages_total",
        "Number of pages written directly via mmap()'d files.",
        MetricKind::Counter,
    ),
];

/// The event families with their column in `events:` (column 18, congestion waits, is not
/// reported). The HELP texts are node_exporter's, copy-paste slips included.
const EVENTS: [(usize, &str, &str); 26] = [
    (
        0,
        "event_inode_revalidate_total",
        "Number of times cached inode attributes are re-validated from the server.",
    ),
    (
        1,
        "event_dnode_revalidate_total",
        "Number of times cached dentry nodes are re-validated from the server.",
    ),
    (
        2,
        "event_data_invalidate_total",
        "Number of times an inode cache is cleared.",
    ),
    (
        3,
        "event_attribute_invalidate_total",
        "Number of times cached inode attributes are invalidated.",
    ),
    (
        4,
        "event_vfs_open_total",
        "Number of times cached inode attributes are invalidated.",
    ),
    (
        5,
        "event_vfs_lookup_total",
        "Number of times a directory lookup has occurred.",
    ),
    (
        6,
        "event_vfs_access_total",
        "Number of times permissions have been checked.",
    ),
    (
        7,
        "event_vfs_update_page_total",
        "Number of updates (and potential writes) to pages.",
    ),
    (
        8,
        "event_vfs_read_page_total",
        "Number of pages read directly via mmap()'d files.",
    ),
    (
        9,
        "event_vfs_read_pages_total",
        "Number of times a group of pages have been read.",
    ),
    (
        10,
        "event_vfs_write_page_total",
        "Number of pages written directly via mmap()'d files.",
    ),
    (
        11,
        "event_vfs_write_pages_total",
        "Number of times a group of pages have been written.",
    ),
    (
        12,
        "event_vfs_getdents_total",
        "Number of times directory entries have been read with getdents().",
    ),
    (
        13,
        "event_vfs_setattr_total",
        "Number of times directory entries have been read with getdents().",
    ),
    (
        14,
        "event_vfs_flush_total",
        "Number of pending writes that have been forcefully flushed to the server.",
    ),
    (
        15,
        "event_vfs_fsync_total",
        "Number of times fsync() has been called on directories and files.",
    ),
    (
        16,
        "event_vfs_lock_total",
        "Number of times locking has been attempted on a file.",
    ),
    (
        17,
        "event_vfs_file_release_total",
        "Number of times files have been closed and released.",
    ),
    (
        19,
        "event_truncation_total",
        "Number of times files have been truncated.",
    ),
    (
        20,
        "event_write_extension_total",
        "Number of times a file has been grown due to writes beyond its existing end.",
    ),
    (
        21,
        "event_silly_rename_total",
        "Number of times a file was removed while still open by another process.",
    ),
    (
        22,
        "event_short_read_total",
        "Number of times the NFS server gave less data than expected while reading.",
    ),
    (
        23,
        "event_short_write_total",
        "Number of times the NFS server wrote less data than expected while writing.",
    ),
    (
        24,
        "event_jukebox_delay_total",
        "Number of times the NFS server indicated EJUKEBOX; retrieving data from offline storage.",
    ),
    (
        25,
        "event_pnfs_read_total",
        "Number of NFS v4.1+ pNFS reads.",
    ),
    (
        26,
        "event_pnfs_write_total",
        "Number of NFS v4.1+ pNFS writes.",
    ),
];

/// The transport families (labels export, protocol, mountaddr, transport).
const TRANSPORT: [Column; 10] = [
    (
        "transport_bind_total",
        "Number of times the client has had to establish a connection from scratch to the NFS server.",
        MetricKind::Counter,
    ),
    (
        "transport_connect_total",
        "Number of times the client has made a TCP connection to the NFS server.",
        MetricKind::Counter,
    ),
    (
        "transport_idle_time_seconds",
        "Duration since the NFS mount last saw any RPC traffic, in seconds.",
        MetricKind::Gauge,
    ),
    (
        "transport_sends_total",
        "Number of RPC requests for this mount sent to the NFS server.",
        MetricKind::Counter,
    ),
    (
        "transport_receives_total",
        "Number of RPC responses for this mount received from the NFS server.",
        MetricKind::Counter,
    ),
    (
        "transport_bad_transaction_ids_total",
        "Number of times the NFS server sent a response with a transaction ID unknown to this client.",
        MetricKind::Counter,
    ),
    (
        "transport_backlog_queue_total",
        "Total number of items added to the RPC backlog queue.",
        MetricKind::Counter,
    ),
    (
        "transport_maximum_rpc_slots",
        "Maximum number of simultaneously active RPC requests ever used.",
        MetricKind::Gauge,
    ),
    (
        "transport_sending_queue_total",
        "Total number of items added to the RPC transmission sending queue.",
        MetricKind::Counter,
    ),
    (
        "transport_pending_queue_total",
        "Total number of items added to the RPC transmission pending queue.",
        MetricKind::Counter,
    ),
];

/// The operation families (labels export, protocol, mountaddr, operation).
const OPERATIONS: [Column; 8] = [
    (
        "operations_requests_total",
        "Number of requests performed for a given operation.",
        MetricKind::Counter,
    ),
    (
        "operations_transmissions_total",
        "Number of times an actual RPC request has been transmitted for a given operation.",
        MetricKind::Counter,
    ),
    (
        "operations_major_timeouts_total",
        "Number of times a request has had a major timeout for a given operation.",
        MetricKind::Counter,
    ),
    (
        "operations_sent_bytes_total",
        "Number of bytes sent for a given operation, including RPC headers and payload.",
        MetricKind::Counter,
    ),
    (
        "operations_received_bytes_total",
        "Number of bytes received for a given operation, including RPC headers and payload.",
        MetricKind::Counter,
    ),
    (
        "operations_queue_time_seconds_total",
        "Duration all requests spent queued for transmission for a given operation before they were sent, in seconds.",
        MetricKind::Counter,
    ),
    (
        "operations_response_time_seconds_total",
        "Duration all requests took to get a reply back after a request for a given operation was transmitted, in seconds.",
        MetricKind::Counter,
    ),
    (
        "operations_request_time_seconds_total",
        "Duration all requests took from when a request was enqueued to when it was completely handled for a given operation, in seconds.",
        MetricKind::Counter,
    ),
];

/// The 54 families, filled mount by mount.
struct Families {
    age: MetricFamily,
    info: MetricFamily,
    bytes: Vec<MetricFamily>,
    events: Vec<MetricFamily>,
    transport: Vec<MetricFamily>,
    operations: Vec<MetricFamily>,
}

fn family(suffix: &str, help: &str, kind: MetricKind) -> MetricFamily {
    MetricFamily::new(format!("node_mountstats_nfs_{suffix}"), help, kind)
}

fn label(name: &str, value: &str) -> Label {
    Label {
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

impl Families {
    fn new() -> Self {
        let columns = |list: &[Column]| {
            list.iter()
                .map(|(suffix, help, kind)| family(suffix, help, *kind))
                .collect()
        };
        Families {
            age: family(
                "age_seconds_total",
                "The age of the NFS mount in seconds.",
                MetricKind::Counter,
            ),
            info: family(
                "mountpoint_info",
                "Info metric for an NFS mountpoint.",
                MetricKind::Gauge,
            ),
            bytes: columns(&BYTES),
            events: EVENTS
                .iter()
                .map(|(_, suffix, help)| family(suffix, help, MetricKind::Counter))
                .collect(),
            transport: columns(&TRANSPORT),
            operations: columns(&OPERATIONS),
        }
    }

    /// The statistics of `mount`, labelled with `protocol` and `addr`.
    fn add(&mut self, mount: &NfsMount, protocol: &str, addr: &str) {
        let labels = vec![
            label("export", &mount.device),
            label("protocol", protocol),
            label("mountaddr", addr),
        ];
        self.age.sample_owned(labels.clone(), mount.age as f64);
        for (family, value) in self.bytes.iter_mut().zip(mount.bytes) {
            family.sample_owned(labels.clone(), value as f64);
        }
        for (family, (column, _, _)) in self.events.iter_mut().zip(EVENTS) {
            family.sample_owned(labels.clone(), mount.events[column] as f64);
        }
        for (i, t) in mount.transports.iter().enumerate() {
            let mut labels = labels.clone();
            labels.push(label("transport", &i.to_string()));
            let values = [
                t.bind,
                t.connect,
                t.idle_time % FLOAT64_MANTISSA,
                t.sends,
                t.receives,
                t.bad_xids,
                t.backlog,
                t.max_slots,
                t.sending,
                t.pending,
            ];
            for (family, value) in self.transport.iter_mut().zip(values) {
                family.sample_owned(labels.clone(), value as f64);
            }
        }
        // A name twice would be a duplicate series (node_exporter's scrape fails): the first
        // line of a name is reported.
        let mut seen = HashSet::new();
        for op in &mount.operations {
            if !seen.insert(op.name.as_str()) {
                continue;
            }
            let mut labels = labels.clone();
            labels.push(label("operation", &op.name));
            let v = op.values;
            let ms = |x: u64| (x % FLOAT64_MANTISSA) as f64 / 1000.0;
            let values = [
                v[0] as f64,
                v[1] as f64,
                v[2] as f64,
                v[3] as f64,
                v[4] as f64,
                ms(v[5]),
                ms(v[6]),
                ms(v[7]),
            ];
            for (family, value) in self.operations.iter_mut().zip(values) {
                family.sample_owned(labels.clone(), value);
            }
        }
    }

    fn into_vec(self) -> Vec<MetricFamily> {
        let mut out = vec![self.age, self.info];
        out.extend(self.bytes);
        out.extend(self.events);
        out.extend(self.transport);
        out.extend(self.operations);
        out
    }
}

impl Part for MountStats {
    /// No mountstats: no families. No NFS mount: no families, and mountinfo is not read. A
    /// malformed mount is left out and fails the part after the others were reported.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(text) = read(host, MOUNTSTATS)? else {
            return Ok(());
        };
        let (mounts, skipped) = parse(&text);
        let stats_result = skipped.result("/proc/self/mountstats", !mounts.is_empty());
        if mounts.is_empty() {
            return stats_result;
        }
        let info = read(host, MOUNTINFO)?.ok_or_else(|| {
            Error::msg("reading /proc/self/mountinfo: not found (it lists the mounts' servers)")
        })?;
        let mut info_skipped = Skipped::default();
        let info_lines: Vec<&str> = info.lines().collect();
        let mut families = Families::new();
        let mut seen_points = HashSet::new();
        let mut seen_devices = HashSet::new();
        for mount in &mounts {
            let addr = match info_lines.get(mount.index) {
                Some(line) => server_address(line).unwrap_or_else(|e| {
                    info_skipped.line(mount.index + 1, e);
                    String::new()
                }),
                None => String::new(),
            };
            for t in &mount.transports {
                let point = (
                    mount.device.as_str(),
                    t.protocol.as_str(),
                    addr.clone(),
                    mount.mount_point.as_str(),
                );
                if seen_points.insert(point) {
                    families.info.sample_owned(
                        vec![
                            label("export", &mount.device),
                            label("protocol", &t.protocol),
                            label("mountaddr", &addr),
                            label("mountpoint", &mount.mount_point),
                        ],
                        1.0,
                    );
                }
                // node_exporter reports an export once per protocol and server.
                if !seen_devices.insert((mount.device.as_str(), t.protocol.as_str(), addr.clone()))
                {
                    break;
                }
                families.add(mount, &t.protocol, &addr);
            }
        }
        out.extend(families.into_vec());
        let problems: Vec<String> = [
            stats_result,
            info_skipped.result("/proc/self/mountinfo", true),
        ]
        .into_iter()
        .filter_map(|r| r.err().map(|e| e.to_string()))
        .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::msg(problems.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports_of_each_version_and_protocol() {
        let t = transport(&["udp", "832", "1", "2", "3", "4", "5", "6"], "1.0").unwrap();
        assert_eq!(
            (t.bind, t.sends, t.receives, t.bad_xids, t.backlog),
            (1, 2, 3, 4, 6)
        );
        assert_eq!((t.connect, t.idle_time, t.max_slots), (0, 0, 0));
        let tcp: Vec<String> = (0..13).map(|i| i.to_string()).collect();
        let mut fields = vec!["tcp"];
        fields.extend(tcp.iter().map(String::as_str));
        let t = transport(&fields, "1.1").unwrap();
        assert_eq!(
            (t.connect, t.idle_time, t.backlog, t.pending),
            (2, 4, 9, 12)
        );
        assert!(transport(&fields, "1.0").is_err());
        assert!(transport(&fields, "1.2").is_err());
        fields[0] = "tcp-tls";
        assert!(transport(&fields, "1.1").is_err());
        let mut rdma = vec!["rdma"];
        let values: Vec<String> = (0..28).map(|i| (100 + i).to_string()).collect();
        rdma.extend(values.iter().map(String::as_str));
        let t = transport(&rdma, "1.1").unwrap();
        assert_eq!((t.backlog, t.max_slots, t.sending), (109, 0, 0));
    }

    #[test]
    fn server_address_is_the_last_addr_option() {
        let line = "1 2 0:44 / /mnt rw - nfs srv:/x rw,addr=10.0.0.1,vers=3,addr=10.0.0.2=x";
        assert_eq!(server_address(line).unwrap(), "10.0.0.2");
        let line = "1 2 0:44 / /mnt rw - nfs srv:/x rw,vers=3";
        assert_eq!(server_address(line).unwrap(), "");
        assert!(server_address("garbage").is_err());
    }
}
