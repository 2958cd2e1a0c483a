//! Slash-separated paths as Go's `path/filepath` handles them on Unix (`Clean`, `Join`, `Split`),
//! so the paths the collector reports are the ones node_exporter reports, and their mapping to
//! paths below the rootfs root.

/// Go's `filepath.Clean`: no repeated or trailing `/`, no `.`, `..` resolved lexically; `.` for
/// an empty result.
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Join(dir, name)`: the cleaned concatenation, empty parts ignored.
pub fn join(dir: &str, name: &str) -> String {
    match (dir.is_empty(), name.is_empty()) {
        (true, true) => String::new(),
        (true, false) => clean(name),
        (false, true) => clean(dir),
        (false, false) => clean(&format!("{dir}/{name}")),
    }
}

/// Go's `filepath.Split`: everything up to and including the last `/`, and the rest.
pub fn split(path: &str) -> (&str, &str) {
    let at = path.rfind('/').map_or(0, |i| i + 1);
    path.split_at(at)
}

/// Where a configured path (absolute or not, both meaning below the rootfs root) is found
/// through the host: relative, without a leading `/`; `.` for the root itself.
pub fn below_rootfs(path: &str) -> String {
    let cleaned = clean(path);
    match cleaned.trim_start_matches('/') {
        "" => ".".to_owned(),
        relative => relative.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_as_go() {
        for (path, cleaned) in [
            ("", "."),
            ("/", "/"),
            ("a//b/./c/", "a/b/c"),
            ("/a/../../b", "/b"),
            ("a/../..", ".."),
            (
                "collector/fixtures/textfile/two_metric_files/",
                "collector/fixtures/textfile/two_metric_files",
            ),
        ] {
            assert_eq!(clean(path), cleaned, "{path:?}");
        }
    }

    #[test]
    fn join_split_and_rootfs() {
        assert_eq!(join("dir/", "a.prom"), "dir/a.prom");
        assert_eq!(join(".", "a.prom"), "a.prom");
        assert_eq!(join("", "a.prom"), "a.prom");
        assert_eq!(split("/var/lib/*.d"), ("/var/lib/", "*.d"));
        assert_eq!(split("x"), ("", "x"));
        assert_eq!(
            below_rootfs("/var/lib/node-exporter/"),
            "var/lib/node-exporter"
        );
        assert_eq!(below_rootfs("textfile"), "textfile");
        assert_eq!(below_rootfs("/"), ".");
    }
}
