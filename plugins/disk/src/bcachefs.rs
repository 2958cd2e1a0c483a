//! node_exporter's `bcachefs` collector: each bcachefs filesystem in `/sys/fs/bcachefs/<uuid>`
//! (btree cache size, compression, errors, event counters, btree writes) and its member devices
//! (`dev-<index>`: label, state, buckets, durability, I/O done and I/O errors), parsed as
//! procfs' `bcachefs` package parses them. Sizes such as `2.05G` are binary multiples.

use crate::sysfs::{self, Families, Problems};
use sonde_sdk::bundle::Part;
use sonde_sdk::names::sanitize_metric_name;
use sonde_sdk::{EntryKind, Error, FsError, Host, MetricFamily};

/// The bcachefs part.
pub struct Bcachefs;

/// The fixed families (a counter whose sanitized name would be one of them is left out).
const FIXED: [&str; 13] = [
    "node_bcachefs_info",
    "node_bcachefs_btree_cache_size_bytes",
    "node_bcachefs_compression_compressed_bytes",
    "node_bcachefs_compression_uncompressed_bytes",
    "node_bcachefs_errors_total",
    "node_bcachefs_btree_writes_total",
    "node_bcachefs_btree_write_average_size_bytes",
    "node_bcachefs_device_info",
    "node_bcachefs_device_bucket_size_bytes",
    "node_bcachefs_device_buckets",
    "node_bcachefs_device_durability",
    "node_bcachefs_device_io_done_bytes_total",
    "node_bcachefs_device_io_errors_total",
];

/// The files of a filesystem's directory read in one batch.
const FS_FILES: [&str; 4] = [
    "btree_cache_size",
    "compression_stats",
    "errors",
    "btree_write_stats",
];

/// The files of a device's directory.
const DEV_FILES: [&str; 7] = [
    "label",
    "state",
    "bucket_size",
    "nbuckets",
    "durability",
    "io_done",
    "io_errors",
];

impl Part for Bcachefs {
    /// One listing of `/sys/fs/bcachefs` when there is none. A line or value that cannot be
    /// parsed is left out and fails the part; a file that does not exist reports nothing (its
    /// value 0 for the btree cache size, the bucket count and the durability, as in procfs).
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(entries) = sysfs::list(host, "fs/bcachefs")? else {
            return Ok(());
        };
        let mut families = Families::default();
        let mut problems = Problems::default();
        for entry in entries.iter().filter(|e| e.kind == EntryKind::Dir) {
            if sysfs::readable_name(&entry.name) {
                filesystem(host, &entry.name, &mut families, &mut problems);
            } else {
                problems.add(format!(
                    "/sys/fs/bcachefs: {:?} is not valid UTF-8, skipped",
                    entry.name
                ));
            }
        }
        families.into_out(out);
        problems.result()
    }
}

/// The text of a file, `None` when it does not exist or could not be read (then a problem).
fn text(
    read: Result<Option<String>, FsError>,
    path: &str,
    problems: &mut Problems,
) -> Option<String> {
    read.unwrap_or_else(|e| {
        problems.read(path, &e);
        None
    })
}

