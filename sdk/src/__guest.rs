//! The WebAssembly side of [`crate::export!`]: converts between the SDK's types and the generated
//! bindings. Not public API.

use crate::__bindings::sonde::collector::types as wit;
use crate::{Capability, Collector, Host, MetricKind};

/// `describe` of the `collector` interface for `C`.
pub fn describe<C: Collector>() -> wit::PluginInfo {
    let d = C::describe();
    wit::PluginInfo {
        name: d.name,
        version: d.version,
        summary: d.summary,
        needs: d
            .needs
            .into_iter()
            .map(|c| match c {
                Capability::Proc => wit::Capability::Proc,
                Capability::Sys => wit::Capability::Sys,
                Capability::Rootfs => wit::Capability::Rootfs,
                Capability::Statfs => wit::Capability::Statfs,
                Capability::Timex => wit::Capability::Timex,
            })
            .collect(),
        default_config: crate::default_config_json::<C>(),
    }
}

/// `collect-encoded` of the `collector-encoded` interface for `C`: the families in one buffer
/// (`sonde_wire::encoding`).
pub fn collect_encoded<C: Collector>(config: &str) -> Result<Vec<u8>, String> {
    let host = Host { _private: () };
    let families = crate::run_collect::<C>(&host, config).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    sonde_wire::encoding::encode(&families, &mut out);
    Ok(out)
}

/// `collect` of the `collector` interface for `C` (what hosts before plugin API 0.1.2 call).
pub fn collect<C: Collector>(config: &str) -> Result<Vec<wit::MetricFamily>, String> {
    let host = Host { _private: () };
    let families = crate::run_collect::<C>(&host, config).map_err(|e| e.to_string())?;
    Ok(families
        .into_iter()
        .map(|f| wit::MetricFamily {
            name: f.name,
            help: f.help,
            kind: match f.kind {
                MetricKind::Counter => wit::MetricKind::Counter,
                MetricKind::Gauge => wit::MetricKind::Gauge,
                MetricKind::Untyped => wit::MetricKind::Untyped,
                MetricKind::Info => wit::MetricKind::Info,
            },
            samples: f
                .samples
                .into_iter()
                .map(|s| wit::Sample {
                    labels: s
                        .labels
                        .into_iter()
                        .map(|l| wit::Label {
                            name: l.name,
                            value: l.value,
                        })
                        .collect(),
                    value: s.value,
                })
                .collect(),
        })
        .collect())
}
