//! Relabeling with Prometheus' `relabel_config` semantics (`model/relabel/relabel.go`): the same
//! actions, defaults, validation, regex dialect and anchoring, template expansion, case mapping and
//! `hashmod` hash, so rules copied from a Prometheus or Alloy config behave the same here.
//!
//! Label names are validated as Prometheus does with `metric_name_validation_scheme: legacy`
//! (`[a-zA-Z_][a-zA-Z0-9_]*`), the only names sonde can expose.
//!
//! Rules are compiled once ([`RelabelRule::compile`]); applying them to a sample's labels edits the
//! label vector in place and allocates only for values that change.

use md5::{Digest, Md5};
use regex::Regex;
use serde::{Deserialize, Deserializer};
use sonde_sdk::Label;
use std::fmt;

/// A relabeling action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    /// Set `target_label` to `replacement` (with `$1`… from the regex match) when the regex matches.
    #[default]
    Replace,
    /// Keep the sample only if the regex matches the joined source values.
    Keep,
    /// Drop the sample if the regex matches.
    Drop,
    /// Keep the sample only if the joined source values equal `target_label`'s value.
    KeepEqual,
    /// Drop the sample if the joined source values equal `target_label`'s value.
    DropEqual,
    /// Set `target_label` to the md5 hash of the source values modulo `modulus`.
    HashMod,
    /// Copy every label whose name matches to the name given by `replacement`.
    LabelMap,
    /// Remove every label whose name matches.
    LabelDrop,
    /// Remove every label whose name does not match.
    LabelKeep,
    /// Set `target_label` to the lowercased source values.
    Lowercase,
    /// Set `target_label` to the uppercased source values.
    Uppercase,
}

const ACTIONS: [Action; 11] = [
    Action::Replace,
    Action::Keep,
    Action::Drop,
    Action::KeepEqual,
    Action::DropEqual,
    Action::HashMod,
    Action::LabelMap,
    Action::LabelDrop,
    Action::LabelKeep,
    Action::Lowercase,
    Action::Uppercase,
];

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }
}

/// Actions are matched case-insensitively, as Prometheus' `Action.UnmarshalYAML` does
/// (`strings.ToLower`), so `action = "LabelMap"` is accepted.
impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Action, D::Error> {
        let s = String::deserialize(deserializer)?;
        let mut lower = String::with_capacity(s.len());
        go_to_lower(&s, &mut lower);
        ACTIONS
            .into_iter()
            .find(|a| a.name() == lower)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown relabel action {s:?}")))
    }
}

/// One `[[relabel]]` rule as written in the config; every field is optional, as in Prometheus.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` and matched against `regex`.
    #[serde(default)]
    pub source_labels: Vec<String>,
    /// Joins the source values (default `;`).
    pub separator: Option<String>,
    /// Regex in Go's RE2 syntax, anchored at both ends (default `(.*)`).
    pub regex: Option<String>,
    /// Modulus for `hashmod`.
    pub modulus: Option<u64>,
    /// The label written by `replace`, `hashmod`, `lowercase`, `uppercase`, compared by
    /// `keepequal`/`dropequal`.
    pub target_label: Option<String>,
    /// The replacement, with `$1`, `${name}` references (default `$1`).
    pub replacement: Option<String>,
    /// The action (default `replace`).
    #[serde(default)]
    pub action: Action,
}

/// A rule that is not valid, with the key at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelabelError {
    /// The config key at fault (`regex`, `target_label`, …).
    pub key: &'static str,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RelabelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for RelabelError {}

const DEFAULT_SEPARATOR: &str = ";";
const DEFAULT_REGEX: &str = "(.*)";
const DEFAULT_REPLACEMENT: &str = "$1";

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct RelabelRule {
    source_labels: Vec<String>,
    separator: String,
    regex: Regex,
    /// No `regex` was given. Prometheus compares its `Regexp` pointer with the default's, so an
    /// explicit `regex: (.*)` is not "the default" (it matters for `keepequal`/`dropequal`).
    default_regex: bool,
    modulus: u64,
    target_label: String,
    replacement: String,
    /// `target_label` and `replacement` parsed as Go `Regexp.Expand` templates.
    target_template: Template,
    replacement_template: Template,
    action: Action,
}

