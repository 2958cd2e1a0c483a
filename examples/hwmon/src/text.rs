//! How node_exporter turns sysfs bytes into values, names and label values.

/// node_exporter reads hwmon and thermal attributes with one `read(2)` of at most 128 bytes
/// (`sysReadFile`, procfs' `SysReadFile`): anything longer is cut there.
pub const READ_LIMIT: usize = 128;

/// The part of a file's contents node_exporter sees.
pub fn first_read(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.len().min(READ_LIMIT)]
}

/// `bytes` without the newlines at either end (`strings.Trim(s, "\n")`).
pub fn trim_newlines(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b'\n')
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b'\n')
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// An attribute as procfs' `SysReadFile` returns it: the first read, whitespace-trimmed.
pub fn sys_read(bytes: &[u8]) -> String {
    String::from_utf8_lossy(first_read(bytes)).trim().to_owned()
}

/// node_exporter's `cleanMetricName`: lowercase, every character outside `[a-z0-9:_]` (and every
/// byte that is not UTF-8) replaced by `_`, then `_` trimmed from both ends.
pub fn clean_metric_name(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars().flat_map(char::to_lowercase) {
            let keep = c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '_';
            out.push(if keep { c } else { '_' });
        }
        out.extend(std::iter::repeat_n('_', chunk.invalid().len()));
    }
    out.trim_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_names_as_node_exporter() {
        assert_eq!(clean_metric_name(b"coretemp.0"), "coretemp_0");
        assert_eq!(clean_metric_name(b"asus-wmi-sensors\n"), "asus_wmi_sensors");
        assert_eq!(clean_metric_name(b"Core 0"), "core_0");
        assert_eq!(clean_metric_name(b"__x:Y__"), "x:y");
        assert_eq!(clean_metric_name(b"gr\xc3\xb6\xff\xfex"), "gr___x");
        assert_eq!(clean_metric_name(b"..."), "");
    }

    #[test]
    fn reads_are_cut_at_128_bytes_and_trimmed() {
        let long = [b'7'; 200];
        assert_eq!(sys_read(&long).len(), READ_LIMIT);
        assert_eq!(sys_read(b" cpu-thermal\n"), "cpu-thermal");
        assert_eq!(trim_newlines(b"\n Core 0 \n\n"), b" Core 0 ");
        assert_eq!(trim_newlines(b"\n\n"), b"");
    }
}
