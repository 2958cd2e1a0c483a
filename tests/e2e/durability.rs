//! Durable delivery with a real Prometheus receiver: a receiver outage, `kill -9` of the agent
//! during an outage, and a corrupt log tail. Every check reads the samples back through
//! Prometheus' query API.

use crate::agent::{Daemon, ONLY_CPU, value};
use crate::prometheus::Prometheus;
use crate::support::Receiver;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// sonde collecting cpu every second into `prometheus` (endpoint `prometheus`, fast retries) and
/// into a witness (endpoint `witness`), a receiver that is never down: what the witness got is
/// what sonde collected, the reference Prometheus' samples are counted against.
fn agent(prometheus: &Prometheus) -> (Daemon, Receiver) {
    let witness = Receiver::start(Vec::new());
    let queue = "queue = { batch_send_deadline = \"1s\", max_backoff = \"500ms\" }";
    let daemon = Daemon::start(&format!(
        "interval = \"1s\"\n{ONLY_CPU}\
         [[remote_write]]\nname = \"prometheus\"\nurl = \"{}\"\n{queue}\n\
         [[remote_write]]\nname = \"witness\"\nurl = \"http://127.0.0.1:{}/api/v1/write\"\n{queue}\n",
        prometheus.write_url(),
        witness.port
    ));
    (daemon, witness)
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

/// The timestamps (ms) of the `node_load1` samples Prometheus holds, sorted.
fn stored(prometheus: &Prometheus) -> Vec<i64> {
    let mut times: Vec<i64> = prometheus
        .sample_times("node_load1", "10m")
        .into_iter()
        .map(|t| (t * 1000.0).round() as i64)
        .collect();
    times.sort_unstable();
    times
}

/// The `node_load1` timestamps the witness got, sorted and without repeats, and how many
/// arrived more than once.
fn collected(witness: &Receiver) -> (Vec<i64>, usize) {
    let (_, mut times) = witness.accepted_samples("node_load1");
    let arrived = times.len();
    times.sort_unstable();
    times.dedup();
    let repeats = arrived - times.len();
    (times, repeats)
}

/// Waits (up to 30 s) until the witness got `cycles` cycles, then until everything is settled:
/// the counts a test asserts do not depend on how many ticks the machine's load skipped.
fn witnessed(daemon: &Daemon, witness: &Receiver, cycles: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while collected(witness).0.len() < cycles && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    drained(daemon);
}

/// Stops sonde with SIGTERM once both receivers are up: its queues flush everything.
fn stop(daemon: &Daemon) {
    assert_eq!(daemon.terminate(Duration::from_secs(15)).code(), Some(0));
}

#[test]
fn every_sample_of_a_receiver_outage_arrives() {
    let Some(mut prometheus) = Prometheus::start() else {
        return;
    };
    let (daemon, witness) = agent(&prometheus);
    drained(&daemon);
    prometheus.stop();
    std::thread::sleep(Duration::from_secs(6));
    prometheus.resume();
    drained(&daemon);
    let m = daemon.metrics();
    assert_eq!(
        value(
            &m,
            r#"sonde_wal_dropped_samples_total{endpoint="prometheus"}"#
        ),
        0.0
    );
    assert!(
        value(
            &m,
            r#"sonde_remote_write_samples_retried_total{endpoint="prometheus"}"#
        ) > 0.0
    );
    stop(&daemon);
    // Every cycle's sample is in Prometheus, and nothing else: the same timestamps as the
    // witness got, which got each once.
    let (collected, repeats) = collected(&witness);
    assert_eq!(repeats, 0, "the witness got a sample twice");
    // The 6 s outage alone holds six cycles; before and after it, at least two more.
    assert!(collected.len() >= 8, "{} cycles", collected.len());
    assert_eq!(
        stored(&prometheus),
        collected,
        "Prometheus lacks or adds samples"
    );
    // Nothing was sent twice either: both queues delivered exactly what the witness counted.
    let (arrived, _) = witness.accepted_samples("node_load1");
    let prometheus_sent = daemon
        .flushed("prometheus")
        .unwrap_or_else(|| panic!("{}", daemon.log()));
    assert_eq!(prometheus_sent, (arrived, 0), "{}", daemon.log());
    assert_eq!(daemon.flushed("witness"), Some((arrived, 0)));
}

/// A drained agent whose Prometheus then goes down for `outage` before the agent is killed
/// with SIGKILL; returns the stopped Prometheus, the killed agent and its witness. `None` when
/// Prometheus is not installed.
fn killed_during_outage(outage: Duration) -> Option<(Prometheus, Daemon, Receiver)> {
    let mut prometheus = Prometheus::start()?;
    let (mut daemon, witness) = agent(&prometheus);
    drained(&daemon);
    prometheus.stop();
    std::thread::sleep(outage);
    daemon.kill9();
    Some((prometheus, daemon, witness))
}

/// The witness may get again what was in flight to it when the agent was killed: the position
/// moves once the answer is read, so a request answered in the instant of the kill is resent
/// after the restart (at most one batch; with a 1 s batch deadline, two cycles).
const RESENT_AFTER_KILL: usize = 2;

#[test]
fn samples_accepted_before_a_kill_9_arrive_after_restart() {
    let Some((mut prometheus, mut daemon, witness)) = killed_during_outage(Duration::from_secs(4))
    else {
        return;
    };
    std::thread::sleep(Duration::from_secs(2));
    daemon.restart();
    prometheus.resume();
    drained(&daemon);
    assert!(
        daemon.log().contains("replaying undelivered samples"),
        "{}",
        daemon.log()
    );
    witnessed(&daemon, &witness, 6);
    stop(&daemon);
    // Every sample of the outage, the kill and after is in Prometheus, and nothing else.
    let (collected, repeats) = collected(&witness);
    assert!(repeats <= RESENT_AFTER_KILL, "{repeats} samples resent");
    // The 4 s outage alone holds four cycles; before and after it, at least two more.
    assert!(collected.len() >= 6, "{} cycles", collected.len());
    assert_eq!(
        stored(&prometheus),
        collected,
        "Prometheus lacks or adds samples"
    );
}

#[test]
fn a_corrupt_last_segment_is_cut_and_the_rest_delivered() {
    let Some((mut prometheus, mut daemon, witness)) = killed_during_outage(Duration::from_secs(5))
    else {
        return;
    };
    // Damage the end of the newest segment of Prometheus' log: its last record fails its
    // checksum.
    let wal = std::fs::read_dir(daemon.dir().join("state/wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("prometheus-")
        })
        .unwrap()
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
    let restarted = (now() * 1000.0) as i64;
    daemon.restart();
    prometheus.resume();
    drained(&daemon);
    assert!(
        daemon.log().contains("truncating the rest of the segment"),
        "{}",
        daemon.log()
    );
    let m = daemon.metrics();
    assert!(
        m.iter()
            .any(|(k, v)| k.starts_with("sonde_wal_truncated_bytes_total") && *v > 0.0)
    );
    // Nine cycles at the witness: at least eight in Prometheus, all but the damaged record.
    witnessed(&daemon, &witness, 9);
    stop(&daemon);
    // All but the damaged record arrived: at most the last cycle before the kill is missing
    // (the record may also have held the self-metrics instead), and nothing was added.
    let (collected, repeats) = collected(&witness);
    assert!(repeats <= RESENT_AFTER_KILL, "{repeats} samples resent");
    let stored = stored(&prometheus);
    let missing: Vec<i64> = collected
        .iter()
        .filter(|t| stored.binary_search(t).is_err())
        .copied()
        .collect();
    let newest_before_kill = collected.iter().rfind(|t| **t < restarted);
    assert!(
        missing.is_empty() || missing.iter().collect::<Vec<_>>() == [newest_before_kill.unwrap()],
        "missing {missing:?}; the newest sample before the kill is {newest_before_kill:?}"
    );
    assert!(stored.iter().all(|t| collected.binary_search(t).is_ok()));
    assert!(stored.len() >= 8, "{} samples", stored.len());
}