fn error(key: &'static str, message: impl Into<String>) -> RelabelError {
    RelabelError {
        key,
        message: message.into(),
    }
}

/// Prometheus' `relabelTargetLegacy`: a label name that may contain `$1`/`${name}` templates. Go's
/// `\w` is ASCII-only, hence the explicit class.
fn is_relabel_target(s: &str) -> bool {
    static TARGET: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    TARGET
        .get_or_init(|| {
            Regex::new(r"^(?:(?:[a-zA-Z_]|\$(?:\{[0-9A-Za-z_]+\}|[0-9A-Za-z_]+))+[0-9A-Za-z_]*)+$")
                .expect("valid regex")
        })
        .is_match(s)
}

/// A legacy Prometheus label name, `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

impl RelabelRule {
    /// Validates and compiles a rule, with Prometheus' checks (in its order) and messages.
    pub fn compile(c: &RelabelConfig) -> Result<RelabelRule, RelabelError> {
        let regex_text = c.regex.as_deref().unwrap_or(DEFAULT_REGEX);
        let (regex, group_names) = compile_regex(regex_text).map_err(|e| error("regex", e))?;
        // Prometheus parses `source_labels` as `model.LabelName`s, which (with its global UTF-8
        // scheme, whatever the scrape's scheme) only rejects the empty name.
        if c.source_labels.iter().any(String::is_empty) {
            return Err(error("source_labels", "\"\" is not a valid label name"));
        }
        let action = c.action;
        let target = c.target_label.clone().unwrap_or_default();
        let replacement = c
            .replacement
            .clone()
            .unwrap_or_else(|| DEFAULT_REPLACEMENT.into());
        let modulus = c.modulus.unwrap_or(0);
        let name = action.name();
        if action == Action::HashMod && modulus == 0 {
            return Err(error(
                "modulus",
                "relabel configuration for hashmod requires non-zero modulus",
            ));
        }
        let needs_target = matches!(
            action,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if needs_target && target.is_empty() {
            return Err(error(
                "target_label",
                format!("relabel configuration for {name} action requires 'target_label' value"),
            ));
        }
        let invalid_target = || {
            error(
                "target_label",
                format!("{target:?} is invalid 'target_label' for {name} action"),
            )
        };
        // A replace target is a label name, or with `$`, a label name with templates.
        let valid_replace_target = if has_template(&target) {
            is_relabel_target(&target)
        } else {
            is_label_name(&target)
        };
        if action == Action::Replace && !valid_replace_target {
            return Err(invalid_target());
        }
        let single_target = matches!(
            action,
            Action::Lowercase | Action::Uppercase | Action::KeepEqual | Action::DropEqual
        );
        if single_target && !is_label_name(&target) {
            return Err(invalid_target());
        }
        if single_target && replacement != DEFAULT_REPLACEMENT {
            return Err(error(
                "replacement",
                format!("'replacement' can not be set for {name} action"),
            ));
        }
        if action == Action::LabelMap && !is_relabel_target(&replacement) {
            return Err(error(
                "replacement",
                format!("{replacement:?} is invalid 'replacement' for {name} action"),
            ));
        }
        if action == Action::HashMod && !is_label_name(&target) {
            return Err(invalid_target());
        }
        let custom_separator = c
            .separator
            .as_deref()
            .is_some_and(|s| s != DEFAULT_SEPARATOR);
        if matches!(action, Action::KeepEqual | Action::DropEqual)
            && (c.regex.is_some()
                || modulus != 0
                || custom_separator
                || replacement != DEFAULT_REPLACEMENT)
        {
            return Err(error(
                "action",
                format!(
                    "{name} action requires only 'source_labels' and `target_label`, and no other fields"
                ),
            ));
        }
        if matches!(action, Action::LabelDrop | Action::LabelKeep)
            && (!c.source_labels.is_empty()
                || !target.is_empty()
                || modulus != 0
                || custom_separator
                || replacement != DEFAULT_REPLACEMENT)
        {
            return Err(error(
                "action",
                format!("{name} action requires only 'regex', and no other fields"),
            ));
        }
        Ok(RelabelRule {
            source_labels: c.source_labels.clone(),
            separator: c
                .separator
                .clone()
                .unwrap_or_else(|| DEFAULT_SEPARATOR.into()),
            default_regex: c.regex.is_none(),
            target_template: Template::parse(&target, &group_names),
            replacement_template: Template::parse(&replacement, &group_names),
            regex,
            modulus,
            target_label: target,
            replacement,
            action,
        })
    }
}

/// The value of `name` in `labels` (`""` when absent, as in Prometheus).
fn get<'a>(labels: &'a [Label], name: &str) -> &'a str {
    labels
        .iter()
        .find(|l| l.name == name)
        .map_or("", |l| l.value.as_str())
}

