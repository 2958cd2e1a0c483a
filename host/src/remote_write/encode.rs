//! Encoding of a batch of samples as a Prometheus remote-write 1.0 request body: a
//! `prometheus.WriteRequest` protobuf (prost, generated from `proto/remote.proto`), compressed
//! with snappy's block format.

use super::proto::{Label, MetricMetadata, Sample, TimeSeries, WriteRequest};
use prost::Message;

/// One sample of one series, ready to send: labels sorted by name, `__name__` among them.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSample {
    /// The labels, sorted by name.
    pub labels: Vec<sonde_sdk::Label>,
    /// The value (a staleness marker is [`STALE_NAN`]).
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
}

/// Prometheus' staleness marker: a NaN with this exact bit pattern tells the receiver that the
/// series ended.
pub const STALE_NAN: f64 = f64::from_bits(0x7ff0_0000_0000_0002);

/// True for the staleness marker (not for other NaNs).
pub fn is_stale_marker(value: f64) -> bool {
    value.to_bits() == STALE_NAN.to_bits()
}

/// Builds the `WriteRequest` of a batch. Samples of the same series (equal labels, adjacent or
/// not) become one `TimeSeries` with samples in the given (time) order.
pub fn write_request(batch: &[SeriesSample], metadata: Vec<MetricMetadata>) -> WriteRequest {
    let mut timeseries: Vec<TimeSeries> = Vec::with_capacity(batch.len());
    let mut index: std::collections::HashMap<&[sonde_sdk::Label], usize> =
        std::collections::HashMap::with_capacity(batch.len());
    for s in batch {
        let sample = Sample {
            value: s.value,
            timestamp: s.timestamp_ms,
        };
        match index.get(s.labels.as_slice()) {
            Some(&i) => timeseries[i].samples.push(sample),
            None => {
                index.insert(&s.labels, timeseries.len());
                timeseries.push(TimeSeries {
                    labels: s
                        .labels
                        .iter()
                        .map(|l| Label {
                            name: l.name.clone(),
                            value: l.value.clone(),
                        })
                        .collect(),
                    samples: vec![sample],
                });
            }
        }
    }
    WriteRequest {
        timeseries,
        metadata,
    }
}

/// Encodes and snappy-compresses a request: the HTTP body of a remote-write POST.
pub fn encode(request: &WriteRequest) -> Vec<u8> {
    let mut protobuf = Vec::with_capacity(request.encoded_len());
    request
        .encode(&mut protobuf)
        .expect("a Vec grows as needed");
    snap::raw::Encoder::new()
        .compress_vec(&protobuf)
        .expect("snappy accepts any input below 4 GiB")
}

/// Decompresses and decodes a body (for tests and the debugging receiver).
pub fn decode(body: &[u8]) -> Result<WriteRequest, String> {
    let protobuf = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("snappy: {e}"))?;
    WriteRequest::decode(protobuf.as_slice()).map_err(|e| format!("protobuf: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, extra: &[(&str, &str)], value: f64, ts: i64) -> SeriesSample {
        let mut labels: Vec<sonde_sdk::Label> = std::iter::once(("__name__", name))
            .chain(extra.iter().copied())
            .map(|(n, v)| sonde_sdk::Label {
                name: n.into(),
                value: v.into(),
            })
            .collect();
        labels.sort();
        SeriesSample {
            labels,
            value,
            timestamp_ms: ts,
        }
    }

    #[test]
    fn round_trips_and_groups_samples_of_a_series() {
        let batch = vec![
            series("node_load1", &[("instance", "10.0.0.1")], 0.5, 1000),
            series(
                "node_cpu_seconds_total",
                &[("cpu", "0"), ("mode", "idle")],
                12.5,
                1000,
            ),
            series("node_load1", &[("instance", "10.0.0.1")], 0.7, 11000),
        ];
        let request = write_request(&batch, Vec::new());
        assert_eq!(request.timeseries.len(), 2);
        assert_eq!(request.timeseries[0].samples.len(), 2);
        assert_eq!(request.timeseries[0].samples[1].timestamp, 11000);
        let body = encode(&request);
        assert_eq!(decode(&body).unwrap(), request);
    }

    #[test]
    fn known_bytes_of_a_tiny_request() {
        // WriteRequest{timeseries:[{labels:[{__name__,up}], samples:[{1, 5}]}]} as Prometheus
        // encodes it: field 1 (len 29) { field 1 (len 14) { 1:"__name__" 2:"up" },
        // field 2 (len 11) { 1: double 1.0, 2: varint 5 } }.
        let request = write_request(&[series("up", &[], 1.0, 5)], Vec::new());
        let mut bytes = Vec::new();
        request.encode(&mut bytes).unwrap();
        let expected: Vec<u8> = [
            &[0x0a, 29][..],
            &[0x0a, 14, 0x0a, 8],
            b"__name__",
            &[0x12, 2],
            b"up",
            &[0x12, 11, 0x09],
            &1.0f64.to_le_bytes(),
            &[0x10, 5],
        ]
        .concat();
        assert_eq!(bytes, expected);
    }

    #[test]
    fn staleness_marker_bits() {
        assert!(is_stale_marker(STALE_NAN));
        assert!(!is_stale_marker(f64::NAN));
        assert!(STALE_NAN.is_nan());
    }
}
