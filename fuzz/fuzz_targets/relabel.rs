//! The relabel engine: any rules (those that compile) on any label set; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde::de::IntoDeserializer;
use sonde::pipeline::relabel::{Action, RelabelConfig, RelabelRule, relabel};
use sonde_sdk::Label;

const ACTIONS: [&str; 11] = [
    "replace",
    "keep",
    "drop",
    "keepequal",
    "dropequal",
    "hashmod",
    "labelmap",
    "labeldrop",
    "labelkeep",
    "lowercase",
    "uppercase",
];

type Rule = (
    u8,
    Vec<String>,
    Option<String>,
    Option<String>,
    Option<u64>,
    Option<String>,
    Option<String>,
);

fuzz_target!(|input: (Vec<Rule>, Vec<(String, String)>)| {
    let (rules, labels) = input;
    let rules: Vec<RelabelRule> = rules
        .into_iter()
        .take(8)
        .filter_map(
            |(action, source_labels, separator, regex, modulus, target, replacement)| {
                let name = ACTIONS[action as usize % ACTIONS.len()];
                let deserializer: serde::de::value::StrDeserializer<serde::de::value::Error> =
                    name.into_deserializer();
                let config = RelabelConfig {
                    source_labels,
                    separator,
                    regex,
                    modulus,
                    target_label: target,
                    replacement,
                    action: Action::deserialize(deserializer).ok()?,
                };
                RelabelRule::compile(&config).ok()
            },
        )
        .collect();
    let mut labels: Vec<Label> = labels
        .into_iter()
        .take(32)
        .map(|(name, value)| Label { name, value })
        .collect();
    let mut scratch = String::new();
    let _ = relabel(&rules, &mut labels, &mut scratch);
});
