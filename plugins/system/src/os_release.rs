//! The `os-release` file format (`KEY=value` lines, shell-like quoting), parsed as node_exporter
//! parses it with hashicorp/go-envparse v0.1.0: blank lines and `#` comments are skipped, an
//! `export ` prefix is dropped, double-quoted values take JSON escapes (`\n`, `\"`, `\u00e9`, …),
//! single-quoted ones are literal, an unquoted `#` starts a comment, and anything malformed (a
//! line without `=`, a bad key, a control character, an unmatched quote) is an error.

use sonde_sdk::Error;
use std::collections::HashMap;

/// Parses `text` into its variables; a key given twice keeps its last value.
pub fn parse(text: &str) -> Result<HashMap<String, String>, Error> {
    let mut vars = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        let error = |e: String| Error::msg(format!("error on line {}: {e}", index + 1));
        if let Some((key, value)) = parse_line(line).map_err(error)? {
            vars.insert(key, value);
        }
    }
    Ok(vars)
}

/// One line: `None` for blank lines and comments.
fn parse_line(line: &str) -> Result<Option<(String, String)>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (key, value) = line.split_once('=').ok_or("missing =")?;
    let (mut key, value) = (key.trim(), value.trim());
    if key.len() > "export ".len() {
        key = key.strip_prefix("export ").unwrap_or(key);
    }
    check_key(key)?;
    Ok(Some((key.to_owned(), unquote(value.as_bytes())?)))
}

/// Keys are `[A-Za-z_][A-Za-z0-9_./]*`.
fn check_key(key: &str) -> Result<(), String> {
    let mut bytes = key.bytes();
    let first = bytes.next().ok_or("empty key")?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return Err(format!(
            "key must start with [A-Za-z_] but found {:?}",
            char::from(first)
        ));
    }
    match bytes.find(|&b| !(b.is_ascii_alphanumeric() || b"_./".contains(&b))) {
        Some(b) => Err(format!(
            "key characters must be [A-Za-z0-9/_.] but found {:?}",
            char::from(b)
        )),
        None => Ok(()),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Normal,
    Double,
    Single,
    Escape,
}

/// The value with quotes, escapes and a trailing comment resolved.
fn unquote(value: &[u8]) -> Result<String, String> {
    let mut out: Vec<u8> = Vec::with_capacity(value.len());
    // The end of the last significant byte, to drop blanks before a trailing comment.
    let mut significant = 0;
    let mut mode = Mode::Normal;
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        i += 1;
        if b < 32 {
            return Err(format!("0x{b:02x} is an invalid value character"));
        }
        if b > 127 {
            if mode == Mode::Escape {
                return Err("multibyte characters disallowed in escape sequences".into());
            }
            out.push(b);
            significant = out.len();
            continue;
        }
        match (mode, b) {
            (Mode::Normal, b'"') => mode = Mode::Double,
            (Mode::Normal, b'\'') => mode = Mode::Single,
            (Mode::Normal, b'#') => {
                out.truncate(significant);
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
            (Mode::Normal, b' ') => out.push(b),
            (Mode::Double, b'"') | (Mode::Single, b'\'') => mode = Mode::Normal,
            (Mode::Double, b'\\') => mode = Mode::Escape,
            (Mode::Escape, _) => {
                let c = match b {
                    b'"' | b'\\' | b'/' => char::from(b),
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'r' => '\r',
                    b'n' => '\n',
                    b't' => '\t',
                    b'u' => {
                        let (c, used) = unicode_escape(&value[i..])?;
                        i += used;
                        c
                    }
                    _ => {
                        return Err(format!(
                            "invalid escape sequence: {:?}",
                            char::from(b).to_string()
                        ));
                    }
                };
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                significant = out.len();
                mode = Mode::Double;
            }
            _ => {
                out.push(b);
                significant = out.len();
            }
        }
    }
    match mode {
        Mode::Normal => Ok(String::from_utf8_lossy(&out).into_owned()),
        Mode::Double => Err("unmatched \"".into()),
        Mode::Single => Err("unmatched '".into()),
        Mode::Escape => Err("incomplete escape sequence".into()),
    }
}

