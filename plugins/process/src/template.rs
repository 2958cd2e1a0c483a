//! Group name templates: the subset of Go's `text/template` that process-exporter's `name`
//! uses — `{{.Comm}}`, `{{.ExeBase}}`, `{{.ExeFull}}`, `{{.PID}}` and `{{.Matches.<capture>}}`
//! between literal text. Anything else is refused when the config is read, rather than
//! rendered half (as Go does on an execution error).

use crate::attrs::ProcAttrs;
use regex_lite::Regex;
use sonde_sdk::Error;
use std::fmt::Write as _;

/// A parsed name template.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Comm,
    ExeBase,
    ExeFull,
    Pid,
    /// A named capture: the `group` of the cmdline regex `regex` (the last regex that has it).
    Capture {
        regex: usize,
        group: usize,
    },
    /// `.Matches.<name>` that no regex captures: Go prints `<no value>`.
    NoValue,
}

impl Template {
    /// Parses `text`; `regexes` are the group's cmdline regexes, whose named captures
    /// `{{.Matches.<name>}}` refers to.
    pub fn parse(text: &str, regexes: &[Regex]) -> Result<Template, Error> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let end = rest[start..]
                .find("}}")
                .ok_or_else(|| Error::msg(format!("name {text:?}: unclosed {{{{")))?;
            let action = &rest[start + 2..start + end];
            parts.push(Self::action(action.trim(), regexes).ok_or_else(|| {
                Error::msg(format!(
                    "name {text:?}: unsupported {{{{{action}}}}}: use {{{{.Comm}}}}, \
                     {{{{.ExeBase}}}}, {{{{.ExeFull}}}}, {{{{.PID}}}} or {{{{.Matches.<capture>}}}}"
                ))
            })?);
            rest = &rest[start + end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    fn action(action: &str, regexes: &[Regex]) -> Option<Part> {
        Some(match action {
            ".Comm" => Part::Comm,
            ".ExeBase" => Part::ExeBase,
            ".ExeFull" => Part::ExeFull,
            ".PID" => Part::Pid,
            _ => {
                let name = action.strip_prefix(".Matches.")?;
                if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    return None;
                }
                // Captures of later regexes overwrite earlier ones in process-exporter's map.
                regexes
                    .iter()
                    .enumerate()
                    .rev()
                    .find_map(|(regex, r)| {
                        let group = r.capture_names().position(|n| n == Some(name))?;
                        Some(Part::Capture { regex, group })
                    })
                    .unwrap_or(Part::NoValue)
            }
        })
    }

    /// True when the template shows the command line (`.ExeBase`, `.ExeFull`).
    pub fn uses_cmdline(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::ExeBase | Part::ExeFull))
    }

    /// Writes the name of the process `p` into `out` (cleared first); `regexes` are the ones
    /// given to [`Template::parse`], which all matched.
    pub fn render(&self, p: &ProcAttrs, regexes: &[Regex], out: &mut String) {
        out.clear();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Comm => out.push_str(p.comm),
                Part::ExeBase => out.push_str(p.exe_base()),
                Part::ExeFull => out.push_str(p.exe_full()),
                Part::Pid => {
                    let _ = write!(out, "{}", p.pid);
                }
                Part::Capture { regex, group } => {
                    let captures = regexes[*regex].captures(p.cmdline());
                    out.push_str(
                        captures
                            .as_ref()
                            .and_then(|c| c.get(*group))
                            .map_or("", |m| m.as_str()),
                    );
                }
                Part::NoValue => out.push_str("<no value>"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str, regexes: &[&str], p: &ProcAttrs) -> String {
        let regexes: Vec<Regex> = regexes.iter().map(|r| Regex::new(r).unwrap()).collect();
        let mut out = String::from("stale");
        Template::parse(template, &regexes)
            .unwrap()
            .render(p, &regexes, &mut out);
        out
    }

    const PYTHON: ProcAttrs = ProcAttrs {
        pid: 24440,
        comm: "python3",
        cmdline: Some(("/usr/bin/python3 /tmp/mt.py worker --queue=alpha", 16)),
    };

    #[test]
    fn fields_and_text() {
        assert_eq!(render("{{.Comm}}", &[], &PYTHON), "python3");
        assert_eq!(
            render("x-{{ .ExeBase }}:{{.ExeFull}}/{{.PID}}", &[], &PYTHON),
            "x-python3:/usr/bin/python3/24440"
        );
        assert_eq!(render("plain", &[], &PYTHON), "plain");
        let kernel = ProcAttrs {
            pid: 2,
            comm: "kthreadd",
            cmdline: None,
        };
        assert_eq!(
            render("{{.ExeBase}}|{{.ExeFull}}", &[], &kernel),
            "kthreadd|kthreadd"
        );
    }

    #[test]
    fn captures() {
        let regexes = [r"--queue=(?P<Queue>\S+)", r"(?P<Script>[^/ ]+)\.py (\w+)"];
        assert_eq!(
            render("{{.Matches.Script}}:{{.Matches.Queue}}", &regexes, &PYTHON),
            "mt:alpha"
        );
        assert_eq!(render("{{.Matches.Nope}}", &regexes, &PYTHON), "<no value>");
        // A later regex with the same capture name wins, as in process-exporter's map.
        let twice = [r"(?P<X>worker)", r"(?P<X>alpha)"];
        assert_eq!(render("{{.Matches.X}}", &twice, &PYTHON), "alpha");
        // An optional group that did not take part renders empty.
        assert_eq!(
            render("[{{.Matches.Y}}]", &[r"worker(?P<Y>-\d+)?"], &PYTHON),
            "[]"
        );
    }

    #[test]
    fn unsupported_actions_are_config_errors() {
        for bad in [
            "{{.Username}}",
            "{{.Comm",
            "{{- .Comm}}",
            "{{.Matches}}",
            "{{printf \"x\"}}",
        ] {
            let err = Template::parse(bad, &[]).unwrap_err();
            assert!(err.to_string().contains("name"), "{bad}: {err}");
        }
    }
}