/// Sets `name` to `value`, or removes it when `value` is empty (Prometheus' `labels.Builder`).
fn set(labels: &mut Vec<Label>, name: &str, value: &str) {
    match labels.iter().position(|l| l.name == name) {
        Some(i) if value.is_empty() => {
            labels.remove(i);
        }
        Some(i) => {
            if labels[i].value != value {
                labels[i].value.clear();
                labels[i].value.push_str(value);
            }
        }
        None if value.is_empty() => {}
        None => labels.push(Label {
            name: name.to_owned(),
            value: value.to_owned(),
        }),
    }
}

/// True when a template refers to a capture (`$…`), so the fast path cannot be taken
/// (Prometheus' `varInRegexTemplate`).
fn has_template(s: &str) -> bool {
    s.contains('$')
}

/// Applies `rules` in order to `labels` (which include `__name__`). Returns `false` when a rule
/// drops the sample. `scratch` is reused between calls for the joined source values.
pub fn relabel(rules: &[RelabelRule], labels: &mut Vec<Label>, scratch: &mut String) -> bool {
    rules.iter().all(|rule| apply(rule, labels, scratch))
}

fn apply(rule: &RelabelRule, labels: &mut Vec<Label>, val: &mut String) -> bool {
    val.clear();
    for (i, name) in rule.source_labels.iter().enumerate() {
        if i > 0 {
            val.push_str(&rule.separator);
        }
        val.push_str(get(labels, name));
    }
    match rule.action {
        Action::Drop => return !rule.regex.is_match(val),
        Action::Keep => return rule.regex.is_match(val),
        Action::DropEqual => return get(labels, &rule.target_label) != val,
        Action::KeepEqual => return get(labels, &rule.target_label) == val,
        Action::Replace => {
            if val.is_empty()
                && rule.default_regex
                && !has_template(&rule.target_label)
                && !has_template(&rule.replacement)
            {
                set(labels, &rule.target_label, &rule.replacement);
                return true;
            }
            let Some(captures) = rule.regex.captures(val) else {
                return true;
            };
            let mut target = String::new();
            rule.target_template.expand(&captures, &mut target);
            if !is_label_name(&target) {
                return true;
            }
            let mut result = String::new();
            rule.replacement_template.expand(&captures, &mut result);
            set(labels, &target, &result);
        }
        Action::Lowercase => {
            let mut lower = String::with_capacity(val.len());
            go_to_lower(val, &mut lower);
            set(labels, &rule.target_label, &lower);
        }
        Action::Uppercase => {
            let mut upper = String::with_capacity(val.len());
            go_to_upper(val, &mut upper);
            set(labels, &rule.target_label, &upper);
        }
        Action::HashMod => {
            // The last 8 bytes of the md5, big-endian, as Prometheus.
            let hash = Md5::digest(val.as_bytes());
            let tail = u64::from_be_bytes(hash[8..16].try_into().expect("8 bytes"));
            set(
                labels,
                &rule.target_label,
                &(tail % rule.modulus).to_string(),
            );
        }
        Action::LabelMap => {
            // The regex is anchored, so Go's `ReplaceAllString` makes exactly one replacement.
            let mut added = Vec::new();
            for label in labels.iter() {
                if let Some(captures) = rule.regex.captures(&label.name) {
                    let mut name = String::new();
                    rule.replacement_template.expand(&captures, &mut name);
                    added.push((name, label.value.clone()));
                }
            }
            for (name, value) in added {
                set(labels, &name, &value);
            }
        }
        Action::LabelDrop => labels.retain(|l| !rule.regex.is_match(&l.name)),
        Action::LabelKeep => labels.retain(|l| rule.regex.is_match(&l.name)),
    }
    true
}

mod go;

use go::{Template, compile_regex, go_to_lower, go_to_upper};

#[cfg(test)]
mod tests;
