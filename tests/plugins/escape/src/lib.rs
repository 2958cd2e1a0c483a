//! A hostile plugin for sonde's security tests: it tries every way out of its sandbox it can
//! think of — through each host call and through WASI — and reports one sample per attempt,
//! `sonde_escape_attempt{attempt, call, outcome}`. `outcome` is `read` when the attempt got
//! data (an escape, unless the attempt is listed as allowed by design), else the error.
//!
//! The attempts assume the test's layout: procfs and sysfs are the real `/proc` and `/sys`, the
//! rootfs root is a fixture directory (see `tests/e2e/security.rs`), and the plugin is granted
//! `proc`, `sys:class/net`, `rootfs:granted` and `statfs`.

use serde::{Deserialize, Serialize};
use sonde_sdk::{Capability, Collector, Description, Error, FsError, Host, MetricFamily, Root};

/// The escape artist.
pub struct Escape {
    config: Config,
}

/// Where the test listens, so that a socket attempt meets a real peer: a refusal then comes
/// from the sandbox, never from a port nobody listens on.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// A TCP listener on 127.0.0.1.
    pub tcp_port: u16,
    /// A bound UDP socket on 127.0.0.1.
    pub udp_port: u16,
}

/// One attempt: a name, the host call it goes through, and what it tries.
struct Attempt {
    name: &'static str,
    call: &'static str,
    run: Box<dyn Fn(&Host) -> Outcome>,
}

/// What an attempt got.
enum Outcome {
    /// Data came back.
    Read,
    /// The call failed with this error.
    Refused(String),
}

/// An attempt through a host call: `run` returns the call's result.
fn attempt<T: 'static>(
    name: &'static str,
    call: &'static str,
    run: impl Fn(&Host) -> Result<T, FsError> + 'static,
) -> Attempt {
    Attempt {
        name,
        call,
        run: Box::new(move |host| match run(host) {
            Ok(_) => Outcome::Read,
            Err(e) => Outcome::Refused(format!("{e:?}")),
        }),
    }
}

fn read(name: &'static str, root: Root, path: &'static str) -> Attempt {
    attempt(name, "read-file", move |host| host.read(root, path))
}

/// A `read-files` batch of a harmless file and `path`; the outcome is `path`'s.
fn read_batch(name: &'static str, root: Root, path: &'static str) -> Attempt {
    attempt(name, "read-files", move |host| {
        host.read_many(root, &["stat", path])
            .pop()
            .unwrap_or(Err(FsError::NotFound))
    })
}

/// A `read-files` batch of a readable `neighbour` and `path` in the same directory, which the
/// host opens once to read both relative to it; the outcome is `path`'s.
fn read_batch_in(
    name: &'static str,
    root: Root,
    neighbour: &'static str,
    path: &'static str,
) -> Attempt {
    attempt(name, "read-files", move |host| {
        host.read_many(root, &[neighbour, path])
            .pop()
            .unwrap_or(Err(FsError::NotFound))
    })
}

fn read_dir(name: &'static str, root: Root, path: &'static str) -> Attempt {
    attempt(name, "read-dir", move |host| host.read_dir(root, path))
}

fn read_link(name: &'static str, root: Root, path: &'static str) -> Attempt {
    attempt(name, "read-link", move |host| host.read_link(root, path))
}

fn modified(name: &'static str, root: Root, path: &'static str) -> Attempt {
    attempt(name, "modified", move |host| host.modified(root, path))
}

fn statfs(name: &'static str, mount_point: &'static str) -> Attempt {
    attempt(name, "statfs", move |host| host.statfs(mount_point))
}

fn wasi(name: &'static str, run: impl Fn() -> Result<(), String> + 'static) -> Attempt {
    Attempt {
        name,
        call: "wasi",
        run: Box::new(move |_| match run() {
            Ok(()) => Outcome::Read,
            Err(e) => Outcome::Refused(e),
        }),
    }
}

