//! `/proc/sys/fs/file-nr`: the kernel's file handle counts.

use sonde_sdk::Error;

/// The counts of `/proc/sys/fs/file-nr` (`allocated<TAB>unused<TAB>maximum`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FileNr {
    /// Allocated file handles.
    pub allocated: f64,
    /// Allocated but unused handles (always 0 since Linux 2.6).
    pub unused: f64,
    /// The system-wide maximum (`fs.file-max`).
    pub maximum: f64,
}

/// Parses `file-nr` as node_exporter does: trimmed, split on tabs, at least three numbers.
pub fn parse(text: &str) -> Result<FileNr, Error> {
    let parts: Vec<&str> = text.trim().split('\t').collect();
    let [allocated, unused, maximum, ..] = parts[..] else {
        return Err(Error::msg(format!(
            "file-nr: expected 3 tab-separated numbers, got {text:?}"
        )));
    };
    let number = |v: &str| -> Result<f64, Error> {
        v.parse()
            .map_err(|e| Error::msg(format!("file-nr: invalid value {v:?}: {e}")))
    };
    Ok(FileNr {
        allocated: number(allocated)?,
        unused: number(unused)?,
        maximum: number(maximum)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_nr() {
        let f = parse("1024\t0\t1631329\n").unwrap();
        assert_eq!((f.allocated, f.unused, f.maximum), (1024.0, 0.0, 1631329.0));
        let f = parse("9\t0\t9223372036854775807\n").unwrap();
        assert_eq!(f.maximum, 9223372036854775807u64 as f64);
    }

    #[test]
    fn needs_three_tab_separated_numbers() {
        assert!(parse("1024 0 1631329\n").is_err());
        assert!(parse("1024\t0\n").is_err());
        assert!(
            parse("1024\t0\tx\n")
                .unwrap_err()
                .to_string()
                .contains("\"x\"")
        );
    }
}
