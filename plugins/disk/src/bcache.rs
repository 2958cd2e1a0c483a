//! node_exporter's `bcache` collector: each bcache cache set in `/sys/fs/bcache/<uuid>`, its
//! backing devices (`bdev<N>`) and cache devices (`cache<N>`), as procfs' `bcache` package reads
//! them. Values are in bcache's human-readable format (`20.4G`, `321.5k/sec`), converted the way
//! procfs does (its fraction digits count 1/10.24ths, as the kernel's `bch_hprint` prints them).
//!
//! As in node_exporter, `btree_read_average_duration_us` (microseconds) is read as nanoseconds:
//! `node_bcache_btree_read_average_duration_seconds` is the file's value × 1e-9.

use crate::sysfs::{self, Families, Problems};
use serde::{Deserialize, Serialize};
use sonde_sdk::bundle::Part;
use sonde_sdk::{Error, FsError, Host, MetricFamily};

/// `bcache = { … }`: node_exporter's `bcache` collector and its flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Run it (`--collector.bcache`, on).
    pub enabled: bool,
    /// Also read each cache device's `priority_stats`, which the kernel computes expensively
    /// (`--collector.bcache.priorityStats`, off).
    pub priority_stats: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            priority_stats: false,
        }
    }
}

/// The bcache part.
pub struct Bcache {
    priority_stats: bool,
}

impl Bcache {
    /// The part with its flag.
    pub fn new(config: &Config) -> Self {
        Bcache {
            priority_stats: config.priority_stats,
        }
    }
}

/// The cache set's gauges in `/sys/fs/bcache/<uuid>/`: file, metric, HELP.
const SET_GAUGES: [(&str, &str, &str); 6] = [
    (
        "average_key_size",
        "node_bcache_average_key_size_sectors",
        "Average data per key in the btree (sectors).",
    ),
    (
        "btree_cache_size",
        "node_bcache_btree_cache_size_bytes",
        "Amount of memory currently used by the btree cache.",
    ),
    (
        "cache_available_percent",
        "node_bcache_cache_available_percent",
        "Percentage of cache device without dirty data, usable for writeback (may contain clean cached data).",
    ),
    ("congested", "node_bcache_congested", "Congestion."),
    (
        "root_usage_percent",
        "node_bcache_root_usage_percent",
        "Percentage of the root btree node in use (tree depth increases if too high).",
    ),
    (
        "tree_depth",
        "node_bcache_tree_depth",
        "Depth of the btree.",
    ),
];

/// The files of `/sys/fs/bcache/<uuid>/internal/`.
const INTERNAL: [&str; 4] = [
    "active_journal_entries",
    "btree_nodes",
    "btree_read_average_duration_us",
    "cache_read_races",
];

/// The counters of a backing device's `stats_total/`: file, metric, HELP.
/// `cache_readaheads` is reported only when not zero, as node_exporter does.
const PERIOD: [(&str, &str, &str); 7] = [
    (
        "bypassed",
        "node_bcache_bypassed_bytes_total",
        "Amount of IO (both reads and writes) that has bypassed the cache.",
    ),
    (
        "cache_hits",
        "node_bcache_cache_hits_total",
        "Hits counted per individual IO as bcache sees them.",
    ),
    (
        "cache_misses",
        "node_bcache_cache_misses_total",
        "Misses counted per individual IO as bcache sees them.",
    ),
    (
        "cache_bypass_hits",
        "node_bcache_cache_bypass_hits_total",
        "Hits for IO intended to skip the cache.",
    ),
    (
        "cache_bypass_misses",
        "node_bcache_cache_bypass_misses_total",
        "Misses for IO intended to skip the cache.",
    ),
    (
        "cache_miss_collisions",
        "node_bcache_cache_miss_collisions_total",
        "Instances where data insertion from cache miss raced with write (data already present).",
    ),
    (
        "cache_readaheads",
        "node_bcache_cache_readaheads_total",
        "Count of times readahead occurred.",
    ),
];

/// `writeback_rate_debug` lines: prefix, signed, metric, HELP (`dirty:` and `next io:` are not
/// reported).
const WRITEBACK: [(&str, bool, &str, &str); 5] = [
    (
        "target:",
        false,
        "node_bcache_dirty_target_bytes",
        "Current dirty data target threshold for this backing device in bytes.",
    ),
    (
        "rate:",
        false,
        "node_bcache_writeback_rate",
        "Current writeback rate for this backing device in bytes.",
    ),
    (
        "proportional:",
        true,
        "node_bcache_writeback_rate_proportional_term",
        "Current result of proportional controller, part of writeback rate",
    ),
    (
        "integral:",
        true,
        "node_bcache_writeback_rate_integral_term",
        "Current result of integral controller, part of writeback rate",
    ),
    (
        "change:",
        true,
        "node_bcache_writeback_change",
        "Last writeback rate change step for this backing device.",
    ),
];

