//! The host's decoding of a plugin's encoded families (`collect-encoded`): never a panic, and
//! what it accepts encodes back to the same bytes, also when decoded over families it reuses.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sonde_wire::encoding::{decode_into, encode};

fuzz_target!(|bytes: &[u8]| {
    let mut fresh = Vec::new();
    let mut reused = vec![
        sonde_sdk::MetricFamily::gauge("spare", "Left from an earlier cycle.")
            .with_sample(&[("a", "1"), ("b", "2")], 1.0),
    ];
    let first = decode_into(bytes, 10_000, &mut fresh);
    let second = decode_into(bytes, 10_000, &mut reused);
    assert_eq!(first, second);
    if first.is_ok() {
        let mut again = Vec::new();
        encode(&fresh, &mut again);
        assert_eq!(again, bytes);
        let mut again = Vec::new();
        encode(&reused, &mut again);
        assert_eq!(again, bytes);
    }
});