/// An I/O error as its kind (`PermissionDenied`, `Unsupported`…): stable across libc versions.
fn kind(e: std::io::Error) -> String {
    format!("{:?}", e.kind())
}

/// Every attempt, in the order they are reported.
fn attempts(config: &Config) -> Vec<Attempt> {
    let (tcp, udp) = (
        format!("127.0.0.1:{}", config.tcp_port),
        format!("127.0.0.1:{}", config.udp_port),
    );
    use Root::{Proc, Rootfs, Sys};
    vec![
        // `..` in every call and root.
        read("dotdot", Proc, "../etc/shadow"),
        read("dotdot_after_name", Proc, "self/../../etc/shadow"),
        read("dotdot_only", Proc, ".."),
        read("dotdot_sys", Sys, "class/net/../../../etc/shadow"),
        read("dotdot_rootfs", Rootfs, "granted/../../etc/shadow"),
        read_batch("dotdot_batch", Proc, "../etc/shadow"),
        read_dir("dotdot_dir", Proc, ".."),
        read_link("dotdot_link", Proc, "../proc/self"),
        modified("dotdot_modified", Proc, "../etc/shadow"),
        statfs("dotdot_statfs", "/../.."),
        // Absolute paths.
        read("absolute", Proc, "/etc/shadow"),
        read("absolute_rootfs", Rootfs, "/etc/shadow"),
        read_batch("absolute_batch", Proc, "/etc/shadow"),
        read_dir("absolute_dir", Proc, "/"),
        read_link("absolute_link", Proc, "/proc/self/exe"),
        modified("absolute_modified", Proc, "/etc/shadow"),
        // The kernel's magic links and symlinks out of the root.
        read("self_root", Proc, "self/root/etc/shadow"),
        read("thread_self_root", Proc, "thread-self/root/etc/shadow"),
        read("pid1_root", Proc, "1/root/etc/shadow"),
        read("pid1_cwd", Proc, "1/cwd/etc/passwd"),
        read("self_cwd", Proc, "self/cwd/Cargo.toml"),
        read("self_exe", Proc, "self/exe"),
        read("self_fd", Proc, "self/fd/0"),
        read("self_fd_3", Proc, "self/fd/3"),
        read_dir("self_root_dir", Proc, "self/root"),
        read_dir("pid1_root_dir", Proc, "1/root/etc"),
        read("absolute_symlink", Rootfs, "granted/to-shadow"),
        read("relative_symlink_out", Rootfs, "granted/up/etc/shadow"),
        read_dir("symlink_dir_out", Rootfs, "granted/to-root"),
        modified("absolute_symlink_modified", Rootfs, "granted/to-shadow"),
        modified("self_root_modified", Proc, "self/root/etc/shadow"),
        read("dev_stdin_symlink", Rootfs, "granted/stdin"),
        // The same links read in a batch with a file of their directory.
        read_batch_in(
            "absolute_symlink_batch",
            Rootfs,
            "granted/ok",
            "granted/to-shadow",
        ),
        read_batch_in(
            "dev_zero_symlink_batch",
            Rootfs,
            "granted/ok",
            "granted/zero",
        ),
        read_batch_in("symlink_loop_batch", Rootfs, "granted/ok", "granted/loop"),
        read_batch_in("fifo_batch", Rootfs, "granted/ok", "granted/fifo"),
        read_batch_in("self_exe_batch", Proc, "self/stat", "self/exe"),
        // Roots and prefixes not granted.
        read("ungranted_sys", Sys, "kernel/uevent_seqnum"),
        read("ungranted_sys_dir", Sys, "kernel"),
        modified("ungranted_modified", Rootfs, "secret"),
        read("beyond_rootfs_prefix", Rootfs, "secret"),
        read_dir("beyond_rootfs_prefix_dir", Rootfs, ""),
        read("prefix_lookalike", Rootfs, "granted-not/secret"),
        // Files that never end or are huge, and files that block.
        read("proc_kcore", Proc, "kcore"),
        read("proc_pagemap", Proc, "self/pagemap"),
        // Secrets of other processes and memory: never readable, whatever is granted.
        read("pid1_environ", Proc, "1/environ"),
        read("self_environ", Proc, "self/environ"),
        read("self_mem", Proc, "self/mem"),
        read("thread_environ", Proc, "self/task/1/environ"),
        read("huge_file", Rootfs, "granted/huge"),
        read("fifo", Rootfs, "granted/fifo"),
        read("dev_zero_symlink", Rootfs, "granted/zero"),
        read("symlink_loop", Rootfs, "granted/loop"),
        // statfs outside the mount table, or through a symlink out of the rootfs.
        statfs("statfs_not_a_mount", "/granted"),
        statfs("statfs_etc", "/etc"),
        statfs("statfs_mount_symlinked_out", "/proc"),
        // WASI: no files, environment, arguments, sockets or processes.
        wasi("wasi_read_file", || {
            std::fs::read("/etc/passwd")
                .map(drop)
                .map_err(|e| e.to_string())
        }),
        wasi("wasi_read_dir", || {
            std::fs::read_dir("/").map(drop).map_err(|e| e.to_string())
        }),
        wasi("wasi_write_file", || {
            std::fs::write("/tmp/sonde-escape", b"x").map_err(|e| e.to_string())
        }),
        wasi("wasi_read_cwd", || {
            std::fs::read_dir(".").map(drop).map_err(|e| e.to_string())
        }),
        wasi("wasi_env", || match std::env::vars().count() {
            0 => Err("empty".into()),
            _ => Ok(()),
        }),
        wasi("wasi_args", || match std::env::args().count() {
            0 => Err("empty".into()),
            _ => Ok(()),
        }),
        wasi("wasi_tcp_connect", move || {
            std::net::TcpStream::connect(&tcp).map(drop).map_err(kind)
        }),
        wasi("wasi_tcp_listen", || {
            std::net::TcpListener::bind("0.0.0.0:0")
                .map(drop)
                .map_err(kind)
        }),
        wasi("wasi_udp_send", move || {
            let socket = std::net::UdpSocket::bind("0.0.0.0:0").map_err(kind)?;
            socket.send_to(b"x", &udp).map(drop).map_err(kind)
        }),
        wasi("wasi_dns", || {
            use std::net::ToSocketAddrs;
            ("localhost", 80)
                .to_socket_addrs()
                .map(drop)
                .map_err(|e| e.to_string())
        }),
        wasi("wasi_spawn", || {
            std::process::Command::new("/bin/sh")
                .spawn()
                .map(drop)
                .map_err(|e| e.to_string())
        }),
        // Allowed by design: clocks (the time collector needs them).
        wasi("wasi_clock", || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(drop)
                .map_err(|e| e.to_string())
        }),
    ]
}

impl Collector for Escape {
    type Config = Config;

    fn describe() -> Description {
        Description::new("escape", "0.0.0", "tries to leave its sandbox, for tests").needs(&[
            Capability::Proc,
            Capability::Sys,
            Capability::Rootfs,
            Capability::Statfs,
        ])
    }

    fn new(config: Config) -> Result<Self, Error> {
        Ok(Escape { config })
    }

    fn collect(&mut self, host: &Host) -> Result<Vec<MetricFamily>, Error> {
        let config = &self.config;
        let mut family = MetricFamily::gauge(
            "sonde_escape_attempt",
            "One sample per escape attempt; outcome is `read` when it got data.",
        );
        for attempt in attempts(config) {
            let outcome = match (attempt.run)(host) {
                Outcome::Read => "read".to_owned(),
                Outcome::Refused(e) => e,
            };
            family.sample(
                &[
                    ("attempt", attempt.name),
                    ("call", attempt.call),
                    ("outcome", &outcome),
                ],
                1.0,
            );
        }
        Ok(vec![family])
    }
}

sonde_sdk::export!(Escape);
