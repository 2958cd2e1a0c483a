//! Go semantics that relabel rules are written for: `regexp/syntax` (translated to the `regex`
//! crate's dialect), `Regexp.Expand` templates (`$1`, `${name}`), and `strings.ToLower` /
//! `ToUpper`, so a rule behaves exactly as in Prometheus.

use regex::{Captures, Regex};

// ---- Go `strings.ToLower`/`ToUpper` ----

/// Go's `strings.ToLower`: each character through `unicode.ToLower`, the simple (one-to-one)
/// mapping of `UnicodeData.txt`. Rust's full mapping differs only for `İ` (simple: `i`), and
/// `str::to_lowercase` also maps a final `Σ` to `ς`, which Go does not.
pub(super) fn go_to_lower(s: &str, out: &mut String) {
    for c in s.chars() {
        let mut lower = c.to_lowercase();
        match (lower.next(), lower.next()) {
            (Some(l), None) => out.push(l),
            _ if c == '\u{130}' => out.push('i'),
            _ => out.push(c),
        }
    }
}

/// Go's `strings.ToUpper` (`unicode.ToUpper`, the simple mapping). Where Rust's full mapping has
/// several characters (`ß` → `SS`, ligatures, Greek with ypogegrammeni), the simple mapping is the
/// character itself, except for the Greek small letters with ypogegrammeni, which map to their
/// titlecase (prosgegrammeni) forms.
pub(super) fn go_to_upper(s: &str, out: &mut String) {
    for c in s.chars() {
        let mut upper = c.to_uppercase();
        match (upper.next(), upper.next()) {
            (Some(u), None) => out.push(u),
            _ => out.push(match c as u32 {
                0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => {
                    char::from_u32(c as u32 + 8).unwrap_or(c)
                }
                0x1FB3 | 0x1FC3 | 0x1FF3 => char::from_u32(c as u32 + 9).unwrap_or(c),
                _ => c,
            }),
        }
    }
}

// ---- Go `Regexp.Expand` templates ----

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Piece {
    Literal(String),
    /// The first of these groups that took part in the match (a number names one group; a name
    /// may name several in Go).
    Groups(Vec<usize>),
}

/// A `$1`/`${1}`/`$name`/`${name}` template, parsed as Go's `Regexp.Expand` reads it: the longest
/// run of letters, digits and `_` is the name (`$1x` is `${1x}`), a number with a leading zero is
/// a name, `$$` is `$`, a malformed reference (`${`, `${}`, `$-`) is literal text, and a reference
/// to a group that does not exist or did not match is empty.
#[derive(Debug, Clone, Default)]
pub(super) struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// `group_names[i]` is the name of group `i` (Go allows a name twice).
    pub(super) fn parse(template: &str, group_names: &[Option<String>]) -> Template {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = template;
        while let Some(i) = rest.find('$') {
            literal.push_str(&rest[..i]);
            rest = &rest[i..];
            if rest[1..].starts_with('$') {
                literal.push('$');
                rest = &rest[2..];
                continue;
            }
            let Some((name, after)) = extract_reference(rest) else {
                literal.push('$');
                rest = &rest[1..];
                continue;
            };
            rest = after;
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            let groups = match go_group_number(name) {
                Some(n) => vec![n],
                None => group_names
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| n.as_deref() == Some(name))
                    .map(|(i, _)| i)
                    .collect(),
            };
            pieces.push(Piece::Groups(groups));
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Template { pieces }
    }

    pub(super) fn expand(&self, captures: &Captures<'_>, out: &mut String) {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Groups(groups) => {
                    if let Some(m) = groups.iter().find_map(|&g| captures.get(g)) {
                        out.push_str(m.as_str());
                    }
                }
            }
        }
    }
}

/// Go's `unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_'` (general categories L and Nd).
pub(super) fn is_go_word_char(c: char) -> bool {
    static WORD: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    let mut buf = [0; 4];
    WORD.get_or_init(|| Regex::new(r"^[\p{L}\p{Nd}]$").expect("valid regex"))
        .is_match(c.encode_utf8(&mut buf))
}

