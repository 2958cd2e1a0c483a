//! node_exporter's include/exclude flag pairs (`device-include`/`device-exclude`, …).

use sonde_sdk::Error;
use sonde_sdk::filter::NameFilter;

/// Builds the filter of an include/exclude pair the way node_exporter (≥ 1.11) resolves its
/// flags: setting the include pattern drops an exclude pattern left at its default, and setting
/// both is an error. `what` names the pair in the error, e.g. `device`.
pub fn include_exclude(
    what: &str,
    include: &str,
    exclude: &str,
    default_exclude: &str,
) -> Result<NameFilter, Error> {
    let exclude = if !include.is_empty() && exclude == default_exclude {
        ""
    } else {
        exclude
    };
    if !include.is_empty() && !exclude.is_empty() {
        return Err(Error::msg(format!(
            "{what}_include and {what}_exclude are mutually exclusive"
        )));
    }
    NameFilter::new(include, exclude).map_err(|e| e.context(format!("{what} filter")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_drops_the_default_exclude() {
        let f = include_exclude("device", "", "^loop", "^loop").unwrap();
        assert!(f.ignored("loop0") && f.kept("sda"));
        let f = include_exclude("device", "^loop", "^loop", "^loop").unwrap();
        assert!(f.kept("loop0") && f.ignored("sda"));
        let f = include_exclude("device", "", "", "^loop").unwrap();
        assert!(f.kept("loop0"));
        let err = include_exclude("device", "^sd", "^sdb", "^loop").unwrap_err();
        assert_eq!(
            err.to_string(),
            "device_include and device_exclude are mutually exclusive"
        );
        let err = include_exclude("device", "(", "", "^loop").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("device filter: invalid include pattern"),
            "{err}"
        );
    }
}
