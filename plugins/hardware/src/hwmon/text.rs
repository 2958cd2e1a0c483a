//! node_exporter's names for hwmon chips and sensors made of kernel text.

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
}
