//! process-exporter's `process_names` matchers: which group a process belongs to, and its name.

use crate::attrs::{ProcAttrs, base_name};
use crate::template::Template;
use regex_lite::Regex;
use serde::{Deserialize, Serialize};
use sonde_sdk::Error;

/// One entry of `process_names`, as in process-exporter's YAML config. Every selector given
/// must match; a process belongs to the first entry that matches it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatcherGroup {
    /// The group name template (default `{{.ExeBase}}`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Matches when the comm (`stat`'s command name, at most 15 bytes) is one of these.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comm: Option<Vec<String>>,
    /// Matches on `argv[0]`: an entry without `/` when it is `argv[0]`'s base name, an entry
    /// with `/` when it is `argv[0]` exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe: Option<Vec<String>>,
    /// Regexes that must all match the arguments joined by spaces; their named captures are
    /// `{{.Matches.<name>}}` in the name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmdline: Option<Vec<String>>,
}

/// The compiled `process_names`.
#[derive(Debug, Clone)]
pub struct Matchers {
    groups: Vec<Matcher>,
}

#[derive(Debug, Clone)]
struct Matcher {
    comm: Option<Vec<String>>,
    /// `(base name, full path if the entry had a '/')`, one per base name (the last entry wins,
    /// as in process-exporter's map).
    exe: Option<Vec<(String, Option<String>)>>,
    cmdline: Vec<Regex>,
    name: Template,
}

