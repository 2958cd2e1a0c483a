//! Text helpers with Go's semantics, for output that must match node_exporter byte for byte.

/// Go's `strings.ToValidUTF8(s, "\u{FFFD}")`: each run of bytes that are not UTF-8 becomes one
/// replacement character (Rust's lossy conversion gives one per invalid sequence).
pub fn to_valid_utf8(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut in_invalid_run = false;
    for chunk in bytes.utf8_chunks() {
        if !chunk.valid().is_empty() {
            out.push_str(chunk.valid());
            in_invalid_run = false;
        }
        if !chunk.invalid().is_empty() && !in_invalid_run {
            out.push('\u{FFFD}');
            in_invalid_run = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_invalid_bytes_become_one_replacement() {
        assert_eq!(to_valid_utf8(b"Core 0"), "Core 0");
        assert_eq!(to_valid_utf8(b"a\xff\xfeb\xffc"), "a\u{FFFD}b\u{FFFD}c");
    }
}
