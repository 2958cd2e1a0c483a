//! Encoding of a batch of samples as a Prometheus remote-write 1.0 request body: a
//! `prometheus.WriteRequest` protobuf (prost, generated from `proto/remote.proto`), compressed
//! with snappy's block format.

use super::proto::{MetricMetadata, WriteRequest};
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

/// Encodes a batch as the HTTP body of a remote-write POST: a protobuf `WriteRequest` with one
/// `TimeSeries` per sample (as Prometheus' queue manager sends them), then the metadata,
/// snappy-compressed. The protobuf is written directly from the samples with prost's encoding
/// primitives (no intermediate message structs: no copies of label strings), into `scratch`,
/// which callers reuse between batches.
pub fn encode_batch(
    batch: &[SeriesSample],
    metadata: &[MetricMetadata],
    scratch: &mut Vec<u8>,
) -> Vec<u8> {
    use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};
    scratch.clear();
    let field_len = |len: usize| 1 + encoded_len_varint(len as u64) + len;
    for sample in batch {
        let labels: usize = sample
            .labels
            .iter()
            .map(|l| field_len(field_len(l.name.len()) + field_len(l.value.len())))
            .sum();
        let sample_len = 9 + if sample.timestamp_ms != 0 {
            1 + encoded_len_varint(sample.timestamp_ms as u64)
        } else {
            0
        };
        let series_len = labels + field_len(sample_len);
        encode_key(1, WireType::LengthDelimited, scratch);
        encode_varint(series_len as u64, scratch);
        for label in &sample.labels {
            encode_key(1, WireType::LengthDelimited, scratch);
            encode_varint(
                (field_len(label.name.len()) + field_len(label.value.len())) as u64,
                scratch,
            );
            prost::encoding::string::encode(1, &label.name, scratch);
            prost::encoding::string::encode(2, &label.value, scratch);
        }
        encode_key(2, WireType::LengthDelimited, scratch);
        encode_varint(sample_len as u64, scratch);
        // Always written, even 0.0, as Prometheus' gogo-generated code does.
        encode_key(1, WireType::SixtyFourBit, scratch);
        scratch.extend_from_slice(&sample.value.to_le_bytes());
        if sample.timestamp_ms != 0 {
            encode_key(2, WireType::Varint, scratch);
            encode_varint(sample.timestamp_ms as u64, scratch);
        }
    }
    for m in metadata {
        prost::encoding::message::encode(3, m, scratch);
    }
    snap::raw::Encoder::new()
        .compress_vec(scratch)
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

    /// The same request built with prost's generated types, as a reference.
    fn with_prost(batch: &[SeriesSample], metadata: Vec<MetricMetadata>) -> WriteRequest {
        use crate::remote_write::proto::{Label, Sample, TimeSeries};
        WriteRequest {
            timeseries: batch
                .iter()
                .map(|s| TimeSeries {
                    labels: s
                        .labels
                        .iter()
                        .map(|l| Label {
                            name: l.name.clone(),
                            value: l.value.clone(),
                        })
                        .collect(),
                    samples: vec![Sample {
                        value: s.value,
                        timestamp: s.timestamp_ms,
                    }],
                })
                .collect(),
            metadata,
        }
    }

    #[test]
    fn direct_encoding_equals_prost_and_round_trips() {
        let batch = [
            series(
                "node_load1",
                &[("instance", "10.0.0.1")],
                0.5,
                1_795_000_000_123,
            ),
            series(
                "node_cpu_seconds_total",
                &[("cpu", "0"), ("mode", "idle")],
                12.5,
                1000,
            ),
            series("node_load1", &[("instance", "10.0.0.1")], STALE_NAN, 11000),
            series("zero", &[("é", "ü")], 0.0, 0),
        ];
        let metadata = vec![MetricMetadata {
            r#type: 2,
            metric_family_name: "node_load1".into(),
            help: "1m load average.".into(),
            unit: String::new(),
        }];
        // Byte for byte what prost's generated code writes (NaN included)…
        let body = encode_batch(&batch[..3], &metadata, &mut Vec::new());
        let mut expected = Vec::new();
        with_prost(&batch[..3], metadata.clone())
            .encode(&mut expected)
            .unwrap();
        assert_eq!(
            snap::raw::Decoder::new().decompress_vec(&body).unwrap(),
            expected
        );
        let decoded = decode(&body).unwrap();
        assert_eq!(
            decoded.timeseries[2].samples[0].value.to_bits(),
            STALE_NAN.to_bits()
        );
        // …except that a 0.0 value is written, as Prometheus does (prost would skip it); both
        // decode to the same message.
        let zero = encode_batch(&batch[3..], &[], &mut Vec::new());
        assert_eq!(decode(&zero).unwrap(), with_prost(&batch[3..], Vec::new()));
    }

    #[test]
    fn known_bytes_of_a_tiny_request() {
        // WriteRequest{timeseries:[{labels:[{__name__,up}], samples:[{1, 5}]}]} as Prometheus
        // encodes it: field 1 (len 29) { field 1 (len 14) { 1:"__name__" 2:"up" },
        // field 2 (len 11) { 1: double 1.0, 2: varint 5 } }.
        let body = encode_batch(&[series("up", &[], 1.0, 5)], &[], &mut Vec::new());
        let bytes = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
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
