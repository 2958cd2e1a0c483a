//! Include/exclude filters on names (devices, mount points, fields), with node_exporter's
//! semantics: a name is kept unless it matches the exclude pattern, and, when an include pattern
//! is set, only if it matches it. Patterns are unanchored searches, as Go's `MatchString`.
//!
//! Regexes are compiled with `regex-lite` (a small, well-kept sibling of `regex` from the same
//! maintainers): plugins are WebAssembly components, and the Unicode tables of `regex` would add
//! hundreds of KiB to each for patterns that are ASCII in practice.

use crate::Error;
use regex_lite::Regex;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

thread_local! {
    /// Compiled patterns by source text. The host keeps a plugin's instance between cycles, so
    /// a pattern from the config is compiled once, not every cycle.
    static COMPILED: RefCell<HashMap<String, Arc<Regex>>> = RefCell::new(HashMap::new());
}

/// Compiles `pattern`, or returns the copy compiled earlier.
pub fn compile(pattern: &str) -> Result<Arc<Regex>, regex_lite::Error> {
    if let Some(regex) = COMPILED.with(|c| c.borrow().get(pattern).cloned()) {
        return Ok(regex);
    }
    let regex = Arc::new(Regex::new(pattern)?);
    COMPILED.with(|c| c.borrow_mut().insert(pattern.to_owned(), regex.clone()));
    Ok(regex)
}

/// An include/exclude pair of optional regexes.
#[derive(Debug, Clone, Default)]
pub struct NameFilter {
    include: Option<Arc<Regex>>,
    exclude: Option<Arc<Regex>>,
}

impl NameFilter {
    /// Compiles the patterns; an empty string means "not set".
    pub fn new(include: &str, exclude: &str) -> Result<Self, Error> {
        let compile = |pattern: &str, what: &str| -> Result<Option<Arc<Regex>>, Error> {
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
pub fn anchored(pattern: &str) -> Result<Arc<Regex>, Error> {
    compile(&format!("^(?:{pattern})$"))
        .map_err(|e| Error::msg(format!("invalid pattern {pattern:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

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
