//! Remote-write encoding of a 100,000-series cycle: building the `WriteRequest`, protobuf
//! encoding and snappy compression, in batches of `max_samples_per_send` (2000) as the queue
//! sends them. Prints samples per second on one core and bytes per sample.
//!
//! `cargo bench -p sonde --bench encode`

use sonde::remote_write::SeriesSample;
use sonde::remote_write::encode::encode_batch;
use sonde_sdk::Label;
use std::time::{Duration, Instant};

const SERIES: usize = 100_000;
const BATCH: usize = 2000;
const ROUNDS: u32 = 20;

fn label(name: &str, value: String) -> Label {
    Label {
        name: name.into(),
        value,
    }
}

/// Series shaped like node_exporter's: a name, 2–3 own labels, instance and job.
fn cycle() -> Vec<SeriesSample> {
    let families = [
        "node_cpu_seconds_total",
        "node_network_receive_bytes_total",
        "node_disk_read_bytes_total",
        "namedprocess_namegroup_memory_bytes",
    ];
    (0..SERIES)
        .map(|i| {
            let mut labels = vec![
                label("__name__", families[i % families.len()].to_owned()),
                label("device", format!("dev{}", i % 997)),
                label("instance", "192.0.2.2".to_owned()),
                label("job", "node".to_owned()),
                label("mode", format!("m{}", i / 997)),
            ];
            labels.sort();
            SeriesSample {
                labels,
                value: i as f64 * 1.5,
                timestamp_ms: 1_795_000_000_000,
            }
        })
        .collect()
}

fn main() {
    let samples = cycle();
    let mut bytes = 0;
    let mut best = Duration::MAX;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        bytes = 0;
        let mut scratch = Vec::new();
        for batch in samples.chunks(BATCH) {
            bytes += encode_batch(batch, &[], &mut scratch).len();
        }
        best = best.min(started.elapsed());
    }
    let per_second = SERIES as f64 / best.as_secs_f64();
    println!("encode + snappy of {SERIES} series in batches of {BATCH}:");
    println!(
        "  {:.1} ms per cycle (best of {ROUNDS})",
        best.as_secs_f64() * 1000.0
    );
    println!(
        "  {:.2} million samples per second on one core",
        per_second / 1e6
    );
    println!(
        "  {:.2} bytes per sample on the wire",
        bytes as f64 / SERIES as f64
    );
}