/// Go's `extract`: the name of a leading `$name` or `${name}` and the text after it.
pub(super) fn extract_reference(s: &str) -> Option<(&str, &str)> {
    let body = s.strip_prefix('$')?;
    let (brace, body) = match body.strip_prefix('{') {
        Some(inner) => (true, inner),
        None => (false, body),
    };
    let end = body
        .char_indices()
        .find(|&(_, c)| !is_go_word_char(c))
        .map_or(body.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let rest = &body[end..];
    let rest = if brace { rest.strip_prefix('}')? } else { rest };
    Some((&body[..end], rest))
}

/// A group number as Go reads one: decimal digits, no leading zero, below 10⁹.
pub(super) fn go_group_number(name: &str) -> Option<usize> {
    if name.len() > 1 && name.starts_with('0') {
        return None;
    }
    let mut n: usize = 0;
    for b in name.bytes() {
        if !b.is_ascii_digit() || n >= 100_000_000 {
            return None;
        }
        n = n * 10 + usize::from(b - b'0');
    }
    Some(n)
}

// ---- Go regexp syntax ----

/// Compiles a Prometheus regex: Go RE2 syntax, anchored as `^(?s:…)$`. Returns the regex and the
/// name of each capture group (by index) for templates.
pub(super) fn compile_regex(text: &str) -> Result<(Regex, Vec<Option<String>>), String> {
    let (pattern, names) =
        translate_go_regex(text).map_err(|e| format!("error parsing regexp {text:?}: {e}"))?;
    let regex = Regex::new(&format!("^(?s:{pattern})$"))
        .map_err(|e| format!("error parsing regexp {text:?}: {e}"))?;
    Ok((regex, names))
}

/// Rewrites a pattern in Go's `regexp/syntax` (Perl flags) as an equivalent pattern for the
/// `regex` crate, and rejects the Go errors listed below that the crate would accept. The
/// differences handled:
///
/// - `\d`, `\s`, `\w` (and negations) are ASCII in Go, Unicode in the crate; `\b`/`\B` likewise;
/// - `\Q…\E` quotes text (the crate has no such syntax);
/// - a `{` that does not start a valid repetition is a literal in Go, an error in the crate;
///   repetition counts above 1000 and stacked repetitions (`a**`) are errors in Go;
/// - in a class, `[`, `&&`, `--`, `~~` are literals in Go (nested classes and set operations in
///   the crate); `\<`, `\>` are the literal characters (word boundaries in the crate);
/// - `(?i-i)`, `(?)` are valid in Go; `\p{^Greek}` is `\P{Greek}`;
/// - group names are limited to `[A-Za-z0-9_]` in Go, and may repeat. Groups are emitted
///   unnamed, and the names returned for templates.
pub(super) fn translate_go_regex(pattern: &str) -> Result<(String, Vec<Option<String>>), String> {
    let mut t = GoRegex {
        rest: pattern,
        out: String::with_capacity(pattern.len() + 16),
        names: vec![None],
    };
    t.run()?;
    Ok((t.out, t.names))
}

pub(super) struct GoRegex<'a> {
    rest: &'a str,
    out: String,
    names: Vec<Option<String>>,
}

const POSIX_CLASSES: [&str; 14] = [
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// Go's Perl classes, as ASCII classes (`\d`, `\s`, `\w` and negations).
pub(super) fn perl_class(c: char) -> Option<&'static str> {
    Some(match c {
        'd' => "[0-9]",
        'D' => "[^0-9]",
        's' => r"[\t\n\x0C\r ]",
        'S' => r"[^\t\n\x0C\r ]",
        'w' => "[0-9A-Za-z_]",
        'W' => "[^0-9A-Za-z_]",
        _ => return None,
    })
}

/// Appends `c` as a literal outside a class.
pub(super) fn push_literal(out: &mut String, c: char) {
    if regex::escape(c.encode_utf8(&mut [0; 4])).len() > c.len_utf8() {
        out.push('\\');
    }
    out.push(c);
}

/// Appends `c` as a literal inside a class (any ASCII punctuation as `\x{..}`).
pub(super) fn push_class_literal(out: &mut String, c: char) {
    if c.is_ascii() && !c.is_ascii_alphanumeric() {
        out.push_str(&format!("\\x{{{:X}}}", c as u32));
    } else {
        out.push(c);
    }
}

