//! From a plugin's metric families to the series samples that are exposed and remote-written:
//! target labels (`instance`, `job`), the plugin's relabel rules, then the global ones, as
//! Prometheus applies `metric_relabel_configs` after target labels.
//!
//! It uses the remote-write types it produces (`SeriesSample`, metadata) and the sandbox (the
//! host's address for `instance`); `config` builds it (`Config::pipeline`).

pub mod instance;
pub mod relabel;
pub mod staleness;

use crate::pipeline::relabel::{RelabelRule, relabel};
use crate::remote_write::SeriesSample;
use crate::remote_write::proto::{MetricMetadata, metric_metadata::MetricType};
use sonde_sdk::{Label, MetricFamily, MetricKind};
use std::collections::HashMap;

/// Compiled target labels and relabel rules.
#[derive(Debug, Clone)]
pub struct Pipeline {
    target_labels: Vec<Label>,
    global_rules: Vec<RelabelRule>,
    plugin_rules: HashMap<String, Vec<RelabelRule>>,
}

impl Pipeline {
    /// A pipeline with the target labels `instance` and `job`, the rules applied to every
    /// plugin's samples and, before them, each plugin's own (`Config::pipeline` makes one from
    /// the config).
    pub fn new(
        instance: String,
        job: String,
        global_rules: Vec<RelabelRule>,
        plugin_rules: HashMap<String, Vec<RelabelRule>>,
    ) -> Pipeline {
        Pipeline {
            target_labels: vec![
                Label {
                    name: "instance".into(),
                    value: instance,
                },
                Label {
                    name: "job".into(),
                    value: job,
                },
            ],
            global_rules,
            plugin_rules,
        }
    }

    /// Appends the samples of `plugin`'s families to `out`, stamped `timestamp_ms`: labels are
    /// `__name__`, the sample's own, the target labels (a sample's own `instance`/`job` is kept as
    /// `exported_instance`/`exported_job`, as Prometheus does), relabeled, without `__` labels
    /// other than `__name__`, sorted. Samples a rule drops, or whose name was removed, are left out.
    pub fn process(
        &self,
        plugin: &str,
        families: &[MetricFamily],
        timestamp_ms: i64,
        out: &mut Vec<SeriesSample>,
    ) {
        let plugin_rules = self
            .plugin_rules
            .get(plugin)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let mut scratch = String::new();
        for family in families {
            for sample in &family.samples {
                let mut labels = Vec::with_capacity(sample.labels.len() + 3);
                labels.push(Label {
                    name: "__name__".into(),
                    value: family.name.clone(),
                });
                for label in &sample.labels {
                    let name = if self.target_labels.iter().any(|t| t.name == label.name) {
                        format!("exported_{}", label.name)
                    } else {
                        label.name.clone()
                    };
                    labels.push(Label {
                        name,
                        value: label.value.clone(),
                    });
                }
                labels.extend(self.target_labels.iter().cloned());
                if !relabel(plugin_rules, &mut labels, &mut scratch)
                    || !relabel(&self.global_rules, &mut labels, &mut scratch)
                {
                    continue;
                }
                labels.retain(|l| l.name == "__name__" || !l.name.starts_with("__"));
                if !labels
                    .iter()
                    .any(|l| l.name == "__name__" && !l.value.is_empty())
                {
                    continue;
                }
                labels.sort();
                out.push(SeriesSample {
                    labels,
                    value: sample.value,
                    timestamp_ms,
                });
            }
        }
    }
}

/// Remote-write metadata (TYPE and HELP) of families.
pub fn metadata(families: &[MetricFamily]) -> Vec<MetricMetadata> {
    families
        .iter()
        .filter(|f| !f.is_empty())
        .map(|f| MetricMetadata {
            r#type: match f.kind {
                MetricKind::Counter => MetricType::Counter,
                MetricKind::Gauge => MetricType::Gauge,
                MetricKind::Untyped => MetricType::Unknown,
                MetricKind::Info => MetricType::Info,
            } as i32,
            metric_family_name: f.name.clone(),
            help: f.help.clone(),
            unit: String::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn pipeline(toml: &str) -> Pipeline {
        let config = Config::parse(toml, Path::new("test.toml")).unwrap();
        config.pipeline("192.0.2.2".into())
    }

    fn names(out: &[SeriesSample]) -> Vec<String> {
        out.iter()
            .map(|s| {
                s.labels
                    .iter()
                    .map(|l| format!("{}={}", l.name, l.value))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect()
    }

    #[test]
    fn target_labels_then_plugin_rules_then_global_rules() {
        let p = pipeline(
            r#"
[global]
job = "node"
[plugins.cpu]
[[plugins.cpu.relabel]]
source_labels = ["mode"]
regex = "idle"
action = "drop"
[[relabel]]
target_label = "region"
replacement = "eu-1"
[[relabel]]
source_labels = ["__name__"]
regex = "node_load(.*)"
target_label = "__name__"
replacement = "host_load$1"
"#,
        );
        let mut cpu = MetricFamily::counter("node_cpu_seconds_total", "x");
        cpu.sample(&[("cpu", "0"), ("mode", "idle")], 1.0);
        cpu.sample(&[("cpu", "0"), ("mode", "user")], 2.0);
        let load = MetricFamily::gauge("node_load1", "x").with_value(0.5);
        let mut out = Vec::new();
        p.process("cpu", &[cpu, load.clone()], 1000, &mut out);
        p.process("other", &[load], 2000, &mut out);
        assert_eq!(
            names(&out),
            [
                "__name__=node_cpu_seconds_total,cpu=0,instance=192.0.2.2,job=node,mode=user,region=eu-1",
                "__name__=host_load1,instance=192.0.2.2,job=node,region=eu-1",
                "__name__=host_load1,instance=192.0.2.2,job=node,region=eu-1",
            ]
        );
        assert_eq!(
            (out[0].value, out[0].timestamp_ms, out[2].timestamp_ms),
            (2.0, 1000, 2000)
        );
    }

    #[test]
    fn conflicting_and_reserved_labels() {
        let p = pipeline(
            "[[relabel]]\ntarget_label = \"__tmp\"\nreplacement = \"x\"\n[[relabel]]\nsource_labels = [\"kind\"]\nregex = \"gone\"\ntarget_label = \"__name__\"\nreplacement = \"\"\n",
        );
        let mut f = MetricFamily::gauge("my_metric", "x");
        f.sample(&[("instance", "from-textfile"), ("kind", "kept")], 1.0);
        f.sample(&[("kind", "gone")], 2.0);
        let mut out = Vec::new();
        p.process("textfile", &[f], 0, &mut out);
        assert_eq!(
            names(&out),
            [
                "__name__=my_metric,exported_instance=from-textfile,instance=192.0.2.2,job=node,kind=kept"
            ]
        );
    }

    #[test]
    fn metadata_of_families() {
        let m = metadata(&[MetricFamily::counter("a_total", "A.").with_value(1.0)]);
        assert_eq!(m[0].r#type, MetricType::Counter as i32);
        assert_eq!(
            (m[0].metric_family_name.as_str(), m[0].help.as_str()),
            ("a_total", "A.")
        );
    }
}