fn filesystem(host: &Host, uuid: &str, families: &mut Families, problems: &mut Problems) {
    let dir = format!("fs/bcachefs/{uuid}");
    let labels = [("uuid", uuid)];
    families.gauge(
        "node_bcachefs_info",
        "Filesystem information.",
        &labels,
        1.0,
    );
    let mut reads = sysfs::read_files(host, &dir, &FS_FILES).into_iter();
    let mut next = |file: &str, problems: &mut Problems| {
        text(
            reads.next().unwrap_or(Ok(None)),
            &format!("{dir}/{file}"),
            problems,
        )
    };

    let cache_size = match next("btree_cache_size", problems).map(|t| t.trim().to_owned()) {
        None => Some(0.0),
        Some(t) if t.is_empty() => Some(0.0),
        Some(t) => human_bytes(&t)
            .map_err(|e| problems.add(format!("/sys/{dir}/btree_cache_size: {e}")))
            .ok(),
    };
    if let Some(v) = cache_size {
        families.gauge(
            "node_bcachefs_btree_cache_size_bytes",
            "Btree cache memory usage in bytes.",
            &labels,
            v,
        );
    }

    if let Some(text) = next("compression_stats", problems) {
        let mut bad = LineProblems::new(&dir, "compression_stats");
        // The first line is the header.
        for (n, line) in text.lines().enumerate().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 3 {
                continue;
            }
            let algorithm = fields[0].strip_suffix(':').unwrap_or(fields[0]);
            let parsed = human_bytes(fields[1]).and_then(|c| {
                let u = human_bytes(fields[2])?;
                match fields.get(3) {
                    Some(avg) => human_bytes(avg).map(|_| (c, u)),
                    None => Ok((c, u)),
                }
            });
            match parsed {
                Ok((compressed, uncompressed)) => {
                    let labels = [("uuid", uuid), ("algorithm", algorithm)];
                    families.gauge(
                        "node_bcachefs_compression_compressed_bytes",
                        "Compressed size by algorithm.",
                        &labels,
                        compressed,
                    );
                    families.gauge(
                        "node_bcachefs_compression_uncompressed_bytes",
                        "Uncompressed size by algorithm.",
                        &labels,
                        uncompressed,
                    );
                }
                Err(e) => bad.line(n, line, &e),
            }
        }
        bad.report(problems);
    }

    if let Some(text) = next("errors", problems) {
        let mut bad = LineProblems::new(&dir, "errors");
        for (n, line) in text.lines().enumerate() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 2 {
                continue;
            }
            let count = fields[1].parse::<u64>().map_err(|e| e.to_string());
            let time = fields
                .get(2)
                .map(|t| t.parse::<u64>().map_err(|e| e.to_string()));
            match (count, time) {
                (Ok(count), None | Some(Ok(_))) => families.counter(
                    "node_bcachefs_errors_total",
                    "Error count by error type.",
                    &[("uuid", uuid), ("error_type", fields[0])],
                    count as f64,
                ),
                (Err(e), _) | (_, Some(Err(e))) => bad.line(n, line, &e),
            }
        }
        bad.report(problems);
    }

    if let Some(text) = next("btree_write_stats", problems) {
        let mut bad = LineProblems::new(&dir, "btree_write_stats");
        for (n, line) in text.lines().enumerate().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 3 {
                continue;
            }
            let kind = fields[0].strip_suffix(':').unwrap_or(fields[0]);
            let count = fields[1].parse::<u64>().map_err(|e| e.to_string());
            match count.and_then(|c| Ok((c, human_bytes(fields[2])?))) {
                Ok((count, size)) => {
                    let labels = [("uuid", uuid), ("type", kind)];
                    families.counter(
                        "node_bcachefs_btree_writes_total",
                        "Number of btree writes by type.",
                        &labels,
                        count as f64,
                    );
                    families.gauge(
                        "node_bcachefs_btree_write_average_size_bytes",
                        "Average btree write size by type.",
                        &labels,
                        size,
                    );
                }
                Err(e) => bad.line(n, line, &e),
            }
        }
        bad.report(problems);
    }

    counters(host, &dir, uuid, families, problems);
    devices(host, &dir, uuid, families, problems);
}

/// `counters/<name>`: `node_bcachefs_<name>_total`, the count since the filesystem was created.
fn counters(host: &Host, dir: &str, uuid: &str, families: &mut Families, problems: &mut Problems) {
    let counters_dir = format!("{dir}/counters");
    let names: Vec<String> = match sysfs::list(host, &counters_dir) {
        Ok(entries) => entries
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.kind != EntryKind::Dir)
            .map(|e| e.name)
            .filter(|name| {
                let ok = sysfs::readable_name(name);
                if !ok {
                    problems.add(format!(
                        "/sys/{counters_dir}: {name:?} is not valid UTF-8, skipped"
                    ));
                }
                ok
            })
            .collect(),
        Err(e) => return problems.add(e.to_string()),
    };
    let files: Vec<&str> = names.iter().map(String::as_str).collect();
    for (name, read) in names
        .iter()
        .zip(sysfs::read_files(host, &counters_dir, &files))
    {
        let path = format!("{counters_dir}/{name}");
        let Some(text) = text(read, &path, problems) else {
            continue;
        };
        let value = match parse_counter(&text) {
            Ok(value) => value,
            Err(e) => {
                problems.add(format!("/sys/{path}: {e}"));
                continue;
            }
        };
        let metric = format!("node_bcachefs_{}_total", sanitize_metric_name(name));
        if FIXED.contains(&metric.as_str()) {
            problems.add(format!(
                "/sys/{path}: {metric} would clash with a family of its own, skipped"
            ));
            continue;
        }
        families.counter(
            &metric,
            &format!("Bcachefs counter {name} since filesystem creation."),
            &[("uuid", uuid)],
            value,
        );
    }
}

