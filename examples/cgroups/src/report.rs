//! What went wrong in one collection, told once at its end instead of once per file.

use sonde_sdk::{FsError, Host, Level};

/// Counts of the lines and files a collection skipped, with the first of each.
#[derive(Debug, Default)]
pub struct Report {
    malformed: usize,
    first_malformed: Option<String>,
    unreadable: usize,
    first_unreadable: Option<String>,
}

/// How a cgroup's file is named in messages: `/sys/fs/cgroup/system.slice/x.service/cpu.stat`,
/// quoted, so a cgroup name with a newline or a quote stays on one line of the log.
pub fn display(cgroup: &str, file: &str) -> String {
    let path = match cgroup {
        "/" => format!("/sys/fs/cgroup/{file}"),
        _ => format!("/sys/fs/cgroup{cgroup}/{file}"),
    };
    format!("{path:?}")
}

impl Report {
    /// A line of `file` of `cgroup` that does not have the file's format.
    pub fn malformed(&mut self, cgroup: &str, file: &str, line: &str) {
        self.malformed += 1;
        self.first_malformed
            .get_or_insert_with(|| format!("{}: {line:?}", display(cgroup, file)));
    }

    /// A file or directory of `cgroup` that could not be read for another reason than its
    /// absence.
    pub fn unreadable(&mut self, cgroup: &str, file: &str, error: &FsError) {
        self.unreadable += 1;
        self.first_unreadable
            .get_or_insert_with(|| format!("{}: {error}", display(cgroup, file)));
    }

    /// True when some file could not be read.
    pub fn any_unreadable(&self) -> bool {
        self.unreadable > 0
    }

    /// A summary of the problems, `None` when there were none.
    pub fn summary(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(first) = &self.first_unreadable {
            parts.push(format!(
                "{} files unreadable (first: {first})",
                self.unreadable
            ));
        }
        if let Some(first) = &self.first_malformed {
            parts.push(format!(
                "{} malformed lines skipped (first: {first})",
                self.malformed
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// Logs the summary as a warning, if there is one.
    pub fn log(&self, host: &Host) {
        if let Some(summary) = self.summary() {
            host.log(Level::Warn, &summary);
        }
    }
}
