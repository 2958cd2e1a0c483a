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
/// snappy-compressed. The protobuf is written directly from the samples (no intermediate
/// message structs: no copies of label strings), each series' size computed first and reserved
/// at once so the writes that follow never grow the buffer, into `scratch`, which callers reuse
/// between batches.
pub fn encode_batch(
    batch: &[SeriesSample],
    metadata: &[MetricMetadata],
    scratch: &mut Vec<u8>,
) -> Vec<u8> {
    scratch.clear();
    for sample in batch {
        let labels: usize = sample.labels.iter().map(|l| field_len(label_len(l))).sum();
        let sample_len = 9 + if sample.timestamp_ms != 0 {
            1 + varint_len(sample.timestamp_ms as u64)
        } else {
            0
        };
        let series_len = labels + field_len(sample_len);
        scratch.reserve(field_len(series_len));
        // WriteRequest.timeseries (1), a TimeSeries.
        scratch.push(key(1, LENGTH_DELIMITED));
        put_varint(scratch, series_len as u64);
        for label in &sample.labels {
            // TimeSeries.labels (1): Label { name (1), value (2) }.
            scratch.push(key(1, LENGTH_DELIMITED));
            put_varint(scratch, label_len(label) as u64);
            put_bytes(scratch, 1, label.name.as_bytes());
            put_bytes(scratch, 2, label.value.as_bytes());
        }
        // TimeSeries.samples (2): Sample { value (1, double), timestamp (2, int64) }.
        scratch.push(key(2, LENGTH_DELIMITED));
        put_varint(scratch, sample_len as u64);
        // Always written, even 0.0, as Prometheus' gogo-generated code does.
        scratch.push(key(1, SIXTY_FOUR_BIT));
        scratch.extend_from_slice(&sample.value.to_le_bytes());
        if sample.timestamp_ms != 0 {
            scratch.push(key(2, VARINT));
            put_varint(scratch, sample.timestamp_ms as u64);
        }
    }
    for m in metadata {
        prost::encoding::message::encode(3, m, scratch);
    }
    snap::raw::Encoder::new()
        .compress_vec(scratch)
        .expect("snappy accepts any input below 4 GiB")
}

/// Protobuf wire types used here.
const VARINT: u8 = 0;
const SIXTY_FOUR_BIT: u8 = 1;
const LENGTH_DELIMITED: u8 = 2;

/// The key of field `tag` (below 16: one byte).
const fn key(tag: u8, wire_type: u8) -> u8 {
    tag << 3 | wire_type
}

/// The bytes of `value` as a varint.
fn varint_len(value: u64) -> usize {
    // Seven bits a byte, at least one byte.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// The bytes of a length-delimited field (one-byte key) holding `len` bytes.
fn field_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// The bytes of a `Label` message's body.
fn label_len(label: &sonde_sdk::Label) -> usize {
    field_len(label.name.len()) + field_len(label.value.len())
}

fn put_varint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push(value as u8 | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

/// A length-delimited field `tag` holding `bytes`.
fn put_bytes(buf: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    buf.push(key(tag, LENGTH_DELIMITED));
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
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
    fn varints_as_prost_writes_them() {
        for value in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            1 << 35,
            u64::MAX,
            -5i64 as u64,
        ] {
            let mut ours = Vec::new();
            put_varint(&mut ours, value);
            let mut theirs = Vec::new();
            prost::encoding::encode_varint(value, &mut theirs);
            assert_eq!(ours, theirs, "{value}");
            assert_eq!(
                varint_len(value),
                prost::encoding::encoded_len_varint(value)
            );
        }
    }

    #[test]
    fn staleness_marker_bits() {
        assert!(is_stale_marker(STALE_NAN));
        assert!(!is_stale_marker(f64::NAN));
        assert!(STALE_NAN.is_nan());
    }
}