impl Part for Bcache {
    /// One listing of `/sys/fs/bcache` when there is none. A value that cannot be read or
    /// parsed leaves out its series and fails the part; a file that does not exist reads as 0
    /// (procfs' rule), except `writeback_rate_debug` and `priority_stats`, whose series are left
    /// out.
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(entries) = sysfs::list(host, "fs/bcache")? else {
            return Ok(());
        };
        let mut families = Families::default();
        let mut problems = Problems::default();
        // procfs globs `fs/bcache/*-*`: the cache sets, not `register` and the like.
        for entry in entries.iter().filter(|e| e.name.contains('-')) {
            if !sysfs::readable_name(&entry.name) {
                problems.add(format!(
                    "/sys/fs/bcache: {:?} is not valid UTF-8, skipped",
                    entry.name
                ));
                continue;
            }
            self.cache_set(host, &entry.name, &mut families, &mut problems);
        }
        families.into_out(out);
        problems.result()
    }
}

impl Bcache {
    fn cache_set(&self, host: &Host, uuid: &str, families: &mut Families, problems: &mut Problems) {
        let dir = format!("fs/bcache/{uuid}");
        let labels = [("uuid", uuid)];
        let names: Vec<&str> = SET_GAUGES.iter().map(|(file, _, _)| *file).collect();
        let reads = sysfs::read_files(host, &dir, &names);
        for ((file, metric, help), read) in SET_GAUGES.iter().zip(reads) {
            if let Some(v) = value(read, &dir, file, problems) {
                families.gauge(metric, help, &labels, v);
            }
        }
        let internal_dir = format!("{dir}/internal");
        let reads = sysfs::read_files(host, &internal_dir, &INTERNAL);
        let [journal, nodes, duration, races] = reads
            .into_iter()
            .zip(INTERNAL)
            .map(|(read, file)| value(read, &internal_dir, file, problems))
            .collect::<Vec<_>>()
            .try_into()
            .unwrap_or([None; 4]);
        if let Some(v) = journal {
            families.gauge(
                "node_bcache_active_journal_entries",
                "Number of journal entries that are newer than the index.",
                &labels,
                v,
            );
        }
        if let Some(v) = nodes {
            families.gauge(
                "node_bcache_btree_nodes",
                "Total nodes in the btree.",
                &labels,
                v,
            );
        }
        if let Some(v) = duration {
            families.gauge(
                "node_bcache_btree_read_average_duration_seconds",
                "Average btree read duration.",
                &labels,
                v * 1e-9,
            );
        }
        if let Some(v) = races {
            families.counter(
                "node_bcache_cache_read_races_total",
                "Counts instances where while data was being read from the cache, the bucket was reused and invalidated - i.e. where the pointer was stale after the read completed.",
                &labels,
                v,
            );
        }

        let entries = match sysfs::list(host, &dir) {
            Ok(entries) => entries.unwrap_or_default(),
            Err(e) => {
                problems.add(e.to_string());
                return;
            }
        };
        for entry in &entries {
            let name = entry.name.as_str();
            let backing = numbered(name, "bdev");
            let cache = numbered(name, "cache");
            if !(backing || cache) {
                continue;
            }
            if !sysfs::readable_name(name) {
                problems.add(format!("/sys/{dir}: {name:?} is not valid UTF-8, skipped"));
            } else if backing {
                backing_device(host, &dir, uuid, name, families, problems);
            } else {
                self.cache_device(host, &dir, uuid, name, families, problems);
            }
        }
    }

