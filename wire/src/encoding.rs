//! The binary encoding of a collection's families: what `collector.collect` returns since plugin
//! API 0.2 (and `collector-encoded.collect-encoded` in 0.1.2), one buffer instead of a list of
//! records.
//!
//! Returning `list<metric-family>` makes the plugin lay out a list per family and per sample and
//! free them all again, and makes the host allocate every string and list and free them one
//! cycle later: about a sixth of a hot cycle of all built-ins went to that crossing. One buffer
//! crosses in one copy, and the host decodes it into the families of an earlier cycle, reusing
//! their strings ([`decode_into`]).
//!
//! The format, all integers little-endian, every string a `u32` byte length and that many bytes
//! of UTF-8:
//!
//! ```text
//! u32 family count, u32 total sample count
//! per family:  u8 kind (0 counter, 1 gauge, 2 untyped, 3 info), string name, string help,
//!              u32 sample count
//! per sample:  f64 value, u32 label count
//! per label:   string name, string value
//! ```
//!
//! Nothing may follow the last family. The host checks the total sample count against the
//! plugin's limit before it copies anything, and refuses a buffer whose counts, lengths or
//! strings do not add up.

use crate::metrics::{Label, MetricFamily, MetricKind, Sample};
use std::fmt;

/// Appends the encoding of `families` to `out`.
pub fn encode(families: &[MetricFamily], out: &mut Vec<u8>) {
    let samples: usize = families.iter().map(|f| f.samples.len()).sum();
    let strings: usize = families
        .iter()
        .map(|f| {
            f.name.len()
                + f.help.len()
                + f.samples
                    .iter()
                    .map(|s| {
                        s.labels
                            .iter()
                            .map(|l| 8 + l.name.len() + l.value.len())
                            .sum::<usize>()
                    })
                    .sum::<usize>()
        })
        .sum();
    out.reserve(8 + 13 * families.len() + 12 * samples + strings);
    put_len(out, families.len());
    put_len(out, samples);
    for family in families {
        out.push(match family.kind {
            MetricKind::Counter => 0,
            MetricKind::Gauge => 1,
            MetricKind::Untyped => 2,
            MetricKind::Info => 3,
        });
        put_str(out, &family.name);
        put_str(out, &family.help);
        put_len(out, family.samples.len());
        for sample in &family.samples {
            out.extend_from_slice(&sample.value.to_le_bytes());
            put_len(out, sample.labels.len());
            for label in &sample.labels {
                put_str(out, &label.name);
                put_str(out, &label.value);
            }
        }
    }
}