/// The character of `XXXX` (after `\u`), or of a UTF-16 surrogate pair `XXXX\uYYYY`, and how
/// many bytes it used.
fn unicode_escape(rest: &[u8]) -> Result<(char, usize), String> {
    let first = hex4(rest)?;
    if !(0xD800..0xE000).contains(&first) {
        return Ok((char::from_u32(first).unwrap_or('\u{FFFD}'), 4));
    }
    if rest.len() < 10 || &rest[4..6] != b"\\u" {
        return Err("incomplete Unicode surrogate pair".into());
    }
    let second = hex4(&rest[6..])?;
    let c = char::decode_utf16([first as u16, second as u16])
        .next()
        .and_then(Result::ok)
        .unwrap_or('\u{FFFD}');
    Ok((c, 10))
}

fn hex4(bytes: &[u8]) -> Result<u32, String> {
    let digits = bytes.get(..4).ok_or("incomplete hex sequence")?;
    digits.iter().try_fold(0, |n, &d| {
        let v = char::from(d)
            .to_digit(16)
            .ok_or_else(|| format!("invalid hex character: {:?}", char::from(d).to_string()))?;
        Ok(n * 16 + v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(line: &str) -> Result<String, String> {
        parse_line(line).map(|kv| kv.unwrap().1)
    }

    #[test]
    fn parses_os_release() {
        let vars = parse(
            "# comment\n\nNAME=\"Debian GNU/Linux\"\nexport ID=debian\n ID_LIKE = 'rhel fedora' \n\
             VERSION_ID=\"12\"\nVERSION_ID=12.1\nEMPTY=\n",
        )
        .unwrap();
        assert_eq!(vars["NAME"], "Debian GNU/Linux");
        assert_eq!(vars["ID"], "debian");
        assert_eq!(vars["ID_LIKE"], "rhel fedora");
        assert_eq!(vars["VERSION_ID"], "12.1", "the last value wins");
        assert_eq!(vars["EMPTY"], "");
    }

    #[test]
    fn values_as_go_envparse() {
        assert_eq!(value("A=This is ok! # comment").unwrap(), "This is ok!");
        assert_eq!(
            value("A=\"quoted # not a comment\"").unwrap(),
            "quoted # not a comment"
        );
        assert_eq!(
            value(r#"A="a\"b\\c\/d\n\u00e9\ud83d\ude00""#).unwrap(),
            "a\"b\\c/d\né😀"
        );
        assert_eq!(value("A='single \\n'x").unwrap(), "single \\nx");
        assert_eq!(value("A=caf\u{e9}").unwrap(), "café");
        assert_eq!(value("export=1").unwrap(), "1");
    }

    #[test]
    fn malformed_lines_are_errors() {
        for (line, message) in [
            ("NAME", "missing ="),
            ("=x", "empty key"),
            ("1A=x", "key must start with [A-Za-z_] but found '1'"),
            (
                "A-B=x",
                "key characters must be [A-Za-z0-9/_.] but found '-'",
            ),
            ("A=\"x", "unmatched \""),
            ("A='x", "unmatched '"),
            ("A=\"x\\", "incomplete escape sequence"),
            ("A=\"\\q\"", "invalid escape sequence: \"q\""),
            ("A=\"\\u12\"", "incomplete hex sequence"),
            ("A=\"\\u12zz\"", "invalid hex character: \"z\""),
            ("A=\"\\ud83d\"", "incomplete Unicode surrogate pair"),
            ("A=a\tb", "0x09 is an invalid value character"),
        ] {
            assert_eq!(parse_line(line).unwrap_err(), message, "{line}");
        }
        let err = parse("A=1\nB\n").unwrap_err();
        assert_eq!(err.to_string(), "error on line 2: missing =");
    }
}
