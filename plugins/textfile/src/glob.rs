//! Directory patterns as Go's `filepath.Glob` expands them (`*`, `?`, `[a-z]`, `[^…]`, `\`
//! escapes), listing directories below the rootfs through the host.

use crate::paths::{below_rootfs, join, split};
use regex_lite::Regex;
use sonde_sdk::{Host, Root};

/// The paths matching `pattern`, sorted within each directory. `None` when the pattern is
/// malformed; an empty list when nothing matches.
pub fn expand(host: &Host, pattern: &str) -> Option<Vec<String>> {
    if !has_meta(pattern) {
        return Some(vec![pattern.to_owned()]);
    }
    let (dir, file) = split(pattern);
    let file = compile(file)?;
    let dir = match dir {
        "" => ".",
        "/" => "/",
        _ => dir.trim_end_matches('/'),
    };
    let dirs = if has_meta(dir) {
        expand(host, dir)?
    } else {
        vec![dir.to_owned()]
    };
    let mut matches = Vec::new();
    for dir in dirs {
        // Like Go, a directory that cannot be listed simply has no matches.
        let Ok(entries) = host.read_dir(Root::Rootfs, &below_rootfs(&dir)) else {
            continue;
        };
        for entry in entries.into_iter().filter(|e| file.is_match(&e.name)) {
            matches.push(join(&dir, &entry.name));
        }
    }
    Some(matches)
}

/// True when `path` has a character that `filepath.Match` treats specially.
pub fn has_meta(path: &str) -> bool {
    path.contains(['*', '?', '[', '\\'])
}

/// Translates one path component's pattern to an anchored regex; `None` if malformed.
fn compile(pattern: &str) -> Option<Regex> {
    let mut regex = String::from("^(?:");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => regex.push_str("[^/]*"),
            '?' => regex.push_str("[^/]"),
            '\\' => regex.push_str(&regex_lite::escape(&chars.next()?.to_string())),
            '[' => regex.push_str(&class(&mut chars)?),
            _ => regex.push_str(&regex_lite::escape(&c.to_string())),
        }
    }
    regex.push_str(")$");
    Regex::new(&regex).ok()
}

/// A character class after its `[`, through its `]`: `^` negates, `a-z` is a range, `\`
/// escapes; an unescaped `-` or `]` where a character is expected makes the pattern malformed.
fn class(chars: &mut std::str::Chars) -> Option<String> {
    let mut out = String::from("[");
    if chars.clone().next() == Some('^') {
        out.push('^');
        chars.next();
    }
    // Go's getEsc: one character, maybe escaped.
    let character = |chars: &mut std::str::Chars| -> Option<String> {
        let c = match chars.next()? {
            '-' | ']' => return None,
            '\\' => chars.next()?,
            c => c,
        };
        Some(format!("\\x{{{:x}}}", c as u32))
    };
    let mut ranges = 0;
    loop {
        if chars.clone().next() == Some(']') && ranges > 0 {
            chars.next();
            break;
        }
        out.push_str(&character(chars)?);
        if chars.clone().next() == Some('-') {
            chars.next();
            out.push('-');
            out.push_str(&character(chars)?);
        }
        ranges += 1;
    }
    out.push(']');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, name: &str) -> bool {
        compile(pattern).unwrap().is_match(name)
    }

    #[test]
    fn patterns_as_go_filepath_match() {
        assert!(matches("*.prom", "a.prom") && !matches("*.prom", "a.prom.tmp"));
        assert!(matches("node?", "node1") && !matches("node?", "node12"));
        assert!(matches("[a-c]x", "bx") && !matches("[a-c]x", "dx"));
        assert!(matches("[^a-c]x", "dx") && !matches("[^a-c]x", "ax"));
        assert!(matches("\\*", "*") && !matches("\\*", "a"));
        assert!(matches("a.b", "a.b") && !matches("a.b", "axb"));
        assert!(matches("[\\]-\\^]", "^"));
        for bad in ["[", "[a", "[a-]", "[-a]", "[]a]", "\\", "[]"] {
            assert!(compile(bad).is_none(), "{bad}");
        }
    }
}
