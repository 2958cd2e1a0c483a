//! [`Error`]: what a collector returns when a cycle fails.

use std::fmt;

/// A failed collection, with a message for the operator's log.
///
/// Every error a collector is likely to meet converts into it with `?`: host calls
/// ([`crate::FsError`]), number parsing, config decoding and invalid names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    /// An error with the given message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Error {
            message: message.to_string(),
        }
    }

    /// Prefixes the message with what was being done, e.g. `reading /proc/stat: not found`.
    pub fn context(self, what: impl fmt::Display) -> Self {
        Error {
            message: format!("{what}: {}", self.message),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

macro_rules! from_display {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::msg(e)
            }
        }
    )*};
}

from_display!(
    crate::host::FsError,
    crate::metrics::NameError,
    sonde_wire::validate::InvalidOutput,
    std::num::ParseIntError,
    std::num::ParseFloatError,
    std::str::Utf8Error,
    serde_json::Error,
);

impl From<procfs_core::ProcError> for Error {
    /// `procfs-core` words a parse failure as its own bug, over two lines ("bug at …, please
    /// report this procfs bug"); the message is kept without that.
    fn from(e: procfs_core::ProcError) -> Self {
        match e {
            procfs_core::ProcError::InternalError(e) => Error::msg(
                e.msg
                    .trim_start_matches("Internal Unwrap Error: ")
                    .replace('\n', " "),
            ),
            e => Error::msg(e),
        }
    }
}

/// Adds context to a `Result`'s error: `host.read(..).context("reading stat")?`.
pub trait ResultExt<T> {
    /// Prefixes the error message with `what`.
    fn context(self, what: impl fmt::Display) -> Result<T, Error>;
}

impl<T, E: Into<Error>> ResultExt<T> for Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T, Error> {
        self.map_err(|e| e.into().context(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procfs_core_errors_are_one_line_without_blaming_it() {
        let internal = procfs_core::ProcError::InternalError(procfs_core::InternalError {
            msg: "Internal Unwrap Error: Failed to parse x (\"y\") as a u64: invalid digit\nz"
                .to_owned(),
            file: "src/cpuinfo.rs",
            line: 1,
        });
        assert_eq!(
            Error::from(internal).to_string(),
            "Failed to parse x (\"y\") as a u64: invalid digit z"
        );
        let other = procfs_core::ProcError::Other("odd".to_owned());
        assert_eq!(Error::from(other).to_string(), "Unknown error odd");
    }
}
