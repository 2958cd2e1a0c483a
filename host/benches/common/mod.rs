//! What the benchmarks share: the native floor's replay of recorded accesses, process
//! measurements and HTTP scrapes.

use sonde::sandbox::{Access, RootPaths};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;

/// What a minimal native collector has to do: the same syscalls as a recorded cycle, no parsing.
pub fn replay(paths: &RootPaths, accesses: &[Access]) {
    for access in accesses {
        match access {
            Access::Read(root, path) => {
                let _ = std::fs::read(paths.path(*root).join(path));
            }
            Access::ReadDir(root, path) => {
                if let Ok(dir) = std::fs::read_dir(paths.path(*root).join(path)) {
                    for entry in dir.flatten() {
                        let _ = entry.file_type();
                    }
                }
            }
            Access::ReadLink(root, path) => {
                let _ = std::fs::read_link(paths.path(*root).join(path));
            }
            Access::Modified(root, path) => {
                let _ = std::fs::metadata(paths.path(*root).join(path)).and_then(|m| m.modified());
            }
            Access::Statfs(mount) => {
                let _ = rustix::fs::statfs(paths.rootfs.join(mount.trim_start_matches('/')));
            }
        }
    }
}

/// A child process killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.0 `GET /metrics` (with `Accept-Encoding: gzip` as Prometheus sends it when
/// `gzip`); the body of a 200 (gzip bodies are returned undecoded).
pub fn get(port: u16, gzip: bool) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    let encoding = if gzip {
        "Accept-Encoding: gzip\r\n"
    } else {
        ""
    };
    write!(
        stream,
        "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n{encoding}\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((head, body)) if head.contains(" 200 ") => Ok(body.to_owned()),
        _ => Err(std::io::Error::other("not a 200")),
    }
}

/// CPU time of another process in ms: its CPU clock (`clock_getcpuclockid`), nanoseconds, every
/// thread, exited ones included (`/proc/<pid>/stat` counts in 10 ms ticks).
pub fn cpu_ms(pid: u32) -> f64 {
    let mut clock: libc::clockid_t = 0;
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: both write one value of the given type.
    unsafe {
        if libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock) != 0
            || libc::clock_gettime(clock, &mut t) != 0
        {
            return f64::NAN;
        }
    }
    t.tv_sec as f64 * 1000.0 + t.tv_nsec as f64 / 1e6
}

/// CPU time of this process in ms (nanosecond resolution). Through libc rather than rustix's
/// own vDSO parsing, which valgrind's (for `scripts/instructions`) does not survive.
pub fn process_cpu_ms() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 * 1000.0 + t.tv_nsec as f64 / 1e6
}
