//! What group matchers and name templates see of a process, as process-exporter's
//! `ProcAttributes`.

/// A process as the matchers see it.
#[derive(Debug, Clone, Copy)]
pub struct ProcAttrs<'a> {
    /// Its pid.
    pub pid: u32,
    /// Its command name (`stat`'s comm).
    pub comm: &'a str,
    /// Its arguments joined by spaces, with the length of `argv[0]`; `None` when it has none
    /// (kernel threads) or when no matcher looks at them.
    pub cmdline: Option<(&'a str, usize)>,
}

impl<'a> ProcAttrs<'a> {
    /// The arguments joined by spaces (empty for none), what cmdline regexes are matched on.
    pub fn cmdline(&self) -> &'a str {
        self.cmdline.map_or("", |(joined, _)| joined)
    }

    /// `argv[0]`, if there are arguments.
    pub fn argv0(&self) -> Option<&'a str> {
        self.cmdline.map(|(joined, len)| &joined[..len])
    }

    /// `{{.ExeFull}}`: `argv[0]`, or the comm when there are no arguments.
    pub fn exe_full(&self) -> &'a str {
        self.argv0().unwrap_or(self.comm)
    }

    /// `{{.ExeBase}}`: the base name of `argv[0]`, or the comm when there are no arguments.
    pub fn exe_base(&self) -> &'a str {
        self.argv0().map_or(self.comm, base_name)
    }
}

/// The last element of a path, as Go's `filepath.Base`: trailing slashes are dropped, `""`
/// gives `.` and a path of only slashes gives `/`.
pub fn base_name(path: &str) -> &str {
    if path.is_empty() {
        return ".";
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/";
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_names_follow_go() {
        for (path, base) in [
            ("/usr/bin/python3", "python3"),
            ("python3", "python3"),
            ("/opt/app/", "app"),
            ("", "."),
            ("///", "/"),
            ("-bash", "-bash"),
            ("nginx: worker process", "nginx: worker process"),
        ] {
            assert_eq!(base_name(path), base, "{path:?}");
        }
    }

    #[test]
    fn exe_falls_back_to_comm() {
        let p = ProcAttrs {
            pid: 7,
            comm: "sleep",
            cmdline: Some(("/bin/sleep 600", 10)),
        };
        assert_eq!(
            (p.exe_full(), p.exe_base(), p.cmdline()),
            ("/bin/sleep", "sleep", "/bin/sleep 600")
        );
        let k = ProcAttrs { cmdline: None, ..p };
        assert_eq!(
            (k.exe_full(), k.exe_base(), k.cmdline(), k.argv0()),
            ("sleep", "sleep", "", None)
        );
    }
}
