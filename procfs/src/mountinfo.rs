//! `/proc/<pid>/mountinfo`: the mount table, as node_exporter's procfs reads it.
//!
//! `procfs-core` has a parser, but it turns a mount source of `none` (and an empty one) into
//! `None`, which node_exporter reports as the `device` label verbatim. This module follows
//! procfs' Go parser instead: fields are split on single spaces, and a line needs at least 10 of
//! them with the `-` separator fourth from the end.

use super::Skipped;
use sonde_sdk::Error;

/// One mount, with text fields made valid UTF-8 as node_exporter does (each run of invalid bytes
/// becomes one U+FFFD).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MountInfo {
    /// The mount's unique ID.
    pub mount_id: i64,
    /// The parent mount's ID.
    pub parent_id: i64,
    /// Major number of `st_dev` of the files on this mount.
    pub major: u32,
    /// Minor number of `st_dev`.
    pub minor: u32,
    /// The directory of the filesystem that is the root of this mount.
    pub root: String,
    /// The mount point, with node_exporter's (and fstab(5)'s) decoding of `\040` (space) and
    /// `\011` (tab) only; other octal escapes are left as the kernel wrote them.
    pub mount_point: String,
    /// Per-mount options (`rw`, `nosuid`, `relatime`, …), as written.
    pub options: Vec<String>,
    /// The filesystem type, e.g. `ext4` or `fuse.sshfs`.
    pub fs_type: String,
    /// The mount source (`/dev/sda1`, `tmpfs`, `none`, …), as written.
    pub source: String,
    /// Per-superblock options, as written.
    pub super_options: Vec<String>,
}

impl MountInfo {
    /// True when the mount or its superblock is read-only: `ro` among the mount or super
    /// options, or `emergency_ro` among the super options (node_exporter's rule since 1.9).
    pub fn read_only(&self) -> bool {
        let has = |options: &[String], name: &str| options.iter().any(|o| o == name);
        has(&self.options, "ro")
            || has(&self.super_options, "ro")
            || has(&self.super_options, "emergency_ro")
    }
}

/// Parses a whole mountinfo file; a malformed line fails it, for a reader that needs every
/// mount.
pub fn parse(bytes: &[u8]) -> Result<Vec<MountInfo>, Error> {
    lines(bytes).map(|(_, line)| parse_line(line)).collect()
}

/// Parses a whole mountinfo file, skipping the malformed lines (node_exporter's procfs fails the
/// file on one): the other mounts are kept.
pub fn parse_skipping(bytes: &[u8]) -> (Vec<MountInfo>, Skipped) {
    let mut mounts = Vec::new();
    let mut skipped = Skipped::default();
    for (number, line) in lines(bytes) {
        match parse_line(line) {
            Ok(mount) => mounts.push(mount),
            Err(e) => skipped.line(number, e),
        }
    }
    (mounts, skipped)
}

/// The non-empty lines with their numbers (from 1).
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .map(|(index, line)| (index + 1, line))
}

/// Parses one mountinfo line such as
/// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`.
pub fn parse_line(line: &[u8]) -> Result<MountInfo, Error> {
    let text = crate::text::to_valid_utf8(line);
    let bad = |what: &str| Error::msg(format!("mountinfo: {what}: {text:?}"));
    let fields: Vec<&str> = text.split(' ').collect();
    let n = fields.len();
    if n < 10 {
        return Err(bad("too few fields"));
    }
    if fields[n - 4] != "-" {
        return Err(bad("no separator"));
    }
    let (major, minor) = fields[2]
        .split_once(':')
        .and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)))
        .ok_or_else(|| bad("malformed major:minor"))?;
    let options = |field: &str| field.split(',').map(str::to_owned).collect();
    Ok(MountInfo {
        mount_id: fields[0].parse().map_err(|_| bad("mount ID"))?,
        parent_id: fields[1].parse().map_err(|_| bad("parent ID"))?,
        major,
        minor,
        root: fields[3].to_owned(),
        mount_point: fields[4].replace("\\040", " ").replace("\\011", "\t"),
        options: options(fields[5]),
        fs_type: fields[n - 3].to_owned(),
        source: fields[n - 2].to_owned(),
        super_options: options(fields[n - 1]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_and_optional_tags() {
        let m = parse_line(
            b"36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue",
        )
        .unwrap();
        assert_eq!((m.mount_id, m.parent_id, m.major, m.minor), (36, 35, 98, 0));
        assert_eq!(
            (m.root.as_str(), m.mount_point.as_str()),
            ("/mnt1", "/mnt2")
        );
        assert_eq!(m.options, ["rw", "noatime"]);
        assert_eq!(
            (m.fs_type.as_str(), m.source.as_str()),
            ("ext3", "/dev/root")
        );
        assert_eq!(m.super_options, ["rw", "errors=continue"]);
        assert!(!m.read_only());
        // No optional tags at all: field 6 is the separator.
        let m = parse_line(b"25 1 0:22 / /run rw,nosuid - tmpfs none rw,mode=755").unwrap();
        assert_eq!((m.source.as_str(), m.fs_type.as_str()), ("none", "tmpfs"));
    }

    #[test]
    fn decodes_space_and_tab_only() {
        let m =
            parse_line(b"1 2 0:5 / /mnt/a\\040b\\011c\\134d rw - vfat /dev/x\\040y ro").unwrap();
        assert_eq!(m.mount_point, "/mnt/a b\tc\\134d");
        assert_eq!(m.source, "/dev/x\\040y");
        assert!(m.read_only());
    }

    #[test]
    fn read_only_rules() {
        let line = |opts: &str, sopts: &str| {
            parse_line(format!("1 2 8:1 / /x {opts} - ext4 /dev/sda1 {sopts}").as_bytes()).unwrap()
        };
        assert!(line("ro,relatime", "rw").read_only());
        assert!(line("rw", "rw,emergency_ro").read_only());
        assert!(!line("rw,ro=1", "rw,errors=remount-ro").read_only());
    }

    #[test]
    fn invalid_utf8_runs_become_one_replacement() {
        let m = parse_line(b"1 2 8:1 / /caf\xc3\xa9\xff\xfe rw - ext4 /dev/sda1 rw").unwrap();
        assert_eq!(m.mount_point, "/caf\u{e9}\u{FFFD}");
    }

    #[test]
    fn malformed_lines_fail_the_file() {
        assert!(parse(b"1 2 8:1 / /x rw - ext4\n").is_err());
        assert!(parse(b"1 2 8:1 / /x rw shared:1 ext4 /dev/sda1 rw x\n").is_err());
        assert!(parse(b"1 2 8-1 / /x rw - ext4 /dev/sda1 rw\n").is_err());
        assert!(parse(b"x 2 8:1 / /x rw - ext4 /dev/sda1 rw\n").is_err());
        assert_eq!(parse(b"").unwrap(), []);
    }

    #[test]
    fn skipping_keeps_the_other_mounts() {
        let (mounts, skipped) = parse_skipping(
            b"25 1 0:22 / /run rw - tmpfs tmpfs rw\n\n1 2 8:1 / /x rw - ext4\n\
              26 1 8:1 / / rw - ext4 /dev/sda1 rw\n",
        );
        let points: Vec<&str> = mounts.iter().map(|m| m.mount_point.as_str()).collect();
        assert_eq!(points, ["/run", "/"]);
        assert_eq!(
            skipped
                .result("/proc/1/mountinfo", true)
                .unwrap_err()
                .to_string(),
            "/proc/1/mountinfo: 1 malformed line skipped: line 3: mountinfo: too few fields: \
             \"1 2 8:1 / /x rw - ext4\""
        );
    }
}
