//! Durable delivery with a real Prometheus receiver: a receiver outage, `kill -9` of the agent
//! during an outage, and a corrupt log tail. Every check reads the samples back through
//! Prometheus' query API.

use crate::agent::{Daemon, ONLY_CPU, value};
use crate::prometheus::Prometheus;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// sonde collecting cpu every second into `prometheus`, fast retries.
fn agent(prometheus: &Prometheus) -> Daemon {
    Daemon::start(&format!(
        "interval = \"1s\"\n{ONLY_CPU}[[remote_write]]\nurl = \"{}\"\nqueue = {{ batch_send_deadline = \"1s\", max_backoff = \"500ms\" }}\n",
        prometheus.write_url()
    ))
}

/// The sum of the values of the series whose names start with one of `names`.
fn total(m: &BTreeMap<String, f64>, names: &[&str]) -> f64 {
    m.iter()
        .filter(|(k, _)| names.iter().any(|n| k.starts_with(n)))
        .map(|(_, v)| *v)
        .sum()
}

/// Samples that left the queue: delivered, rejected for good or dropped.
const SETTLED: [&str; 4] = [
    "sonde_remote_write_samples_sent_total",
    "sonde_remote_write_samples_failed_total",
    "sonde_remote_write_samples_dropped_total",
    "sonde_wal_dropped_samples_total",
];

/// Waits until every sample queued now has left the queue. "Nothing pending" is no criterion:
/// with a 1 s interval a new cycle's samples are usually appended before the previous batch's
/// request returns, so the queue may never be seen empty. The log is sent in order, so once the
/// settled count reaches what was settled plus pending at the start, all of those are through.
fn drained(daemon: &Daemon) {
    let start = daemon.wait_for(Duration::from_secs(60), |m| {
        m.keys()
            .any(|k| k.starts_with("sonde_remote_write_samples_pending"))
    });
    let target = total(&start, &SETTLED) + total(&start, &["sonde_remote_write_samples_pending"]);
    daemon.wait_for(Duration::from_secs(60), |m| total(m, &SETTLED) >= target);
}

/// The largest gap between consecutive `node_load1` samples whose time lies in [from, to].
fn largest_gap(prometheus: &Prometheus, from: f64, to: f64) -> (usize, f64) {
    let mut times: Vec<f64> = prometheus
        .sample_times("node_load1", "5m")
        .into_iter()
        .filter(|t| *t >= from && *t <= to)
        .collect();
    times.sort_by(f64::total_cmp);
    let gap = times.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    (times.len(), gap)
}

#[test]
fn every_sample_of_a_receiver_outage_arrives() {
    let Some(mut prometheus) = Prometheus::start() else {
        return;
    };
    let daemon = agent(&prometheus);
    drained(&daemon);
    let down = now();
    prometheus.stop();
    std::thread::sleep(Duration::from_secs(6));
    let up = now();
    prometheus.resume();
    drained(&daemon);
    // A lost outage would leave a gap of 6 s or more; a busy machine may delay (and so skip) a
    // 1 s cycle now and then, hence the margins.
    let (samples, gap) = largest_gap(&prometheus, down - 2.0, up + 2.0);
    assert!(
        samples >= 5,
        "{samples} samples in a {:.0}s window",
        up - down + 4.0
    );
    assert!(
        gap < 3.5,
        "a gap of {gap:.1}s: samples of the outage were lost"
    );
    let m = daemon.metrics();
    let endpoint = format!(r#"{{endpoint="{}"}}"#, prometheus.write_url());
    assert_eq!(
        value(&m, &format!("sonde_wal_dropped_samples_total{endpoint}")),
        0.0
    );
    assert!(
        value(
            &m,
            &format!("sonde_remote_write_samples_retried_total{endpoint}")
        ) > 0.0
    );
}

/// A drained agent whose receiver then goes down for `outage` before the agent is killed with
/// SIGKILL; returns the stopped Prometheus, the killed agent and when the outage began. `None`
/// when Prometheus is not installed.
fn killed_during_outage(outage: Duration) -> Option<(Prometheus, Daemon, f64)> {
    let mut prometheus = Prometheus::start()?;
    let mut daemon = agent(&prometheus);
    drained(&daemon);
    let down = now();
    prometheus.stop();
    std::thread::sleep(outage);
    daemon.kill9();
    Some((prometheus, daemon, down))
}

#[test]
fn samples_accepted_before_a_kill_9_arrive_after_restart() {
    let Some((mut prometheus, mut daemon, down)) = killed_during_outage(Duration::from_secs(4))
    else {
        return;
    };
    let killed = now();
    std::thread::sleep(Duration::from_secs(2));
    daemon.restart();
    prometheus.resume();
    drained(&daemon);
    // The samples of the outage up to the kill are there without a gap.
    let (samples, gap) = largest_gap(&prometheus, down - 1.0, killed - 0.5);
    assert!(samples >= 3, "only {samples} samples before the kill");
    assert!(gap < 3.5, "a gap of {gap:.1}s before the kill");
    assert!(
        daemon.log().contains("replaying undelivered samples"),
        "{}",
        daemon.log()
    );
}

#[test]
fn a_corrupt_last_segment_is_cut_and_the_rest_delivered() {
    let Some((mut prometheus, mut daemon, down)) = killed_during_outage(Duration::from_secs(5))
    else {
        return;
    };
    // Damage the end of the newest segment: the last record fails its checksum.
    let wal = std::fs::read_dir(daemon.dir().join("state/wal"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("shard-0");
    let mut segments: Vec<_> = std::fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segments.sort();
    let last = segments.last().unwrap();
    let mut bytes = std::fs::read(last).unwrap();
    let end = bytes.len();
    bytes[end - 3] ^= 0x5a;
    bytes.extend_from_slice(&[1, 2, 3]);
    std::fs::write(last, bytes).unwrap();
    daemon.restart();
    prometheus.resume();
    drained(&daemon);
    assert!(
        daemon.log().contains("truncating the rest of the segment"),
        "{}",
        daemon.log()
    );
    // Everything before the damaged record arrived (it held one cycle's samples, ~1s).
    let (samples, gap) = largest_gap(&prometheus, down - 1.0, down + 3.0);
    assert!(samples >= 3, "only {samples} samples before the damage");
    assert!(gap < 3.5, "a gap of {gap:.1}s");
    let m = daemon.metrics();
    assert!(
        m.iter()
            .any(|(k, v)| k.starts_with("sonde_wal_truncated_bytes_total") && *v > 0.0)
    );
}