    fn cache_device(
        &self,
        host: &Host,
        set_dir: &str,
        uuid: &str,
        name: &str,
        families: &mut Families,
        problems: &mut Problems,
    ) {
        let dir = format!("{set_dir}/{name}");
        let labels = [("uuid", uuid), ("cache_device", name)];
        let mut files = vec!["io_errors", "metadata_written", "written"];
        if self.priority_stats {
            files.push("priority_stats");
        }
        let mut reads = sysfs::read_files(host, &dir, &files).into_iter();
        if let Some(v) = value(
            reads.next().unwrap_or(Ok(None)),
            &dir,
            "io_errors",
            problems,
        ) {
            families.gauge(
                "node_bcache_io_errors",
                "Number of errors that have occurred, decayed by io_error_halflife.",
                &labels,
                v,
            );
        }
        let read = reads.next().unwrap_or(Ok(None));
        if let Some(v) = value(read, &dir, "metadata_written", problems) {
            families.counter(
                "node_bcache_metadata_written_bytes_total",
                "Sum of all non data writes (btree writes and all other metadata).",
                &labels,
                v,
            );
        }
        if let Some(v) = value(reads.next().unwrap_or(Ok(None)), &dir, "written", problems) {
            families.counter(
                "node_bcache_written_bytes_total",
                "Sum of all data that has been written to the cache.",
                &labels,
                v,
            );
        }
        if !self.priority_stats {
            return;
        }
        let text = match reads.next().unwrap_or(Ok(None)) {
            Ok(Some(text)) => text,
            Ok(None) => return,
            Err(e) => return problems.read(&format!("{dir}/priority_stats"), &e),
        };
        match parse_priority_stats(&text) {
            Ok((unused, metadata)) => {
                families.gauge(
                    "node_bcache_priority_stats_unused_percent",
                    "The percentage of the cache that doesn't contain any data.",
                    &labels,
                    unused,
                );
                families.gauge(
                    "node_bcache_priority_stats_metadata_percent",
                    "Bcache's metadata overhead.",
                    &labels,
                    metadata,
                );
            }
            Err(e) => problems.add(format!("/sys/{dir}/priority_stats: {e}")),
        }
    }
}

/// One backing device's series: `dirty_data`, `writeback_rate_debug`, `stats_total/`.
fn backing_device(
    host: &Host,
    set_dir: &str,
    uuid: &str,
    name: &str,
    families: &mut Families,
    problems: &mut Problems,
) {
    let dir = format!("{set_dir}/{name}");
    let labels = [("uuid", uuid), ("backing_device", name)];
    let mut paths = vec![
        format!("{dir}/dirty_data"),
        format!("{dir}/writeback_rate_debug"),
    ];
    paths.extend(
        PERIOD
            .iter()
            .map(|(file, _, _)| format!("{dir}/stats_total/{file}")),
    );
    let mut reads = sysfs::read_paths(host, &paths).into_iter();
    if let Some(v) = value(
        reads.next().unwrap_or(Ok(None)),
        &dir,
        "dirty_data",
        problems,
    ) {
        families.gauge(
            "node_bcache_dirty_data_bytes",
            "Amount of dirty data for this backing device in the cache.",
            &labels,
            v,
        );
    }
    match reads.next().unwrap_or(Ok(None)) {
        Ok(Some(text)) => {
            let (values, bad) = parse_writeback_rate_debug(&text);
            for ((_, _, metric, help), v) in WRITEBACK.iter().zip(values) {
                families.gauge(metric, help, &labels, v.unwrap_or(0.0));
            }
            if let Some(bad) = bad {
                problems.add(format!("/sys/{dir}/writeback_rate_debug: {bad}"));
            }
        }
        Ok(None) => {}
        Err(e) => problems.read(&format!("{dir}/writeback_rate_debug"), &e),
    }
    let stats_dir = format!("{dir}/stats_total");
    for ((file, metric, help), read) in PERIOD.iter().zip(reads) {
        let Some(v) = value(read, &stats_dir, file, problems) else {
            continue;
        };
        if *file == "cache_readaheads" && v == 0.0 {
            continue;
        }
        families.counter(metric, help, &labels, v);
    }
}

