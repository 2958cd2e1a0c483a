//! A deliberately broken plugin for sonde's tests. Its config picks the misbehaviour:
//! `{"mode": "trap"}`, `"invalid-name"`, `"invalid-label"`, `"duplicate-series"`, `"loop"`,
//! `"oom"`, `"recurse"` (overflows its stack), `"fail"`, `"flood"` (returns `series` series, a
//! million by default), `"huge-labels"` (`series` label values of `bytes` bytes, 8 of a
//! megabyte by default), `"forge-log"` (a log message with a newline and terminal escapes that
//! would look like a line of the agent's own), `"invalid-utf8"`,
//! `"special-values"` (NaN and infinities, which are valid), `"log-flood"` and `"stderr-flood"`
//! (a gigabyte each), `"escape"` (tries to leave its roots and reports each attempt),
//! `"cycles"` (how many collections this collector made since it was built), or `"ok"`.

use serde::{Deserialize, Serialize};
use sonde_sdk::{
    Capability, Collector, Description, Error, Host, Label, Level, MetricFamily, MetricKind, Root,
    Sample,
};

/// A gigabyte, what the flooding modes write.
const GIGABYTE: usize = 1 << 30;

/// The misbehaving collector.
pub struct Misbehave {
    config: Config,
    /// Collections since [`Collector::new`] built it.
    cycles: u64,
}

/// `{"mode": …}`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// What to do; `ok` when empty.
    pub mode: String,
    /// How many series `flood` (0: a million) or `huge-labels` (0: 8) returns.
    pub series: usize,
    /// The size of `huge-labels`' values (0: a megabyte).
    pub bytes: usize,
}

impl Collector for Misbehave {
    type Config = Config;

    fn describe() -> Description {
        Description::new("misbehave", "0.0.0", "misbehaves for tests").needs(&[Capability::Proc])
    }

    fn new(config: Config) -> Result<Self, Error> {
        Ok(Misbehave { config, cycles: 0 })
    }

    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        self.cycles += 1;
        let config = &self.config;
        match config.mode.as_str() {
            "" | "ok" => Ok(vec![
                MetricFamily::gauge("misbehave_ok", "Fine.").with_value(1.0),
            ]),
            "cycles" => Ok(vec![
                MetricFamily::counter("misbehave_cycles_total", "Collections since configured.")
                    .with_value(self.cycles as f64),
            ]),
            "trap" => panic!("misbehave: deliberate panic"),
            "fail" => Err(Error::msg("deliberate failure")),
            // Built by hand: the SDK's builders would refuse these names.
            "invalid-name" => Ok(vec![raw_family("node-cpu", vec![vec![]])]),
            "duplicate-series" => Ok(vec![raw_family(
                "misbehave_dup",
                vec![vec![("a", "1")], vec![("a", "1")]],
            )]),
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "oom" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "escape" => Ok(vec![escape_attempts(host)]),
            "invalid-label" => Ok(vec![raw_family(
                "misbehave_label",
                vec![vec![("0bad", "x")]],
            )]),
            "recurse" => Ok(vec![
                MetricFamily::gauge("misbehave_depth", "Never returned.")
                    .with_value(recurse(std::hint::black_box(1)) as f64),
            ]),
            "forge-log" => {
                host.log(
                    Level::Error,
                    "broken\n ERROR sonde::agent: collection failed plugin=cpu\r\x1b[2K",
                );
                Ok(vec![
                    MetricFamily::gauge("misbehave_ok", "Fine.").with_value(1.0),
                ])
            }
            "huge-labels" => {
                let bytes = if config.bytes == 0 {
                    1 << 20
                } else {
                    config.bytes
                };
                let series = if config.series == 0 { 8 } else { config.series };
                let value = "x".repeat(bytes);
                let mut family = MetricFamily::gauge("misbehave_huge", "Megabyte label values.");
                for i in 0..series {
                    family.sample(&[("i", &i.to_string()), ("blob", &value)], 1.0);
                }
                Ok(vec![family])
            }
            "invalid-utf8" => {
                let mut family = raw_family("misbehave_utf8", vec![vec![("a", "")]]);
                // SAFETY: deliberately not UTF-8; the host must refuse it, not trust it.
                family.samples[0].labels[0].value =
                    unsafe { String::from_utf8_unchecked(vec![0xff, 0xfe, b'x']) };
                Ok(vec![family])
            }
            "special-values" => {
                let mut family = MetricFamily::gauge("misbehave_special", "NaN and infinities.");
                for (kind, value) in [
                    ("nan", f64::NAN),
                    ("inf", f64::INFINITY),
                    ("minus_inf", f64::NEG_INFINITY),
                ] {
                    family.sample(&[("value", kind)], value);
                }
                Ok(vec![family])
            }
            "log-flood" => {
                let line = "y".repeat(4096);
                for _ in 0..GIGABYTE / line.len() {
                    host.log(Level::Info, &line);
                }
                Ok(vec![
                    MetricFamily::gauge("misbehave_ok", "Fine.").with_value(1.0),
                ])
            }
            "stderr-flood" => {
                use std::io::Write;
                let chunk = vec![b'z'; 1 << 16];
                let mut stderr = std::io::stderr();
                for _ in 0..GIGABYTE / chunk.len() {
                    // Errors (a full buffer) are what the host answers; keep writing regardless.
                    let _ = stderr.write_all(&chunk);
                }
                Ok(vec![
                    MetricFamily::gauge("misbehave_ok", "Fine.").with_value(1.0),
                ])
            }
            "flood" => {
                let n = if config.series == 0 {
                    1_000_000
                } else {
                    config.series
                };
                let mut family = MetricFamily::gauge("misbehave_flood", "Too many series.");
                for i in 0..n {
                    family.sample(&[("i", &i.to_string())], i as f64);
                }
                Ok(vec![family])
            }
            other => Err(Error::msg(format!("unknown mode {other:?}"))),
        }
    }
}

