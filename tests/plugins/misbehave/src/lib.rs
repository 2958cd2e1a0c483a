//! A deliberately broken plugin for sonde's tests. Its config picks the misbehaviour:
//! `{"mode": "trap"}`, `"invalid-name"`, `"duplicate-series"`, `"loop"`, `"oom"`, `"fail"`,
//! `"flood"` (returns `series` series, a million by default), `"escape"` (tries to leave its
//! roots and reports each attempt), or `"ok"`.

use serde::{Deserialize, Serialize};
use sonde_sdk::{
    Capability, Collector, Description, Error, Host, Label, MetricFamily, MetricKind, Root, Sample,
};

/// The misbehaving collector.
#[derive(Default)]
pub struct Misbehave;

/// `{"mode": …}`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// What to do; `ok` when empty.
    pub mode: String,
    /// How many series `flood` returns (0: a million).
    pub series: usize,
}

impl Collector for Misbehave {
    type Config = Config;

    fn describe() -> Description {
        Description::new("misbehave", "0.0.0", "misbehaves for tests").needs(&[Capability::Proc])
    }

    fn collect(&self, host: &Host, config: &Config) -> Result<Vec<MetricFamily>, Error> {
        match config.mode.as_str() {
            "" | "ok" => Ok(vec![
                MetricFamily::gauge("misbehave_ok", "Fine.").with_value(1.0),
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