impl GoRegex<'_> {
    fn peek(&self) -> Option<char> {
        self.rest.chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.rest = &self.rest[c.len_utf8()..];
        Some(c)
    }

    fn run(&mut self) -> Result<(), String> {
        // The previous token was a repetition operator (Go rejects `a**`, `a{2}{3}`).
        let mut last_repeat: Option<&str> = None;
        while let Some(c) = self.peek() {
            let before = self.rest;
            let mut repeat = false;
            match c {
                '(' if self.rest.starts_with("(?") => self.perl_group()?,
                '(' => {
                    self.bump();
                    self.out.push('(');
                    self.names.push(None);
                }
                ')' | '|' | '^' | '$' | '.' => {
                    self.bump();
                    self.out.push(c);
                }
                '[' => self.class()?,
                '*' | '+' | '?' => {
                    self.bump();
                    self.out.push(c);
                    repeat = true;
                }
                '{' => match parse_repeat(self.rest) {
                    None => {
                        self.bump();
                        self.out.push_str(r"\{");
                    }
                    Some((min, max, len)) => {
                        let text = &self.rest[..len];
                        if min > 1000 || max.is_some_and(|m| m > 1000 || m < min) {
                            return Err(format!("invalid repeat count: `{text}`"));
                        }
                        self.rest = &self.rest[len..];
                        match max {
                            Some(max) if max == min => self.out.push_str(&format!("{{{min}}}")),
                            Some(max) => self.out.push_str(&format!("{{{min},{max}}}")),
                            None => self.out.push_str(&format!("{{{min},}}")),
                        }
                        repeat = true;
                    }
                },
                '\\' => self.escape()?,
                _ => {
                    self.bump();
                    push_literal(&mut self.out, c);
                }
            }
            if repeat {
                if self.peek() == Some('?') {
                    self.bump();
                    self.out.push('?');
                }
                let op = &before[..before.len() - self.rest.len()];
                if let Some(last) = last_repeat {
                    return Err(format!("invalid nested repetition operator: `{last}{op}`"));
                }
                last_repeat = Some(op);
            } else {
                last_repeat = None;
            }
        }
        Ok(())
    }

    /// `(?P<name>`, `(?<name>`, `(?flags)`, `(?flags:` (Go's `parsePerlFlags`).
    fn perl_group(&mut self) -> Result<(), String> {
        let start = self.rest;
        let t = self.rest;
        let named =
            (t.len() > 4 && t[2..].starts_with("P<")) || (t.len() > 3 && t[2..].starts_with('<'));
        if named {
            let begin = if t[2..].starts_with('<') { 3 } else { 4 };
            let Some(end) = t.find('>') else {
                return Err(format!("invalid named capture: `{t}`"));
            };
            let name = &t[begin..end];
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("invalid named capture: `{}`", &t[..=end]));
            }
            self.rest = &t[end + 1..];
            self.out.push('(');
            self.names.push(Some(name.to_owned()));
            return Ok(());
        }
        self.rest = &t[2..];
        let mut on = String::new();
        let mut off = String::new();
        let mut negated = false;
        let mut saw_flag = false;
        while let Some(c) = self.bump() {
            match c {
                'i' | 'm' | 's' | 'U' => {
                    saw_flag = true;
                    let (add, remove) = if negated {
                        (&mut off, &mut on)
                    } else {
                        (&mut on, &mut off)
                    };
                    remove.retain(|f| f != c);
                    if !add.contains(c) {
                        add.push(c);
                    }
                }
                '-' if !negated => {
                    negated = true;
                    saw_flag = false;
                }
                ':' | ')' if !negated || saw_flag => {
                    let flags = if off.is_empty() {
                        on
                    } else {
                        format!("{on}-{off}")
                    };
                    if c == ':' {
                        self.out.push_str(&format!("(?{flags}:"));
                    } else if !flags.is_empty() {
                        self.out.push_str(&format!("(?{flags})"));
                    }
                    return Ok(());
                }
                _ => break,
            }
        }
        let consumed = &start[..start.len() - self.rest.len()];
        Err(format!("invalid or unsupported Perl syntax: `{consumed}`"))
    }

    /// An escape outside a class.
    fn escape(&mut self) -> Result<(), String> {
        let t = self.rest;
        let Some(c) = t[1..].chars().next() else {
            return Err("trailing backslash at end of expression".into());
        };
        match c {
            'A' | 'z' => {
                self.rest = &t[2..];
                self.out.push('\\');
                self.out.push(c);
            }
            'b' | 'B' => {
                self.rest = &t[2..];
                self.out.push_str(&format!("(?-u:\\{c})"));
            }
            'C' => return Err("invalid escape sequence: `\\C`".into()),
            'Q' => {
                // The quote runs to `\E`; without one it would swallow Prometheus' closing `)$`.
                let Some((literal, rest)) = t[2..].split_once(r"\E") else {
                    return Err("missing closing ): `\\Q` is not ended by `\\E`".into());
                };
                for c in literal.chars() {
                    push_literal(&mut self.out, c);
                }
                self.rest = rest;
            }
            'p' | 'P' => {
                let class = self.unicode_class()?;
                self.out.push_str(&class);
            }
            _ => {
                if let Some(class) = perl_class(c) {
                    self.rest = &t[2..];
                    self.out.push_str(class);
                } else {
                    let c = self.char_escape()?;
                    push_literal(&mut self.out, c);
                }
            }
        }
        Ok(())
    }

    /// Go's `parseEscape`: an escaped character (octal, hex, C escapes, punctuation).
    fn char_escape(&mut self) -> Result<char, String> {
        let t = self.rest;
        let invalid = |len: usize| format!("invalid escape sequence: `{}`", &t[..len.min(t.len())]);
        self.bump(); // '\'
        let Some(c) = self.bump() else {
            return Err("trailing backslash at end of expression".into());
        };
        let consumed = |s: &Self| t.len() - s.rest.len();
        if c.is_ascii() && !c.is_ascii_alphanumeric() {
            return Ok(c);
        }
        let octal = |c: Option<char>| c.filter(|c| ('0'..='7').contains(c));
        match c {
            '1'..='7' | '0' => {
                if c != '0' && octal(self.peek()).is_none() {
                    return Err(invalid(consumed(self)));
                }
                let mut r = c as u32 - '0' as u32;
                for _ in 1..3 {
                    let Some(d) = octal(self.peek()) else { break };
                    self.bump();
                    r = r * 8 + (d as u32 - '0' as u32);
                }
                char::from_u32(r).ok_or_else(|| invalid(consumed(self)))
            }
            'x' => {
                let Some(c) = self.bump() else {
                    return Err(invalid(consumed(self)));
                };
                if c == '{' {
                    let mut r: u32 = 0;
                    let mut digits = 0;
                    loop {
                        match self.bump() {
                            Some('}') if digits > 0 => break,
                            Some(d) if d.is_ascii_hexdigit() => {
                                r = r * 16 + d.to_digit(16).unwrap_or(0);
                                digits += 1;
                                if r > 0x10FFFF {
                                    return Err(invalid(consumed(self)));
                                }
                            }
                            _ => return Err(invalid(consumed(self))),
                        }
                    }
                    return char::from_u32(r).ok_or_else(|| invalid(consumed(self)));
                }
                let hi = c.to_digit(16);
                let lo = self.bump().and_then(|c| c.to_digit(16));
                match (hi, lo) {
                    (Some(h), Some(l)) => char::from_u32(h * 16 + l).ok_or_else(|| invalid(2)),
                    _ => Err(invalid(consumed(self))),
                }
            }
            'a' => Ok('\x07'),
            'f' => Ok('\x0C'),
            'n' => Ok('\n'),
            'r' => Ok('\r'),
            't' => Ok('\t'),
            'v' => Ok('\x0B'),
            _ => Err(invalid(consumed(self))),
        }
    }

    /// `\pL`, `\p{Name}`, `\p{^Name}`, `\PL`… (Go's `parseUnicodeClass`; names are left to the
    /// crate, which matches them loosely as Go ≥ 1.25 does).
    fn unicode_class(&mut self) -> Result<String, String> {
        let t = self.rest;
        let mut negated = t[1..].starts_with('P');
        self.rest = &t[2..];
        let name = match self.bump() {
            Some('{') => {
                let Some(end) = self.rest.find('}') else {
                    return Err(format!("invalid character class range: `{t}`"));
                };
                let name = &self.rest[..end];
                self.rest = &self.rest[end + 1..];
                name
            }
            Some(c) => &t[2..2 + c.len_utf8()],
            None => "",
        };
        let name = match name.strip_prefix('^') {
            Some(n) => {
                negated = !negated;
                n
            }
            None => name,
        };
        if name.is_empty() || name.contains(['{', '}', '=', ':', '^']) {
            return Err(format!(
                "invalid character class range: `{}`",
                &t[..t.len() - self.rest.len()]
            ));
        }
        Ok(format!("\\{}{{{name}}}", if negated { 'P' } else { 'p' }))
    }

    /// A bracketed class (Go's `parseClass`).
    fn class(&mut self) -> Result<(), String> {
        let whole = self.rest;
        let missing = || format!("missing closing ]: `{whole}`");
        self.bump(); // '['
        self.out.push('[');
        if self.peek() == Some('^') {
            self.bump();
            self.out.push('^');
        }
        let mut first = true;
        loop {
            let t = self.rest;
            if t.is_empty() {
                return Err(missing());
            }
            if t.starts_with(']') && !first {
                self.bump();
                break;
            }
            first = false;
            // A POSIX class runs to the first `:]`, even past the class' end, as in Go.
            if t.len() > 2
                && t.starts_with("[:")
                && let Some(i) = t[2..].find(":]")
            {
                let class = &t[..i + 4];
                let name = &t[2..2 + i];
                if !POSIX_CLASSES.contains(&name.strip_prefix('^').unwrap_or(name)) {
                    return Err(format!("invalid character class range: `{class}`"));
                }
                self.out.push_str(class);
                self.rest = &t[i + 4..];
                continue;
            }
            if t.starts_with(r"\p") || t.starts_with(r"\P") {
                let class = self.unicode_class()?;
                self.out.push_str(&class);
                continue;
            }
            if let Some(class) = t
                .strip_prefix('\\')
                .and_then(|r| r.chars().next())
                .and_then(perl_class)
            {
                self.rest = &t[2..];
                self.out.push_str(class);
                continue;
            }
            let lo = self.class_char().ok_or_else(missing)??;
            let mut hi = lo;
            let t = self.rest;
            if t.len() >= 2 && t.starts_with('-') && !t[1..].starts_with(']') {
                self.bump();
                hi = self.class_char().ok_or_else(missing)??;
                if hi < lo {
                    return Err(format!("invalid character class range: `{lo}-{hi}`"));
                }
            }
            push_class_literal(&mut self.out, lo);
            if hi != lo {
                self.out.push('-');
                push_class_literal(&mut self.out, hi);
            }
        }
        self.out.push(']');
        Ok(())
    }

    /// One character of a class, escaped or not; `None` at the end of the pattern.
    fn class_char(&mut self) -> Option<Result<char, String>> {
        match self.peek()? {
            '\\' => Some(self.char_escape()),
            c => {
                self.bump();
                Some(Ok(c))
            }
        }
    }
}

/// Go's `parseRepeat`: `{n}`, `{n,}`, `{n,m}` at the start of `s` (digits without a leading zero),
/// as (min, max, length); `None` when `{` is a literal. Counts too large to read are `usize::MAX`.
pub(super) fn parse_repeat(s: &str) -> Option<(usize, Option<usize>, usize)> {
    fn int(s: &str) -> Option<(usize, &str)> {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || (digits > 1 && s.starts_with('0')) {
            return None;
        }
        let n = s[..digits].parse().unwrap_or(usize::MAX);
        Some((n, &s[digits..]))
    }
    let body = s.strip_prefix('{')?;
    let (min, rest) = int(body)?;
    let (max, rest) = match rest.strip_prefix(',') {
        None => (Some(min), rest),
        Some(r) if r.starts_with('}') => (None, r),
        Some(r) => {
            let (max, r) = int(r)?;
            (Some(max), r)
        }
    };
    let rest = rest.strip_prefix('}')?;
    Some((min, max, s.len() - rest.len()))
}
