//! The remote-write encoder: any batch encodes to a body that decodes (snappy, protobuf) to the
//! same series, values (bit for bit) and timestamps.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sonde::remote_write::encode::{SeriesSample, decode, encode_batch};
use sonde_sdk::Label;

fuzz_target!(|batch: Vec<(Vec<(String, String)>, f64, i64)>| {
    let batch: Vec<SeriesSample> = batch
        .into_iter()
        .take(256)
        .map(|(labels, value, timestamp_ms)| SeriesSample {
            labels: labels
                .into_iter()
                .take(16)
                .map(|(name, value)| Label { name, value })
                .collect(),
            value,
            timestamp_ms,
        })
        .collect();
    let body = encode_batch(&batch, &[], &mut Vec::new());
    let decoded = decode(&body).expect("our own body decodes");
    assert_eq!(decoded.timeseries.len(), batch.len());
    for (series, sample) in decoded.timeseries.iter().zip(&batch) {
        let labels: Vec<(&str, &str)> = series
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        let expected: Vec<(&str, &str)> = sample
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        assert_eq!(labels, expected);
        assert_eq!(series.samples.len(), 1);
        assert_eq!(series.samples[0].value.to_bits(), sample.value.to_bits());
        assert_eq!(series.samples[0].timestamp, sample.timestamp_ms);
    }
});
