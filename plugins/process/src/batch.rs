//! Reading many `/proc` files in few host calls, and telling an exited process from a failure.

use sonde_sdk::{FsError, Host, Root};

/// Paths per `read_many` call: one host call for a thousand files, while what the host and the
/// plugin buffer for one call stays at a few MiB. Callers that hold what they read process
/// their paths in chunks of this size.
pub const BATCH: usize = 1024;

/// Reads every path below `/proc`, `BATCH` paths per host call, one result per path in order.
/// Invalid UTF-8 (a command line can hold any bytes) is replaced.
pub fn read_texts(host: &Host, paths: &[String]) -> Vec<Result<String, FsError>> {
    let mut texts = Vec::with_capacity(paths.len());
    for chunk in paths.chunks(BATCH) {
        texts.extend(
            host.read_many(Root::Proc, chunk)
                .into_iter()
                .map(|result| result.map(into_text)),
        );
    }
    texts
}

fn into_text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// True when a read failed because the process or thread exited after `/proc` was listed:
/// `ENOENT`, or `ESRCH` ("no such process"), which node_exporter ignores too.
pub fn vanished(error: &FsError) -> bool {
    match error {
        FsError::NotFound => true,
        FsError::Other(message) => message.to_ascii_lowercase().contains("no such process"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exited_processes_are_not_failures() {
        assert!(vanished(&FsError::NotFound));
        assert!(vanished(&FsError::Other(
            "No such process (os error 3)".into()
        )));
        assert!(!vanished(&FsError::PermissionDenied));
        assert!(!vanished(&FsError::Other("Input/output error".into())));
    }
}
