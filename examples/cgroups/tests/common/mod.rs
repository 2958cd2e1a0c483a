//! Helpers of the tests: trees built in temporary directories, and a check of the exposition
//! format.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A sysfs tree in a fresh temporary directory, removed on drop. Paths given to it are relative
/// to `fs/cgroup`.
pub struct Tree(PathBuf);

impl Tree {
    pub fn new(test: &str) -> Tree {
        let dir = std::env::temp_dir().join(format!("sonde-cgroups-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("fs/cgroup")).unwrap();
        Tree(dir)
    }

    /// A cgroup v2 tree: the root has `cgroup.controllers`.
    pub fn v2(test: &str) -> Tree {
        let tree = Tree::new(test);
        tree.file(
            "cgroup.controllers",
            "cpuset cpu io memory hugetlb pids rdma misc\n",
        );
        tree
    }

    /// Writes `contents` to `path` below `fs/cgroup` (bytes: names may be invalid UTF-8),
    /// creating directories.
    pub fn file(&self, path: impl AsRef<[u8]>, contents: impl AsRef<[u8]>) -> &Tree {
        let path = self
            .0
            .join("fs/cgroup")
            .join(OsStr::from_bytes(path.as_ref()));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
        self
    }

    /// Creates the directory `path` below `fs/cgroup`.
    pub fn dir(&self, path: impl AsRef<[u8]>) -> &Tree {
        let path = self
            .0
            .join("fs/cgroup")
            .join(OsStr::from_bytes(path.as_ref()));
        std::fs::create_dir_all(path).unwrap();
        self
    }

    /// The sysfs root to serve.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Checks `text` against the Prometheus text format as the plugin's output must satisfy it:
/// every family has one HELP and one TYPE line before its samples, every sample line is
/// `name{label="value",…} value` with valid names, escaped values (`\\`, `\"`, `\n` only) and a
/// number, and no series appears twice. Returns the number of samples.
pub fn check_exposition(text: &str) -> usize {
    let mut family = String::new();
    let mut seen_families = std::collections::HashSet::new();
    let mut series = std::collections::HashSet::new();
    let mut help = false;
    let mut samples = 0;
    assert!(text.is_empty() || text.ends_with('\n'), "no final newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest.split_once(' ').expect("HELP without text");
            assert!(valid_name(name, true), "{line}");
            assert!(
                seen_families.insert(name.to_owned()),
                "family twice: {name}"
            );
            family = name.to_owned();
            help = true;
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE without type");
            assert!(help && name == family, "TYPE without HELP: {line}");
            assert!(["counter", "gauge", "untyped"].contains(&kind), "{line}");
            help = false;
        } else {
            let name_end = line.find(['{', ' ']).expect(line);
            let name = &line[..name_end];
            assert_eq!(name, family, "sample outside its family: {line}");
            let mut rest = &line[name_end..];
            let mut labels = Vec::new();
            if let Some(after) = rest.strip_prefix('{') {
                rest = after;
                loop {
                    let (label, after) = rest.split_once("=\"").expect(line);
                    assert!(valid_name(label, false), "label name {label:?} in {line}");
                    let mut value = String::new();
                    let mut chars = after.char_indices();
                    let end = loop {
                        let (i, c) = chars.next().expect("unterminated label value");
                        match c {
                            '"' => break i,
                            '\\' => match chars.next().expect("dangling backslash").1 {
                                '\\' => value.push('\\'),
                                '"' => value.push('"'),
                                'n' => value.push('\n'),
                                other => panic!("escape \\{other} in {line}"),
                            },
                            c => value.push(c),
                        }
                    };
                    labels.push((label.to_owned(), value));
                    rest = &after[end + 1..];
                    if let Some(after) = rest.strip_prefix(',') {
                        rest = after;
                    } else {
                        rest = rest.strip_prefix('}').expect(line);
                        break;
                    }
                }
            }
            let value = rest.strip_prefix(' ').expect(line);
            assert!(
                value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
                "value {value:?} in {line}"
            );
            assert!(
                series.insert((name.to_owned(), labels)),
                "series twice: {line}"
            );
            samples += 1;
        }
    }
    samples
}

fn valid_name(name: &str, metric: bool) -> bool {
    let mut chars = name.chars();
    let first = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (metric && c == ':'));
    first && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (metric && c == ':'))
}