/// Recursion without end (the depth keeps the frames from being optimized away).
#[allow(unconditional_recursion)] // the point: it overflows the stack
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 16]);
    recurse(frame[depth as usize % 16] + 1) + frame[0]
}

/// A family built without the SDK's name checks.
fn raw_family(name: &str, samples: Vec<Vec<(&str, &str)>>) -> MetricFamily {
    MetricFamily {
        name: name.into(),
        help: "Deliberately invalid.".into(),
        kind: MetricKind::Gauge,
        samples: samples
            .into_iter()
            .map(|labels| Sample {
                labels: labels
                    .into_iter()
                    .map(|(n, v)| Label {
                        name: n.into(),
                        value: v.into(),
                    })
                    .collect(),
                value: 1.0,
            })
            .collect(),
    }
}

/// Tries to read outside the roots; one sample per attempt, labelled with the outcome
/// (`ok` means the read succeeded, which the tests treat as an escape).
fn escape_attempts(host: &Host) -> MetricFamily {
    let mut family = MetricFamily::gauge("misbehave_escape", "Outcome of each escape attempt.");
    let attempts: [(&str, Root, &str); 8] = [
        ("dotdot", Root::Proc, "../etc/passwd"),
        ("dotdot_deep", Root::Proc, "self/../../etc/passwd"),
        ("absolute", Root::Proc, "/etc/passwd"),
        ("self_root", Root::Proc, "self/root/etc/passwd"),
        ("pid1_cwd", Root::Proc, "1/cwd/etc/passwd"),
        ("fd", Root::Proc, "self/fd/0"),
        ("ungranted_sys", Root::Sys, "kernel/uevent_seqnum"),
        ("ungranted_rootfs", Root::Rootfs, "etc/passwd"),
    ];
    for (name, root, path) in attempts {
        let outcome = match host.read(root, path) {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("{e:?}"),
        };
        family.sample(&[("attempt", name), ("outcome", &outcome)], 1.0);
    }
    family
}

sonde_sdk::export!(Misbehave);
