//! node_exporter's `xfrm` collector (off by default): the IPsec transformation error counters
//! of `/proc/net/xfrm_stat`, one `node_xfrm_<counter>_packets_total` family each.
//!
//! As in procfs, a counter the kernel does not print (older kernels lack `XfrmFwdHdrError`,
//! `XfrmOutStateInvalid`, `XfrmAcquireError`) reads 0 and unknown names are ignored. A kernel
//! without `CONFIG_XFRM_STATISTICS` has no such file: no families and no error (node_exporter
//! fails the scrape there). A malformed line (not `name value`) is left out, its counter
//! unreported, and fails the part after the others are reported (procfs fails the whole file).

use crate::netns::NetDir;
use sonde_procfs::Skipped;
use sonde_sdk::bundle::{Part, read_optional};
use sonde_sdk::{Error, Host, MetricFamily, Root};

/// The xfrm part.
pub struct Xfrm {
    /// Where the `net/…` files are read.
    pub net: NetDir,
}

/// The kernel's counter name, the metric name (without `node_xfrm_`) and node_exporter's HELP.
const COUNTERS: [(&str, &str, &str); 28] = [
    (
        "XfrmInError",
        "in_error_packets_total",
        "All errors not matched by other",
    ),
    (
        "XfrmInBufferError",
        "in_buffer_error_packets_total",
        "No buffer is left",
    ),
    (
        "XfrmInHdrError",
        "in_hdr_error_packets_total",
        "Header error",
    ),
    (
        "XfrmInNoStates",
        "in_no_states_packets_total",
        "No state is found i.e. Either inbound SPI, address, or IPsec protocol at SA is wrong",
    ),
    (
        "XfrmInStateProtoError",
        "in_state_proto_error_packets_total",
        "Transformation protocol specific error e.g. SA key is wrong",
    ),
    (
        "XfrmInStateModeError",
        "in_state_mode_error_packets_total",
        "Transformation mode specific error",
    ),
    (
        "XfrmInStateSeqError",
        "in_state_seq_error_packets_total",
        "Sequence error i.e. Sequence number is out of window",
    ),
    (
        "XfrmInStateExpired",
        "in_state_expired_packets_total",
        "State is expired",
    ),
    (
        "XfrmInStateMismatch",
        "in_state_mismatch_packets_total",
        "State has mismatch option e.g. UDP encapsulation type is mismatch",
    ),
    (
        "XfrmInStateInvalid",
        "in_state_invalid_packets_total",
        "State is invalid",
    ),
    (
        "XfrmInTmplMismatch",
        "in_tmpl_mismatch_packets_total",
        "No matching template for states e.g. Inbound SAs are correct but SP rule is wrong",
    ),
    (
        "XfrmInNoPols",
        "in_no_pols_packets_total",
        "No policy is found for states e.g. Inbound SAs are correct but no SP is found",
    ),
    (
        "XfrmInPolBlock",
        "in_pol_block_packets_total",
        "Policy discards",
    ),
    (
        "XfrmInPolError",
        "in_pol_error_packets_total",
        "Policy error",
    ),
    (
        "XfrmOutError",
        "out_error_packets_total",
        "All errors which is not matched others",
    ),
    (
        "XfrmOutBundleGenError",
        "out_bundle_gen_error_packets_total",
        "Bundle generation error",
    ),
    (
        "XfrmOutBundleCheckError",
        "out_bundle_check_error_packets_total",
        "Bundle check error",
    ),
    (
        "XfrmOutNoStates",
        "out_no_states_packets_total",
        "No state is found",
    ),
    (
        "XfrmOutStateProtoError",
        "out_state_proto_error_packets_total",
        "Transformation protocol specific error",
    ),
    (
        "XfrmOutStateModeError",
        "out_state_mode_error_packets_total",
        "Transformation mode specific error",
    ),
    (
        "XfrmOutStateSeqError",
        "out_state_seq_error_packets_total",
        "Sequence error i.e. Sequence number overflow",
    ),
    (
        "XfrmOutStateExpired",
        "out_state_expired_packets_total",
        "State is expired",
    ),
    (
        "XfrmOutPolBlock",
        "out_pol_block_packets_total",
        "Policy discards",
    ),
    (
        "XfrmOutPolDead",
        "out_pol_dead_packets_total",
        "Policy is dead",
    ),
    (
        "XfrmOutPolError",
        "out_pol_error_packets_total",
        "Policy error",
    ),
    (
        "XfrmFwdHdrError",
        "fwd_hdr_error_packets_total",
        "Forward routing of a packet is not allowed",
    ),
    (
        "XfrmOutStateInvalid",
        "out_state_invalid_packets_total",
        "State is invalid, perhaps expired",
    ),
    (
        "XfrmAcquireError",
        "acquire_error_packets_total",
        "State hasn\u{2019}t been fully acquired before use",
    ),
];

impl Part for Xfrm {
    fn collect(&self, host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
        let Some(text) = read_optional(host, Root::Proc, &self.net.file("xfrm_stat"))? else {
            return Ok(());
        };
        let (values, skipped) = parse(&text);
        for ((_, metric, help), value) in COUNTERS.iter().zip(values) {
            if let Some(value) = value {
                out.push(
                    MetricFamily::counter(format!("node_xfrm_{metric}"), *help)
                        .with_value(value as f64),
                );
            }
        }
        skipped.result("/proc/net/xfrm_stat", true)
    }
}

/// The counters in [`COUNTERS`]' order: 0 when the file does not print one, `None` when its
/// line is malformed.
fn parse(text: &str) -> ([Option<i64>; 28], Skipped) {
    let mut values = [Some(0); 28];
    let mut skipped = Skipped::default();
    for (index, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let [name, value] = fields.as_slice() else {
            skipped.line(
                index + 1,
                format!("{} fields in line {line:?}", fields.len()),
            );
            // Which counter the line was for, if it can be told.
            if let Some(i) = fields.first().and_then(|n| position(n)) {
                values[i] = None;
            }
            continue;
        };
        let Some(i) = position(name) else { continue };
        match parse_int(value) {
            Some(value) => values[i] = Some(value),
            None => {
                values[i] = None;
                skipped.line(index + 1, format!("invalid value in line {line:?}"));
            }
        }
    }
    (values, skipped)
}

fn position(name: &str) -> Option<usize> {
    COUNTERS.iter().position(|(n, _, _)| *n == name)
}

/// A decimal integer as Go's `strconv.Atoi` reads it: an optional sign, then digits.
fn parse_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_counters_read_0_malformed_ones_are_left_out() {
        let (values, skipped) =
            parse("XfrmInError 5\nXfrmInHdrError x\nXfrmNew 3\nXfrmOutError\n\n");
        assert_eq!(values[0], Some(5));
        assert_eq!(values[1], Some(0));
        assert_eq!(values[2], None);
        assert_eq!(values[14], None);
        assert_eq!(skipped.count(), 2);
        assert_eq!(parse_int("-3"), Some(-3));
        assert_eq!(parse_int("+3"), Some(3));
        assert_eq!(parse_int("3x"), None);
    }
}
