//! Integers whose base is given by their prefix, as C's `strtol(s, NULL, 0)` and Go's
//! `strconv.ParseInt(s, 0, 64)` read them: the kernel prints some attributes in hex (`flags`
//! is `0x1003`, `dev_id` is `0x0`), and node_exporter parses those files with base 0.

use sonde_sdk::Error;

/// Parses an unsigned integer: `0x`/`0X` hexadecimal, `0o`/`0O` or a leading `0` octal,
/// `0b`/`0B` binary, otherwise decimal. No sign is accepted.
pub fn parse_u64(text: &str) -> Result<u64, Error> {
    let bad = || Error::msg(format!("invalid integer {text:?}"));
    let (digits, radix) = if let Some(rest) = strip_prefix2(text, "0x") {
        (rest, 16)
    } else if let Some(rest) = strip_prefix2(text, "0o") {
        (rest, 8)
    } else if let Some(rest) = strip_prefix2(text, "0b") {
        (rest, 2)
    } else if text.len() > 1 && text.starts_with('0') {
        (&text[1..], 8)
    } else {
        (text, 10)
    };
    // `from_str_radix` would accept a sign of its own; base-0 parsing does not.
    if digits.starts_with(['+', '-']) {
        return Err(bad());
    }
    u64::from_str_radix(digits, radix).map_err(|_| bad())
}

/// Parses a signed integer: an optional `+` or `-`, then a number as [`parse_u64`] reads it.
pub fn parse_i64(text: &str) -> Result<i64, Error> {
    let (negative, magnitude) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = parse_u64(magnitude)?;
    let out_of_range = || Error::msg(format!("integer {text:?} out of range"));
    if negative {
        0i64.checked_sub_unsigned(magnitude)
            .ok_or_else(out_of_range)
    } else {
        i64::try_from(magnitude).map_err(|_| out_of_range())
    }
}

/// Strips a two-letter prefix such as `0x`, in either case of its letter.
fn strip_prefix2<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..2)?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[2..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_follow_the_prefix() {
        assert_eq!(parse_u64("0x1003").unwrap(), 4099);
        assert_eq!(parse_u64("0X20").unwrap(), 32);
        assert_eq!(parse_u64("017").unwrap(), 15);
        assert_eq!(parse_u64("0o17").unwrap(), 15);
        assert_eq!(parse_u64("0b101").unwrap(), 5);
        assert_eq!(parse_u64("0").unwrap(), 0);
        assert_eq!(parse_u64("1500").unwrap(), 1500);
        for bad in ["", "0x", "+5", "-5", "0x-1", "09", "1 ", "abc"] {
            assert!(parse_u64(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn signed_values() {
        assert_eq!(parse_i64("-1").unwrap(), -1);
        assert_eq!(parse_i64("+0x10").unwrap(), 16);
        assert_eq!(parse_i64("-9223372036854775808").unwrap(), i64::MIN);
        assert!(parse_i64("9223372036854775808").is_err());
        assert!(parse_i64("--1").is_err());
        assert!(parse_i64("-").is_err());
    }
}