/// Why an encoded buffer was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// More samples than the limit (from the header: nothing was copied).
    TooManySamples {
        /// The samples the buffer says it holds.
        returned: usize,
    },
    /// The buffer does not follow the format.
    Malformed {
        /// The family being read when it went wrong (empty before the first).
        family: String,
        /// What is wrong.
        problem: String,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooManySamples { returned } => {
                write!(f, "{returned} samples, more than the limit")
            }
            DecodeError::Malformed { family, problem } => {
                write!(
                    f,
                    "malformed encoded output at family {family:?}: {problem}"
                )
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes `bytes` into `out`, reusing the families, samples, labels and strings `out` already
/// holds (whatever they held: they are overwritten) and dropping those left over. A buffer that
/// says it holds more than `sample_limit` samples is refused before anything is decoded.
pub fn decode_into(
    bytes: &[u8],
    sample_limit: usize,
    out: &mut Vec<MetricFamily>,
) -> Result<(), DecodeError> {
    let mut reader = Reader { bytes, at: 0 };
    let malformed = |family: &str, problem: String| DecodeError::Malformed {
        family: family.to_owned(),
        problem,
    };
    let families = reader.len().map_err(|p| malformed("", p))?;
    let samples = reader.len().map_err(|p| malformed("", p))?;
    if samples > sample_limit {
        return Err(DecodeError::TooManySamples { returned: samples });
    }
    // Every family takes at least 13 bytes: a count larger than the buffer allows is a lie.
    if families > bytes.len() / 13 {
        return Err(malformed(
            "",
            format!("{families} families in {} bytes", bytes.len()),
        ));
    }
    out.truncate(families);
    let mut samples_left = samples;
    for i in 0..families {
        if i == out.len() {
            out.push(MetricFamily {
                name: String::new(),
                help: String::new(),
                kind: MetricKind::Untyped,
                samples: Vec::new(),
            });
        }
        let family = &mut out[i];
        let kind = reader.u8();
        family.name.clear();
        reader
            .string_into(&mut family.name)
            .map_err(|p| malformed("", p))?;
        let at = |family: &MetricFamily, problem| malformed(&family.name, problem);
        family.kind = match kind {
            Ok(0) => MetricKind::Counter,
            Ok(1) => MetricKind::Gauge,
            Ok(2) => MetricKind::Untyped,
            Ok(3) => MetricKind::Info,
            Ok(other) => return Err(at(family, format!("kind {other}"))),
            Err(p) => return Err(at(family, p)),
        };
        family.help.clear();
        if let Err(p) = reader.string_into(&mut family.help) {
            return Err(at(family, p));
        }
        let count = reader.len().map_err(|p| at(family, p))?;
        if count > samples_left {
            return Err(at(
                family,
                format!("more samples than the {samples} announced"),
            ));
        }
        samples_left -= count;
        family.samples.truncate(count);
        for j in 0..count {
            if j == family.samples.len() {
                family.samples.push(Sample {
                    labels: Vec::new(),
                    value: 0.0,
                });
            }
            let (value, labels) = match (reader.f64(), reader.len()) {
                (Ok(value), Ok(labels)) => (value, labels),
                (Err(p), _) | (_, Err(p)) => return Err(at(family, p)),
            };
            if labels > reader.remaining() / 8 {
                return Err(at(family, format!("{labels} labels past the end")));
            }
            let sample = &mut family.samples[j];
            sample.value = value;
            sample.labels.truncate(labels);
            for k in 0..labels {
                if k == sample.labels.len() {
                    sample.labels.push(Label {
                        name: String::new(),
                        value: String::new(),
                    });
                }
                let label = &mut sample.labels[k];
                label.name.clear();
                label.value.clear();
                if let Err(p) = reader.string_into(&mut label.name) {
                    return Err(at(family, p));
                }
                if let Err(p) = reader.string_into(&mut label.value) {
                    let p = format!("the value of label {:?}: {p}", label.name);
                    return Err(at(family, p));
                }
            }
        }
    }
    if samples_left > 0 {
        return Err(malformed(
            "",
            format!("{samples_left} announced samples missing"),
        ));
    }
    if reader.remaining() > 0 {
        return Err(malformed(
            "",
            format!("{} bytes after the last family", reader.remaining()),
        ));
    }
    Ok(())
}

/// The longest string a collection may hold: the longest label value or HELP validation accepts.
const MAX_STRING_BYTES: usize = crate::validate::MAX_LABEL_VALUE_BYTES;
const _: () = assert!(crate::validate::MAX_HELP_BYTES <= MAX_STRING_BYTES);

fn put_len(out: &mut Vec<u8>, len: usize) {
    // A collection's counts and string lengths are far below 4 GiB (the host's caps are MiBs).
    out.extend_from_slice(&(len as u32).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// A cursor over the buffer; each read names what was missing.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let bytes = self
            .bytes
            .get(self.at..self.at + N)
            .ok_or_else(|| format!("ends at byte {} inside a {N}-byte field", self.bytes.len()))?;
        self.at += N;
        Ok(bytes.try_into().expect("N bytes"))
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take::<1>()?[0])
    }

    fn len(&mut self) -> Result<usize, String> {
        Ok(u32::from_le_bytes(self.take()?) as usize)
    }

    fn f64(&mut self) -> Result<f64, String> {
        Ok(f64::from_le_bytes(self.take()?))
    }

    /// Appends the next string to `dst` (its allocation reused when large enough). A string
    /// longer than validation allows any string (16 KiB) is refused before it is copied.
    fn string_into(&mut self, dst: &mut String) -> Result<(), String> {
        let len = self.len()?;
        if len > MAX_STRING_BYTES {
            return Err(format!(
                "a string of {len} bytes, more than the {MAX_STRING_BYTES} a name, label value or HELP may have"
            ));
        }
        let bytes = self
            .bytes
            .get(self.at..self.at.saturating_add(len))
            .ok_or_else(|| format!("a string of {len} bytes past the end"))?;
        self.at += len;
        dst.push_str(std::str::from_utf8(bytes).map_err(|e| e.to_string())?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn families() -> Vec<MetricFamily> {
        let mut cpu = MetricFamily::counter("node_cpu_seconds_total", "Seconds the CPUs spent.");
        cpu.sample(&[("cpu", "0"), ("mode", "idle")], 12.5)
            .sample(&[("cpu", "0"), ("mode", "user")], f64::NAN);
        vec![
            cpu,
            MetricFamily::gauge("node_load1", "1m load average.").with_value(0.25),
            MetricFamily::info("node_uname_info", "Labeled system information.")
                .with_sample(&[("sysname", "Linux"), ("nodename", "häst")], 1.0),
            MetricFamily::untyped("node_vmstat_pgfault", "/proc/vmstat information.")
                .with_value(f64::INFINITY),
        ]
    }

    fn encoded(families: &[MetricFamily]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(families, &mut out);
        out
    }

    /// Equal, with NaN equal to NaN.
    fn same(a: &[MetricFamily], b: &[MetricFamily]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(a, b)| {
                a.name == b.name
                    && a.help == b.help
                    && a.kind == b.kind
                    && a.samples.len() == b.samples.len()
                    && a.samples.iter().zip(&b.samples).all(|(a, b)| {
                        a.labels == b.labels && a.value.to_bits() == b.value.to_bits()
                    })
            })
    }

    #[test]
    fn decodes_what_was_encoded() {
        let mut out = Vec::new();
        decode_into(&encoded(&families()), 100, &mut out).unwrap();
        assert!(same(&out, &families()), "{out:?}");
    }

    #[test]
    fn decoding_over_other_families_leaves_nothing_of_them() {
        // Longer, shorter and differently shaped families than the next decode's.
        let mut big = families();
        big.extend(families());
        big[0].samples[0].labels.push(Label {
            name: "extra".into(),
            value: "a long value that the next decode must not keep".into(),
        });
        let mut out = Vec::new();
        decode_into(&encoded(&big), 100, &mut out).unwrap();
        let small = vec![families().remove(1)];
        decode_into(&encoded(&small), 100, &mut out).unwrap();
        assert!(same(&out, &small), "{out:?}");
        decode_into(&encoded(&big), 100, &mut out).unwrap();
        assert!(same(&out, &big));
        decode_into(&encoded(&[]), 100, &mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn the_sample_limit_is_checked_before_decoding() {
        let mut out = families();
        let err = decode_into(&encoded(&families()), 4, &mut out).unwrap_err();
        assert_eq!(err, DecodeError::TooManySamples { returned: 5 });
        assert!(same(&out, &families()), "nothing was touched");
    }

    #[test]
    fn a_string_longer_than_validation_allows_is_refused_before_it_is_copied() {
        let mut huge = families();
        huge[1].samples[0].labels.push(Label {
            name: "blob".into(),
            value: "x".repeat(20 << 20),
        });
        let mut out = Vec::new();
        let err = decode_into(&encoded(&huge), 100, &mut out).unwrap_err();
        assert!(
            err.to_string().contains("a string of 20971520 bytes"),
            "{err}"
        );
        assert!(out.iter().all(|f| {
            f.samples
                .iter()
                .all(|s| s.labels.iter().all(|l| l.value.len() <= MAX_STRING_BYTES))
        }));
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = encoded(&families());
        for end in 0..bytes.len() {
            let mut out = Vec::new();
            let err = decode_into(&bytes[..end], 100, &mut out).unwrap_err();
            assert!(
                matches!(err, DecodeError::Malformed { .. }),
                "{end}: {err:?}"
            );
        }
    }

    #[test]
    fn lies_and_garbage_are_refused_with_the_family() {
        let mut out = Vec::new();
        let mut bytes = encoded(&families());
        bytes.push(0);
        let err = decode_into(&bytes, 100, &mut out).unwrap_err();
        assert!(
            err.to_string().contains("1 bytes after the last family"),
            "{err}"
        );

        // A family count no buffer of this size can hold.
        let mut bytes = encoded(&families());
        bytes[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = decode_into(&bytes, 100, &mut out).unwrap_err();
        assert!(err.to_string().contains("families in"), "{err}");

        // Fewer samples announced than the families hold.
        let mut bytes = encoded(&families());
        bytes[4..8].copy_from_slice(&2u32.to_le_bytes());
        let err = decode_into(&bytes, 100, &mut out).unwrap_err();
        assert!(
            err.to_string()
                .contains("more samples than the 2 announced"),
            "{err}"
        );

        // A kind that does not exist, named with its family.
        let mut bytes = encoded(&families());
        bytes[8] = 9;
        let err = decode_into(&bytes, 100, &mut out).unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed encoded output at family \"node_cpu_seconds_total\": kind 9"
        );

        // A label value that is not UTF-8.
        let mut bytes = encoded(&families());
        let at = bytes.windows(4).position(|w| w == b"idle").unwrap();
        bytes[at] = 0xff;
        let err = decode_into(&bytes, 100, &mut out).unwrap_err();
        assert!(err.to_string().contains("invalid utf-8"), "{err}");
    }
}