/// True for `prefix` followed by a digit (procfs' glob `bdev[0-9]*`).
fn numbered(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

/// A value file: its number, 0 when it does not exist (procfs' rule), `None` (and a problem)
/// when it cannot be read or parsed.
fn value(
    read: Result<Option<String>, FsError>,
    dir: &str,
    file: &str,
    problems: &mut Problems,
) -> Option<f64> {
    match read {
        Ok(Some(text)) => match dehumanize(text.trim()) {
            Ok(v) => Some(v as f64),
            Err(e) => {
                problems.add(format!("/sys/{dir}/{file}: {e}"));
                None
            }
        },
        Ok(None) => Some(0.0),
        Err(e) => {
            problems.read(&format!("{dir}/{file}"), &e);
            None
        }
    }
}

/// A number as the kernel's `bch_hprint` prints it: `546`, `20.4G`, `321.5k` (the fraction
/// digits count 1/10.24ths), as procfs' `dehumanize` reads it.
pub fn dehumanize(text: &str) -> Result<u64, String> {
    let Some(last) = text.chars().last() else {
        return Err("empty value".to_owned());
    };
    let bad = || format!("{text:?} is not a number");
    if last.is_ascii_digit() {
        return text
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(|v| v as u64)
            .ok_or_else(bad);
    }
    let power = match last {
        'k' => 1,
        'M' => 2,
        'G' => 3,
        'T' => 4,
        'P' => 5,
        'E' => 6,
        'Z' => 7,
        'Y' => 8,
        _ => return Err(bad()),
    };
    let mantissa = &text[..text.len() - 1];
    let (int, frac) = match mantissa.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (mantissa, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(bad());
    }
    let mut v: f64 = int.parse().map_err(|_| bad())?;
    if let Some(frac) = frac {
        v += frac.parse::<f64>().map_err(|_| bad())? / 10.24;
    }
    Ok((v * 1024f64.powi(power)) as u64)
}

/// A signed `bch_hprint` number (`-427.5k`).
fn dehumanize_signed(text: &str) -> Result<f64, String> {
    match text.strip_prefix('-') {
        Some(rest) => dehumanize(rest).map(|v| -(v as f64)),
        None => dehumanize(text).map(|v| v as f64),
    }
}

/// The values of `writeback_rate_debug` in [`WRITEBACK`]'s order (`None` for a line that is
/// missing or malformed, reported as 0 as procfs does for a missing one), and the first
/// malformed line.
fn parse_writeback_rate_debug(text: &str) -> ([Option<f64>; 5], Option<String>) {
    let mut values = [None; 5];
    let mut bad = None;
    for line in text.lines() {
        let Some(i) = WRITEBACK
            .iter()
            .position(|(p, _, _, _)| line.starts_with(p))
        else {
            continue;
        };
        let (prefix, signed, _, _) = WRITEBACK[i];
        let field = line[prefix.len()..].split_whitespace().last().unwrap_or("");
        let field = field.strip_suffix("/sec").unwrap_or(field);
        let parsed = if signed {
            dehumanize_signed(field)
        } else {
            dehumanize(field).map(|v| v as f64)
        };
        match parsed {
            Ok(v) => values[i] = Some(v),
            Err(e) => {
                bad.get_or_insert_with(|| format!("line {line:?}: {e}"));
            }
        }
    }
    (values, bad)
}

/// `Unused:` and `Metadata:` of `priority_stats`, in percent (0 when a line is missing).
fn parse_priority_stats(text: &str) -> Result<(f64, f64), String> {
    let mut unused = 0.0;
    let mut metadata = 0.0;
    for line in text.lines() {
        let slot = if line.starts_with("Unused:") {
            &mut unused
        } else if line.starts_with("Metadata:") {
            &mut metadata
        } else {
            continue;
        };
        let field = line.split_whitespace().last().unwrap_or("");
        let field = field.strip_suffix('%').unwrap_or(field);
        *slot = field
            .parse::<u64>()
            .map_err(|e| format!("line {line:?}: {e}"))? as f64;
    }
    Ok((unused, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dehumanize_follows_bch_hprint() {
        assert_eq!(dehumanize("546"), Ok(546));
        assert_eq!(dehumanize("20.4G"), Ok(21_894_266_880));
        assert_eq!(dehumanize("321.5k"), Ok(329_204));
        assert_eq!(dehumanize("1.1M"), Ok(1_150_976));
        assert_eq!(dehumanize("512"), Ok(512));
        assert_eq!(dehumanize_signed("-427.5k"), Ok(-437_748.0));
        for bad in ["", "k", "1.k", "x", "1.5q", "-1", "1..5k", "1.-5k", "NaN"] {
            assert!(dehumanize(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn writeback_rate_debug_and_priority_stats() {
        let text = "rate:\t\t1.1M/sec\ndirty:\t\t20.4G\ntarget:\t\t20.4G\nproportional:\t427.5k\n\
                    integral:\t790.0k\nchange:\t\t321.5k/sec\nnext io:\t17ms\n";
        let (values, bad) = parse_writeback_rate_debug(text);
        assert_eq!(
            values,
            [
                Some(21_894_266_880.0),
                Some(1_150_976.0),
                Some(437_748.0),
                Some(808_960.0),
                Some(329_204.0)
            ]
        );
        assert_eq!(bad, None);
        let (values, bad) = parse_writeback_rate_debug("rate: x/sec\nchange: -1k/sec\n");
        assert_eq!(values, [None, None, None, None, Some(-1024.0)]);
        assert_eq!(bad.unwrap(), "line \"rate: x/sec\": \"x\" is not a number");
        assert_eq!(
            parse_priority_stats("Unused:\t\t99%\nMetadata:\t0%\nAverage:\t10473\n"),
            Ok((99.0, 0.0))
        );
        assert!(parse_priority_stats("Unused: many%\n").is_err());
    }
}
