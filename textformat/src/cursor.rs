//! Reading the tokens of one line: names, label values, HELP text, numbers.

/// A position in one line (without its newline).
pub(super) struct Cursor<'a> {
    line: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(line: &'a [u8]) -> Self {
        Cursor { line, pos: 0 }
    }

    /// Moves past the current byte.
    pub(super) fn advance(&mut self) {
        self.pos += 1;
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.line.get(self.pos).copied()
    }

    /// The current byte as a character for messages (`'\n'` at the end of the line).
    pub(super) fn peek_char(&self) -> char {
        self.peek().map_or('\n', char::from)
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.line.len()
    }

    pub(super) fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.pos += 1;
        }
    }

    /// The bytes up to the next blank or the end of the line.
    pub(super) fn token(&mut self) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(|b| !is_blank(b)) {
            self.pos += 1;
        }
        &self.line[start..self.pos]
    }

    /// The rest of the line.
    pub(super) fn rest(&mut self) -> &'a [u8] {
        let rest = &self.line[self.pos..];
        self.pos = self.line.len();
        rest
    }

    /// A metric name (or, with `label`, a label name): `[a-zA-Z_:][a-zA-Z0-9_:]*` (no `:` in
    /// label names), or a double-quoted name with escapes. Empty when no name starts here.
    pub(super) fn name(&mut self, label: bool) -> Result<String, String> {
        let start =
            |b: u8| b.is_ascii_alphabetic() || b == b'_' || b == b'"' || (!label && b == b':');
        let what = if label { "label" } else { "metric" };
        let mut out = Vec::new();
        let (mut quoted, mut escaped) = (false, false);
        if !self.peek().is_some_and(start) {
            return Ok(String::new());
        }
        while let Some(b) = self.peek() {
            if escaped {
                out.push(unescape(b)?);
                escaped = false;
            } else {
                match b {
                    b'"' if quoted => {
                        self.pos += 1;
                        return Ok(String::from_utf8_lossy(&out).into_owned());
                    }
                    b'"' => quoted = true,
                    b'\\' => escaped = true,
                    _ => out.push(b),
                }
            }
            self.pos += 1;
            match self.peek() {
                None if quoted => {
                    let name = String::from_utf8_lossy(&out);
                    return Err(format!("{what} name {name:?} contains unescaped new-line"));
                }
                // Inside quotes any byte continues the name; outside, only name characters.
                Some(next) if quoted || start(next) || next.is_ascii_digit() => {}
                _ => break,
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// A label value after its opening quote, through the closing quote, unescaped.
    pub(super) fn label_value(&mut self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut escaped = false;
        while let Some(b) = self.peek() {
            self.pos += 1;
            if escaped {
                out.push(unescape(b)?);
                escaped = false;
            } else {
                match b {
                    b'"' => return Ok(out),
                    b'\\' => escaped = true,
                    _ => out.push(b),
                }
            }
        }
        let value = String::from_utf8_lossy(&out);
        Err(format!("label value {value:?} contains unescaped new-line"))
    }

    /// The HELP text: the rest of the line, with `\\`, `\n` and `\"` unescaped.
    pub(super) fn help_text(&mut self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut escaped = false;
        for &b in self.rest() {
            if escaped {
                out.push(unescape(b)?);
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else {
                out.push(b);
            }
        }
        if escaped {
            return Err("invalid escape sequence '\\\n'".into());
        }
        Ok(out)
    }
}

/// The byte an escape sequence `\b` stands for.
fn unescape(b: u8) -> Result<u8, String> {
    match b {
        b'\\' => Ok(b'\\'),
        b'"' => Ok(b'"'),
        b'n' => Ok(b'\n'),
        _ => Err(format!("invalid escape sequence '\\{}'", char::from(b))),
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`: Prometheus' legacy label names, which (unlike sonde's output
/// rules) include names starting with `__`.
pub(super) fn is_legacy_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub(super) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Parses a float as the Go parser does: Go's `strconv.ParseFloat` syntax (`1e3`, `+Inf`, `NaN`,
/// …) but no hexadecimal, no `_`, and out-of-range values are errors.
pub(super) fn parse_float(text: &str) -> Result<f64, String> {
    let invalid = || format!("invalid float {text:?}");
    if text.contains(['p', 'P', '_']) {
        return Err(invalid());
    }
    let value: f64 = text.parse().map_err(|_| invalid())?;
    if value.is_infinite() && !text.to_ascii_lowercase().contains("inf") {
        return Err(invalid());
    }
    Ok(value)
}
