//! Write-ahead log throughput: appending a cycle's worth of samples (one record per plugin
//! cycle, as the agent does) with each fsync policy, and reading a backlog back in order.
//!
//! `cargo bench -p sonde --bench wal`

use sonde::remote_write::SeriesSample;
use sonde::remote_write::encode::encode_batch;
use sonde::remote_write::wal::Wal;
use sonde_sdk::Label;
use std::time::Instant;

/// A record like one plugin cycle: 100 series of node_exporter shape.
fn record() -> (u32, Vec<u8>) {
    let samples: Vec<SeriesSample> = (0..100)
        .map(|i| SeriesSample {
            labels: vec![
                Label {
                    name: "__name__".into(),
                    value: "node_network_receive_bytes_total".into(),
                },
                Label {
                    name: "device".into(),
                    value: format!("eth{i}"),
                },
                Label {
                    name: "instance".into(),
                    value: "192.0.2.2".into(),
                },
                Label {
                    name: "job".into(),
                    value: "node".into(),
                },
            ],
            value: i as f64 * 1234.5,
            timestamp_ms: 1_795_000_000_000,
        })
        .collect();
    (
        samples.len() as u32,
        encode_batch(&samples, &[], &mut Vec::new()),
    )
}

fn main() {
    let (samples, payload) = record();
    println!(
        "record: {samples} samples, {} bytes compressed",
        payload.len()
    );
    for (policy, sync_each) in [
        ("interval (default)", false),
        ("batch (fsync every append)", true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), 1 << 30, sync_each).unwrap();
        let records = if sync_each { 500 } else { 20_000 };
        let started = Instant::now();
        for _ in 0..records {
            wal.append(samples, 1, &payload).unwrap();
        }
        wal.sync().unwrap();
        let elapsed = started.elapsed();
        println!(
            "append, {policy}: {:.1} µs per record, {:.2} M samples/s, {:.0} MB/s",
            elapsed.as_secs_f64() * 1e6 / records as f64,
            (records as f64 * samples as f64) / elapsed.as_secs_f64() / 1e6,
            (records as f64 * payload.len() as f64) / elapsed.as_secs_f64() / 1e6,
        );
        if !sync_each {
            // Replay: read the backlog back in requests of 2000 samples, advancing the position.
            let started = Instant::now();
            let mut read = 0u64;
            loop {
                let batch = wal.read_from_position(2000).unwrap();
                if batch.is_empty() {
                    break;
                }
                read += wal.acknowledge(&batch).unwrap();
            }
            let elapsed = started.elapsed();
            println!(
                "replay: {read} samples in {:.0} ms, {:.2} M samples/s",
                elapsed.as_secs_f64() * 1000.0,
                read as f64 / elapsed.as_secs_f64() / 1e6
            );
        }
    }
}