/// The member devices, `dev-<index>`.
fn devices(host: &Host, dir: &str, uuid: &str, families: &mut Families, problems: &mut Problems) {
    let devices: Vec<String> = match sysfs::list(host, dir) {
        Ok(entries) => entries
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.kind == EntryKind::Dir && e.name.starts_with("dev-"))
            .map(|e| e.name)
            .collect(),
        Err(e) => return problems.add(e.to_string()),
    };
    let mut paths = Vec::with_capacity(devices.len() * DEV_FILES.len());
    for device in &devices {
        paths.extend(DEV_FILES.iter().map(|f| format!("{dir}/{device}/{f}")));
    }
    let mut reads = sysfs::read_paths(host, &paths).into_iter();
    for name in &devices {
        let reads: Vec<_> = reads.by_ref().take(DEV_FILES.len()).collect();
        if !sysfs::readable_name(name) {
            problems.add(format!("/sys/{dir}: {name:?} is not valid UTF-8, skipped"));
            continue;
        }
        let device = &name["dev-".len()..];
        let dev_dir = format!("{dir}/{name}");
        let [
            label,
            state,
            bucket_size,
            nbuckets,
            durability,
            io_done,
            io_errors,
        ] = reads
            .try_into()
            .unwrap_or_else(|_| std::array::from_fn(|_| Ok(None)));
        // procfs reads label and state as "" when they cannot be read.
        let attr = |read: Result<Option<String>, FsError>| {
            read.ok()
                .flatten()
                .map(|t| t.trim().to_owned())
                .unwrap_or_default()
        };
        families.gauge(
            "node_bcachefs_device_info",
            "Device information.",
            &[
                ("uuid", uuid),
                ("device", device),
                ("label", &attr(label)),
                ("state", &attr(state)),
            ],
            1.0,
        );
        let labels = [("uuid", uuid), ("device", device)];
        let bucket = match bucket_size {
            Ok(Some(t)) if !t.trim().is_empty() => human_bytes(t.trim())
                .map_err(|e| problems.add(format!("/sys/{dev_dir}/bucket_size: {e}")))
                .ok(),
            _ => Some(0.0),
        };
        if let Some(v) = bucket {
            families.gauge(
                "node_bcachefs_device_bucket_size_bytes",
                "Bucket size in bytes.",
                &labels,
                v,
            );
        }
        for (read, file, metric, help) in [
            (
                nbuckets,
                "nbuckets",
                "node_bcachefs_device_buckets",
                "Total number of buckets.",
            ),
            (
                durability,
                "durability",
                "node_bcachefs_device_durability",
                "Device durability setting.",
            ),
        ] {
            let path = format!("{dev_dir}/{file}");
            let value = match text(read, &path, problems) {
                None => Some(0.0),
                Some(t) => t
                    .trim()
                    .parse::<u64>()
                    .map(|v| v as f64)
                    .map_err(|e| problems.add(format!("/sys/{path}: {:?}: {e}", t.trim())))
                    .ok(),
            };
            if let Some(v) = value {
                families.gauge(metric, help, &labels, v);
            }
        }
        if let Some(text) = text(io_done, &format!("{dev_dir}/io_done"), problems) {
            let (done, bad) = parse_io_done(&text);
            for (op, data_type, value) in done {
                families.counter(
                    "node_bcachefs_device_io_done_bytes_total",
                    "IO bytes by operation type and data type.",
                    &[
                        ("uuid", uuid),
                        ("device", device),
                        ("operation", op),
                        ("data_type", data_type),
                    ],
                    value,
                );
            }
            if let Some(bad) = bad {
                problems.add(format!("/sys/{dev_dir}/io_done: {bad}"));
            }
        }
        if let Some(text) = text(io_errors, &format!("{dev_dir}/io_errors"), problems) {
            let (errors, bad) = parse_io_errors(&text);
            for (kind, value) in errors {
                families.counter(
                    "node_bcachefs_device_io_errors_total",
                    "IO errors by error type.",
                    &[("uuid", uuid), ("device", device), ("type", kind)],
                    value,
                );
            }
            if let Some(bad) = bad {
                problems.add(format!("/sys/{dev_dir}/io_errors: {bad}"));
            }
        }
    }
}

/// Malformed lines of one file: counted, the first shown.
struct LineProblems {
    path: String,
    count: usize,
    first: Option<String>,
}

impl LineProblems {
    fn new(dir: &str, file: &str) -> Self {
        LineProblems {
            path: format!("/sys/{dir}/{file}"),
            count: 0,
            first: None,
        }
    }

    fn line(&mut self, index: usize, line: &str, problem: &str) {
        self.count += 1;
        self.first
            .get_or_insert_with(|| format!("line {}: {problem} in line {line:?}", index + 1));
    }

