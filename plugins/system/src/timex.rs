//! node_exporter's `timex` collector: the kernel clock discipline state from `adjtimex(2)`.

use sonde_sdk::{Error, FsError, Host, Level, MetricFamily, MetricKind, ResultExt};

/// `adjtimex` returns this clock state when the clock is not synchronized.
const TIME_ERROR: i32 = 5;
/// The unit of `freq`, `ppsfreq` and `stabil`: parts per million with a 16-bit fraction.
const PPM16FRAC: f64 = 1_000_000.0 * 65536.0;
const MICROSECONDS: f64 = 1e6;
const NANOSECONDS: f64 = 1e9;

/// Appends the `node_timex_*` families. Without the `timex` capability (or when the kernel
/// refuses, as in some containers) it reports nothing, as node_exporter does on `EPERM`.
pub fn collect(host: &Host, out: &mut Vec<MetricFamily>) -> Result<(), Error> {
    let x = match host.timex() {
        Ok(x) => x,
        Err(e @ (FsError::PermissionDenied | FsError::NotGranted)) => {
            host.log(Level::Debug, &format!("timex: not collecting: {e}"));
            return Ok(());
        }
        Err(e) => return Err(e).context("failed to retrieve adjtimex stats"),
    };
    // `offset` and `jitter` are in nanoseconds when the kernel runs with STA_NANO.
    let divisor = if x.nano { NANOSECONDS } else { MICROSECONDS };
    let sync = if x.state == TIME_ERROR { 0.0 } else { 1.0 };
    use MetricKind::{Counter, Gauge};
    let metrics: [(&str, &str, MetricKind, f64); 17] = [
        (
            "sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            Gauge,
            sync,
        ),
        (
            "offset_seconds",
            "Time offset in between local system and reference clock.",
            Gauge,
            x.offset as f64 / divisor,
        ),
        (
            "frequency_adjustment_ratio",
            "Local clock frequency adjustment.",
            Gauge,
            1.0 + x.freq as f64 / PPM16FRAC,
        ),
        (
            "maxerror_seconds",
            "Maximum error in seconds.",
            Gauge,
            x.maxerror as f64 / MICROSECONDS,
        ),
        (
            "estimated_error_seconds",
            "Estimated error in seconds.",
            Gauge,
            x.esterror as f64 / MICROSECONDS,
        ),
        (
            "status",
            "Value of the status array bits.",
            Gauge,
            x.status.into(),
        ),
        (
            "loop_time_constant",
            "Phase-locked loop time constant.",
            Gauge,
            x.constant as f64,
        ),
        (
            "tick_seconds",
            "Seconds between clock ticks.",
            Gauge,
            x.tick as f64 / MICROSECONDS,
        ),
        (
            "pps_frequency_hertz",
            "Pulse per second frequency.",
            Gauge,
            x.ppsfreq as f64 / PPM16FRAC,
        ),
        (
            "pps_jitter_seconds",
            "Pulse per second jitter.",
            Gauge,
            x.jitter as f64 / divisor,
        ),
        (
            "pps_shift_seconds",
            "Pulse per second interval duration.",
            Gauge,
            x.shift.into(),
        ),
        (
            "pps_stability_hertz",
            "Pulse per second stability, average of recent frequency changes.",
            Gauge,
            x.stabil as f64 / PPM16FRAC,
        ),
        (
            "pps_jitter_total",
            "Pulse per second count of jitter limit exceeded events.",
            Counter,
            x.jitcnt as f64,
        ),
        (
            "pps_calibration_total",
            "Pulse per second count of calibration intervals.",
            Counter,
            x.calcnt as f64,
        ),
        (
            "pps_error_total",
            "Pulse per second count of calibration errors.",
            Counter,
            x.errcnt as f64,
        ),
        (
            "pps_stability_exceeded_total",
            "Pulse per second count of stability limit exceeded events.",
            Counter,
            x.stbcnt as f64,
        ),
        (
            "tai_offset_seconds",
            "International Atomic Time (TAI) offset.",
            Gauge,
            x.tai.into(),
        ),
    ];
    for (name, help, kind, value) in metrics {
        out.push(MetricFamily::new(format!("node_timex_{name}"), help, kind).with_value(value));
    }
    Ok(())
}
