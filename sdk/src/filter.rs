//! Include/exclude filters on names (devices, mount points, fields), with node_exporter's
//! semantics: a name is kept unless it matches the exclude pattern, and, when an include pattern
//! is set, only if it matches it. Patterns are unanchored searches, as Go's `MatchString`.
//!
//! Regexes are compiled with `regex-lite` (a small, well-kept sibling of `regex` from the same
//! maintainers): plugins are WebAssembly components, and the Unicode tables of `regex` would add
//! hundreds of KiB to each for patterns that are ASCII in practice. Answers are remembered in
//! `rustc-hash` maps (the Rust compiler's own hasher, maintained by the Rust project): the keys
//! are short names the kernel prints, where SipHash's resistance to chosen keys buys nothing and
//! costs a third of a lookup.

use crate::Error;
use regex_lite::Regex;
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::rc::Rc;

/// How many answers a [`Pattern`] remembers before it starts over (names churn slowly: devices,
/// fields, mount points).
const ANSWERS_KEPT: usize = 16_384;

/// A compiled regex that remembers its answers: the names a collector matches (fields of
/// `/proc/net/netstat`, devices, mount points) are the same every cycle, so after the first
/// cycle a match is a hash lookup instead of a regex run.
#[derive(Debug)]
pub struct Pattern {
    regex: Regex,
    answers: RefCell<FxHashMap<String, bool>>,
}

impl Pattern {
    /// True if the regex matches somewhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        if let Some(answer) = self.answers.borrow().get(text) {
            return *answer;
        }
        let answer = self.regex.is_match(text);
        let mut answers = self.answers.borrow_mut();
        if answers.len() >= ANSWERS_KEPT {
            answers.clear();
        }
        answers.insert(text.to_owned(), answer);
        answer
    }

    /// The compiled regex, for captures.
    pub fn regex(&self) -> &Regex {
        &self.regex
    }
}

/// Compiles `pattern`. Compile once, when the collector is built from its config
/// ([`crate::Collector::new`]), and keep the result in the collector: it lives as long as the
/// plugin's instance, and so do the answers it remembers.
pub fn compile(pattern: &str) -> Result<Rc<Pattern>, regex_lite::Error> {
    Ok(Rc::new(Pattern {
        regex: Regex::new(pattern)?,
        answers: RefCell::default(),
    }))
}

/// An include/exclude pair of optional regexes, built with the collector
/// ([`crate::Collector::new`]) and kept in it.
#[derive(Debug, Clone, Default)]
pub struct NameFilter {
    include: Option<Rc<Pattern>>,
    exclude: Option<Rc<Pattern>>,
}

impl NameFilter {
    /// Compiles the patterns; an empty string means "not set".
    pub fn new(include: &str, exclude: &str) -> Result<Self, Error> {
        let compile = |pattern: &str, what: &str| -> Result<Option<Rc<Pattern>>, Error> {
            if pattern.is_empty() {
                return Ok(None);
            }
            compile(pattern)
                .map(Some)
                .map_err(|e| Error::msg(format!("invalid {what} pattern {pattern:?}: {e}")))
        };
        Ok(NameFilter {
            include: compile(include, "include")?,
            exclude: compile(exclude, "exclude")?,
        })
    }

    /// True when `name` is filtered out.
    pub fn ignored(&self, name: &str) -> bool {
        self.exclude.as_ref().is_some_and(|r| r.is_match(name))
            || self.include.as_ref().is_some_and(|r| !r.is_match(name))
    }

    /// True when `name` is kept.
    pub fn kept(&self, name: &str) -> bool {
        !self.ignored(name)
    }
}

/// Compiles a pattern that must match the whole string (`^(?:pattern)$`), for field filters.
pub fn anchored(pattern: &str) -> Result<Rc<Pattern>, Error> {
    compile(&format!("^(?:{pattern})$"))
        .map_err(|e| Error::msg(format!("invalid pattern {pattern:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_remember_answers() {
        let a = compile("^eth[0-9]+$").unwrap();
        assert!(a.is_match("eth0") && a.is_match("eth0") && !a.is_match("lo"));
        assert_eq!(a.answers.borrow().len(), 2);
    }

    #[test]
    fn include_and_exclude() {
        let f = NameFilter::new("", "^(ram|loop)\\d+$").unwrap();
        assert!(f.ignored("loop0"));
        assert!(f.kept("sda"));
        let f = NameFilter::new("^sd", "").unwrap();
        assert!(f.kept("sda") && f.ignored("nvme0n1"));
        let f = NameFilter::new("a", "b").unwrap();
        assert!(f.ignored("ab") && f.kept("a") && f.ignored("c"));
        assert!(NameFilter::new("(", "").is_err());
    }

    #[test]
    fn anchored_patterns_match_whole_names() {
        let r = anchored("oom_kill|pgpg.*").unwrap();
        assert!(r.is_match("pgpgin") && r.is_match("oom_kill"));
        assert!(!r.is_match("xoom_kill"));
    }
}
