//! Helpers for sysfs attribute files: one value per file, whitespace-trimmed, as
//! node_exporter's (and procfs') `SysReadFile` reads them.

use sonde_sdk::{Error, FsError, Host, Root};

/// Reads a sysfs attribute under `Root::Sys`, trimmed. `Ok(None)` when the file does not exist.
pub fn read_attr(host: &Host, path: &str) -> Result<Option<String>, FsError> {
    attr_text(host.read(Root::Sys, path))
}

/// An attribute read as text: trimmed, `None` when the file does not exist.
fn attr_text(read: Result<Vec<u8>, FsError>) -> Result<Option<String>, FsError> {
    match read {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).trim().to_owned())),
        Err(FsError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads the attributes `names` of the sysfs directory `dir` in one host call, trimmed, one
/// result per name in order (`Ok(None)` for a file that does not exist). Cheaper than a
/// [`read_attr`] each: one crossing, and the host walks `dir` (in sysfs often through a
/// symlink, revalidated at every step) once instead of once per file.
pub fn read_attrs(host: &Host, dir: &str, names: &[&str]) -> Vec<Result<Option<String>, FsError>> {
    let paths: Vec<String> = names.iter().map(|name| format!("{dir}/{name}")).collect();
    host.read_many(Root::Sys, &paths)
        .into_iter()
        .map(attr_text)
        .collect()
}

/// Reads a sysfs attribute and parses it (`u64`, `i64`, `f64`, …). `Ok(None)` when the file does
/// not exist; a value that does not parse is an error naming the file.
pub fn read_parsed<T>(host: &Host, path: &str) -> Result<Option<T>, Error>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    match read_attr(host, path)? {
        Some(text) => match text.parse() {
            Ok(value) => Ok(Some(value)),
            Err(e) => Err(Error::msg(format!("/sys/{path}: {text:?}: {e}"))),
        },
        None => Ok(None),
    }
}

/// Reads a sysfs attribute as an unsigned integer. `Ok(None)` when the file does not exist.
pub fn read_u64(host: &Host, path: &str) -> Result<Option<u64>, Error> {
    read_parsed(host, path)
}

/// Reads a sysfs attribute as a signed integer. `Ok(None)` when the file does not exist.
pub fn read_i64(host: &Host, path: &str) -> Result<Option<i64>, Error> {
    read_parsed(host, path)
}

/// The names in a sysfs directory (sorted). `Ok(vec![])` when the directory does not exist.
pub fn list(host: &Host, path: &str) -> Result<Vec<String>, FsError> {
    match host.read_dir(Root::Sys, path) {
        Ok(entries) => Ok(entries.into_iter().map(|e| e.name).collect()),
        Err(FsError::NotFound) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Parses a kernel CPU list such as `0-3,5,9` (as in `/sys/devices/system/cpu/isolated`) into
/// CPU numbers, in order; empty items are skipped.
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>, Error> {
    let mut cpus = Vec::new();
    for item in text.trim().split(',').filter(|s| !s.is_empty()) {
        let bad = |e: std::num::ParseIntError| Error::msg(format!("cpu list item {item:?}: {e}"));
        match item.split_once('-') {
            Some((first, last)) => {
                let (first, last): (u32, u32) =
                    (first.parse().map_err(bad)?, last.parse().map_err(bad)?);
                cpus.extend(first..=last);
            }
            None => cpus.push(item.parse().map_err(bad)?),
        }
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_attrs_answers_each_name_in_order() {
        let sys = std::env::temp_dir().join(format!("sonde-sysfs-{}", std::process::id()));
        std::fs::create_dir_all(sys.join("class/net/eth0/queues")).unwrap();
        std::fs::write(sys.join("class/net/eth0/mtu"), "1500\n").unwrap();
        std::fs::write(sys.join("class/net/eth0/operstate"), " up \n").unwrap();
        let host = sonde_sdk::testing::Fixture::new()
            .root(Root::Sys, &sys)
            .host();
        let attrs = read_attrs(
            &host,
            "class/net/eth0",
            &["operstate", "speed", "mtu", "queues"],
        );
        std::fs::remove_dir_all(&sys).unwrap();
        assert_eq!(attrs[0], Ok(Some("up".to_owned())));
        assert_eq!(attrs[1], Ok(None));
        assert_eq!(attrs[2], Ok(Some("1500".to_owned())));
        assert!(matches!(attrs[3], Err(FsError::Other(_))), "{:?}", attrs[3]);
        assert_eq!(attrs.len(), 4);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("1,3-5,9\n").unwrap(), [1, 3, 4, 5, 9]);
        assert_eq!(parse_cpu_list("\n").unwrap(), Vec::<u32>::new());
        assert!(parse_cpu_list("1-x").is_err());
    }
}
