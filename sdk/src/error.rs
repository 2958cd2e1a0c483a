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
    crate::validate::InvalidOutput,
    std::num::ParseIntError,
    std::num::ParseFloatError,
    std::str::Utf8Error,
    serde_json::Error,
    procfs_core::ProcError,
);

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