impl Matchers {
    /// Compiles the config; an entry without selectors, a bad regex or template is an error.
    pub fn compile(config: &[MatcherGroup]) -> Result<Matchers, Error> {
        let groups = config
            .iter()
            .enumerate()
            .map(|(i, group)| {
                Matcher::compile(group).map_err(|e| e.context(format!("process_names[{i}]")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Matchers { groups })
    }

    /// True when no group is configured.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// True when matching or naming needs the processes' command lines.
    pub fn need_cmdline(&self) -> bool {
        self.groups
            .iter()
            .any(|g| g.exe.is_some() || !g.cmdline.is_empty() || g.name.uses_cmdline())
    }

    /// True when some group could match a process with this comm (so its command line is
    /// worth reading).
    pub fn may_match(&self, comm: &str) -> bool {
        self.groups.iter().any(|g| g.comm_matches(comm))
    }

    /// Writes the name of the first group matching `p` into `name`; false when none matches.
    pub fn name_into(&self, p: &ProcAttrs, name: &mut String) -> bool {
        match self.groups.iter().find(|g| g.matches(p)) {
            Some(group) => {
                group.name.render(p, &group.cmdline, name);
                true
            }
            None => false,
        }
    }
}

impl Matcher {
    fn compile(group: &MatcherGroup) -> Result<Matcher, Error> {
        if group.comm.is_none() && group.exe.is_none() && group.cmdline.is_none() {
            return Err(Error::msg("no matchers provided (comm, exe or cmdline)"));
        }
        let exe = group.exe.as_ref().map(|entries| {
            let mut exes: Vec<(String, Option<String>)> = Vec::new();
            for entry in entries {
                let base = base_name(entry).to_owned();
                let full = entry.contains('/').then(|| entry.clone());
                exes.retain(|(b, _)| *b != base);
                exes.push((base, full));
            }
            exes
        });
        let cmdline = group
            .cmdline
            .iter()
            .flatten()
            .map(|r| {
                sonde_sdk::filter::compile(r)
                    .map(|pattern| pattern.regex().clone())
                    .map_err(|e| Error::msg(format!("bad cmdline regex {r:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let template = if group.name.is_empty() {
            "{{.ExeBase}}"
        } else {
            &group.name
        };
        Ok(Matcher {
            comm: group.comm.clone(),
            exe,
            name: Template::parse(template, &cmdline)?,
            cmdline,
        })
    }

    fn comm_matches(&self, comm: &str) -> bool {
        self.comm
            .as_ref()
            .is_none_or(|comms| comms.iter().any(|c| c == comm))
    }

    fn exe_matches(&self, p: &ProcAttrs) -> bool {
        let Some(exes) = &self.exe else { return true };
        let Some(argv0) = p.argv0() else { return false };
        let base = base_name(argv0);
        exes.iter()
            .any(|(b, full)| b == base && full.as_ref().is_none_or(|f| f == argv0))
    }

    fn matches(&self, p: &ProcAttrs) -> bool {
        self.comm_matches(p.comm)
            && self.exe_matches(p)
            && self.cmdline.iter().all(|r| r.is_match(p.cmdline()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, comm: &[&str], exe: &[&str], cmdline: &[&str]) -> MatcherGroup {
        let list = |l: &[&str]| (!l.is_empty()).then(|| l.iter().map(|s| s.to_string()).collect());
        MatcherGroup {
            name: name.into(),
            comm: list(comm),
            exe: list(exe),
            cmdline: list(cmdline),
        }
    }

    fn name(m: &Matchers, p: &ProcAttrs) -> Option<String> {
        let mut out = String::new();
        m.name_into(p, &mut out).then_some(out)
    }

    const PG: ProcAttrs = ProcAttrs {
        pid: 10,
        comm: "postgres",
        cmdline: Some(("/usr/lib/postgresql/15/bin/postgres -D /var/lib/pg", 35)),
    };
    const KTHREAD: ProcAttrs = ProcAttrs {
        pid: 2,
        comm: "kthreadd",
        cmdline: None,
    };

    #[test]
    fn selectors_and_first_match_wins() {
        let m = Matchers::compile(&[
            group("db", &["postgres"], &[], &[r"-D\s+/nope"]),
            group("exe:{{.ExeBase}}", &[], &["postgres"], &[]),
            group("{{.Comm}}", &[], &[], &[".+"]),
            group("kernel", &["kthreadd"], &[], &[]),
        ])
        .unwrap();
        // The first entry's regex does not match; the exe entry does.
        assert_eq!(name(&m, &PG).as_deref(), Some("exe:postgres"));
        // A kernel thread has an empty cmdline: `.+` does not match it.
        assert_eq!(name(&m, &KTHREAD).as_deref(), Some("kernel"));
        assert!(m.need_cmdline() && m.may_match("anything"));
    }

    #[test]
    fn exe_entries_with_a_path_must_match_exactly() {
        let full = Matchers::compile(&[group(
            "",
            &[],
            &["/usr/lib/postgresql/15/bin/postgres"],
            &[],
        )])
        .unwrap();
        // Without a name, the group is named {{.ExeBase}}.
        assert_eq!(name(&full, &PG).as_deref(), Some("postgres"));
        let other = Matchers::compile(&[group("x", &[], &["/usr/bin/postgres"], &[])]).unwrap();
        assert!(name(&other, &PG).is_none());
        // Kernel threads never match an exe selector.
        let k = Matchers::compile(&[group("x", &[], &["kthreadd"], &[])]).unwrap();
        assert!(name(&k, &KTHREAD).is_none());
    }

    #[test]
    fn comm_only_groups_need_no_cmdline() {
        let m = Matchers::compile(&[group("{{.Comm}}", &["sshd", "bash"], &[], &[])]).unwrap();
        assert!(!m.need_cmdline());
        assert!(m.may_match("bash") && !m.may_match("zsh"));
        // An empty list is a selector that matches nothing, as in process-exporter.
        let empty = MatcherGroup {
            comm: Some(vec![]),
            ..Default::default()
        };
        let m = Matchers::compile(&[empty]).unwrap();
        assert!(name(&m, &PG).is_none());
    }

    #[test]
    fn config_errors_name_the_entry() {
        let err = Matchers::compile(&[group("x", &["a"], &[], &[]), group("y", &[], &[], &[])])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "process_names[1]: no matchers provided (comm, exe or cmdline)"
        );
        let err = Matchers::compile(&[group("x", &[], &[], &["("])]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("process_names[0]: bad cmdline regex \"(\""),
            "{err}"
        );
        let err = Matchers::compile(&[group("{{.Username}}", &["a"], &[], &[])]).unwrap_err();
        assert!(err.to_string().contains("unsupported"), "{err}");
    }
}