    fn report(self, problems: &mut Problems) {
        if let Some(first) = self.first {
            problems.add(format!(
                "{}: {} malformed line{} skipped: {first}",
                self.path,
                self.count,
                if self.count == 1 { "" } else { "s" }
            ));
        }
    }
}

/// A size as bcachefs prints it: `2.05G`, `720`, `1.26k` (binary multiples, any case).
pub fn human_bytes(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not a size");
    let last = text.chars().last().ok_or_else(|| "empty size".to_owned())?;
    let power = match last.to_ascii_lowercase() {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => 0,
    };
    let number = if power == 0 {
        text
    } else {
        text[..text.len() - 1].trim()
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    if !value.is_finite() || value < 0.0 {
        return Err(bad());
    }
    // procfs converts to an unsigned integer.
    Ok((value * 1024f64.powi(power)).trunc())
}

/// A counter file: the count `since filesystem creation:` (0 when only `since mount:` is
/// there); an error when it has neither.
pub fn parse_counter(text: &str) -> Result<f64, String> {
    let mut creation = None;
    let mut mount = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("since mount:") {
            mount = Some(human_bytes(v)?);
        } else if let Some(v) = line.strip_prefix("since filesystem creation:") {
            creation = Some(human_bytes(v)?);
        }
    }
    match (creation, mount) {
        (Some(v), _) => Ok(v),
        (None, Some(_)) => Ok(0.0),
        (None, None) => Err("counter file format not recognized".to_owned()),
    }
}

/// `io_done`: `read:` and `write:` sections of `<data type> : <bytes>` lines. Returns
/// (operation, data type, bytes) and the first malformed line.
pub fn parse_io_done(text: &str) -> (Vec<(&str, &str, f64)>, Option<String>) {
    let mut done = Vec::new();
    let mut bad = None;
    let mut op = None;
    for line in text.lines() {
        let line = line.trim();
        match line {
            "" => continue,
            "read:" | "write:" => {
                op = Some(&line[..line.len() - 1]);
                continue;
            }
            _ => {}
        }
        let (Some(op), Some((data_type, value))) = (op, line.split_once(':')) else {
            continue;
        };
        match value.trim().parse::<u64>() {
            Ok(v) => done.push((op, data_type.trim(), v as f64)),
            Err(e) => {
                bad.get_or_insert_with(|| format!("line {line:?}: {e}"));
            }
        }
    }
    (done, bad)
}

/// `io_errors`: the `<type>: <count>` lines of its `IO errors since filesystem creation`
/// section, and the first malformed one.
pub fn parse_io_errors(text: &str) -> (Vec<(&str, f64)>, Option<String>) {
    let mut errors = Vec::new();
    let mut bad = None;
    let mut in_creation = false;
    for line in text.lines() {
        if line.starts_with("IO errors since filesystem creation") {
            in_creation = true;
            continue;
        }
        if line.starts_with("IO errors since ") {
            break;
        }
        let Some((kind, value)) = line.trim().split_once(':').filter(|_| in_creation) else {
            continue;
        };
        match value.trim().parse::<u64>() {
            Ok(v) => errors.push((kind.trim(), v as f64)),
            Err(e) => {
                bad.get_or_insert_with(|| format!("line {line:?}: {e}"));
            }
        }
    }
    (errors, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_bytes("2.05G"), Ok(2_201_170_739.0));
        assert_eq!(human_bytes("28.2k"), Ok(28_876.0));
        assert_eq!(human_bytes("720"), Ok(720.0));
        assert_eq!(human_bytes(" 3 M "), Ok(3_145_728.0));
        for bad in ["", "k", "x", "-1", "inf", "NaN", "1.2.3"] {
            assert!(human_bytes(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn counters_io_done_io_errors() {
        assert_eq!(
            parse_counter("since mount:   3\nsince filesystem creation:  1.5k\n"),
            Ok(1536.0)
        );
        assert_eq!(parse_counter("since mount: 3\n"), Ok(0.0));
        assert!(parse_counter("3\n").is_err());
        assert!(parse_counter("since mount: x\n").is_err());
        let (done, bad) = parse_io_done("sb : 1\nread:\nsb  :  2\nuser:x\nwrite:\nbtree: 3\n");
        assert_eq!(done, [("read", "sb", 2.0), ("write", "btree", 3.0)]);
        assert_eq!(
            bad.unwrap(),
            "line \"user:x\": invalid digit found in string"
        );
        let (errors, bad) = parse_io_errors(
            "IO errors since filesystem creation\n  read: 5\n  write:   2\nIO errors since 8 y ago\n  read: 1\n",
        );
        assert_eq!(errors, [("read", 5.0), ("write", 2.0)]);
        assert_eq!(bad, None);
    }
}
