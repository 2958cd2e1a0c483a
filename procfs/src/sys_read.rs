//! sysfs attributes as node_exporter reads most of them: procfs' `SysReadFile`, one `read(2)` of
//! at most 128 bytes (a driver that answers `EAGAIN` must not be polled), whitespace-trimmed.
//! The host reads whole files; these helpers cut the result where `SysReadFile` would have.

/// The most bytes `SysReadFile` reads from an attribute.
pub const READ_LIMIT: usize = 128;

/// The part of a file's contents `SysReadFile` sees.
pub fn first_read(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.len().min(READ_LIMIT)]
}

/// `bytes` without the newlines at either end (Go's `strings.Trim(s, "\n")`).
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

/// `bytes` without ASCII whitespace at either end (Go's `bytes.TrimSpace` on the ASCII
/// whitespace the kernel writes).
pub fn trim_space(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

/// An attribute as `SysReadFile` returns it, as raw bytes: the first read, whitespace-trimmed.
/// The bytes may not be UTF-8 (a label value: [`crate::text::to_valid_utf8`]).
pub fn sys_read_bytes(bytes: &[u8]) -> &[u8] {
    trim_space(first_read(bytes))
}

/// An attribute as `SysReadFile` returns it, as text (invalid UTF-8 replaced): the first read,
/// whitespace-trimmed.
pub fn sys_read(bytes: &[u8]) -> String {
    String::from_utf8_lossy(sys_read_bytes(bytes)).into_owned()
}

/// The `errno` of a host error that carries one (`Other("… (os error 22)")`), for the errors
/// procfs tolerates on some attributes: `EINVAL` (22), `ENODEV` (19), `EOPNOTSUPP` (95) are what
/// drivers answer for an attribute the device does not support.
pub fn os_error(error: &sonde_sdk::FsError) -> Option<i32> {
    let sonde_sdk::FsError::Other(message) = error else {
        return None;
    };
    let code = message.rsplit_once("(os error ")?.1.strip_suffix(')')?;
    code.parse().ok()
}

/// `EINVAL`.
pub const EINVAL: i32 = 22;
/// `ENODEV`.
pub const ENODEV: i32 = 19;
/// `EOPNOTSUPP`.
pub const EOPNOTSUPP: i32 = 95;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_cut_at_128_bytes_and_trimmed() {
        let long = [b'7'; 200];
        assert_eq!(sys_read(&long).len(), READ_LIMIT);
        assert_eq!(sys_read(b" cpu-thermal\n"), "cpu-thermal");
        assert_eq!(sys_read_bytes(b"\tx\xff \n"), b"x\xff");
        assert_eq!(trim_newlines(b"\n Core 0 \n\n"), b" Core 0 ");
        assert_eq!(trim_newlines(b"\n\n"), b"");
    }

    #[test]
    fn errno_of_host_errors() {
        use sonde_sdk::FsError;
        let other = |m: &str| FsError::Other(m.to_owned());
        assert_eq!(
            os_error(&other("Invalid argument (os error 22)")),
            Some(EINVAL)
        );
        assert_eq!(
            os_error(&other("No such device (os error 19)")),
            Some(ENODEV)
        );
        assert_eq!(os_error(&other("weird")), None);
        assert_eq!(os_error(&FsError::NotFound), None);
    }
}
