//! The sandbox escape suite: `tests/plugins/escape` tries every way out of its roots it knows,
//! through each host call and through WASI, against the real `/proc` and `/sys` and a rootfs
//! fixture full of traps. Not one attempt may get data (except the clock, allowed by design),
//! none may hang, and the host counts each refusal. docs/security.md lists the attempts.

use crate::support::test_plugin_path;
use sonde::sandbox::grants::Grants;
use sonde::sandbox::{DEFAULT_READ_CAP, RootPaths, Sandbox};
use sonde::wasm::plugin::{Limits, Plugin};
use sonde::wasm::runtime::Runtime;
use sonde_sdk::{Capability, Root};
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The rootfs fixture: `granted/` (the only prefix the plugin gets) holds symlinks out of the
/// root, a FIFO, a file larger than the read cap, a symlink loop and one harmless file (`ok`); `secret` and
/// `granted-not/secret` lie outside the grant; `proc` is a mount point of the real mount table
/// that here is a symlink to `/`.
fn rootfs_fixture(root: &Path) {
    let granted = root.join("granted");
    std::fs::create_dir_all(&granted).unwrap();
    std::fs::create_dir_all(root.join("granted-not")).unwrap();
    std::fs::write(root.join("secret"), "outside the grant").unwrap();
    std::fs::write(granted.join("ok"), "inside the grant").unwrap();
    std::fs::write(root.join("granted-not/secret"), "outside the grant").unwrap();
    symlink("/etc/shadow", granted.join("to-shadow")).unwrap();
    symlink("../../../../../../../..", granted.join("up")).unwrap();
    symlink("/", granted.join("to-root")).unwrap();
    symlink("/proc/self/fd/0", granted.join("stdin")).unwrap();
    symlink("/dev/zero", granted.join("zero")).unwrap();
    symlink("loop", granted.join("loop")).unwrap();
    symlink("/", root.join("proc")).unwrap();
    // A symlink that stays inside the grant: it must keep working.
    std::fs::create_dir_all(granted.join("real/dir")).unwrap();
    std::fs::write(granted.join("real/dir/file"), "inside").unwrap();
    symlink("real/dir", granted.join("linked-dir")).unwrap();
    symlink("real/dir/file", granted.join("linked-file")).unwrap();
    let huge = std::fs::File::create(granted.join("huge")).unwrap();
    huge.set_len(64 << 20).unwrap(); // sparse: 64 MiB, far past the 8 MiB cap
    rustix::fs::mknodat(
        rustix::fs::CWD,
        granted.join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
}

/// The outcomes an attempt may have; anything else (above all `read`) fails the test.
fn allowed_outcomes(attempt: &str) -> &'static [&'static str] {
    const ESCAPES: &[&str] = &["EscapesRoot"];
    const NOT_GRANTED: &[&str] = &["NotGranted"];
    match attempt {
        // The kernel may refuse ptrace access to pid 1 (EACCES) before the magic-link check.
        "pid1_root" | "pid1_cwd" | "pid1_root_dir" => &["EscapesRoot", "PermissionDenied"],
        // Refused by the grant (the path is not below `granted`) or by the `..` check.
        "absolute_rootfs" | "dotdot_statfs" => &["EscapesRoot", "NotGranted"],
        "self_fd_3" => &["EscapesRoot", "NotFound"],
        a if a.starts_with("ungranted")
            || a.starts_with("beyond")
            || a == "prefix_lookalike"
            || a == "statfs_not_a_mount"
            || a == "statfs_etc" =>
        {
            NOT_GRANTED
        }
        // Kernel memory, page maps, environments and process memory: refused by name.
        "proc_kcore" | "proc_pagemap" | "pid1_environ" | "self_environ" | "self_mem"
        | "thread_environ" => NOT_GRANTED,
        "huge_file" => &["TooLarge"],
        "fifo" | "fifo_batch" => &["Other(\"not a regular file\")"],
        "symlink_loop" => &["EscapesRoot"],
        "wasi_clock" => &["read"],
        // Sockets meet a real listener (see the test): only the sandbox can refuse them.
        "wasi_tcp_connect" | "wasi_tcp_listen" | "wasi_udp_send" => &["PermissionDenied"],
        // `localhost` needs no network to resolve: wasmtime answers a lookup it does not allow
        // with `permanent-resolver-failure`, which wasi-libc reports as EAI_FAIL.
        "wasi_dns" => &["failed to lookup address information: Non-recoverable error"],
        a if a.starts_with("wasi_") => &[],
        _ => ESCAPES,
    }
}

#[test]
fn every_escape_attempt_fails_and_is_counted() {
    crate::old_kernel::act_as_old_kernel_if_asked();
    let rootfs = tempfile::tempdir().unwrap();
    rootfs_fixture(rootfs.path());
    let paths = RootPaths {
        procfs: "/proc".into(),
        sysfs: "/sys".into(),
        rootfs: rootfs.path().to_path_buf(),
        ..RootPaths::default()
    };
    let runtime = Arc::new(Runtime::new(Sandbox::open(paths, DEFAULT_READ_CAP)).unwrap());
    let grants = Grants::new([Capability::Proc, Capability::Statfs])
        .limit_root(Root::Sys, vec!["class/net".into()])
        .limit_root(Root::Rootfs, vec!["granted".into()]);
    let wasm = std::fs::read(test_plugin_path("escape")).unwrap();
    let plugin = Plugin::load(&runtime, "escape", &wasm, grants, Limits::default()).unwrap();

    // Real peers for the socket attempts: a refusal is the sandbox's, not an empty port's.
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    tcp.set_nonblocking(true).unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_nonblocking(true).unwrap();
    let config = format!(
        r#"{{"tcp_port":{},"udp_port":{}}}"#,
        tcp.local_addr().unwrap().port(),
        udp.local_addr().unwrap().port()
    );

    let started = Instant::now();
    let families = plugin.collect(&config).unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "the attempts took {took:?}");

    let mut escapes = Vec::new();
    let mut refusals = 0;
    let mut table = String::from("| attempt | call | outcome |\n|---|---|---|\n");
    for sample in &families[0].samples {
        let attempt = sample.label("attempt").unwrap();
        let call = sample.label("call").unwrap();
        let outcome = sample.label("outcome").unwrap();
        table.push_str(&format!("| {attempt} | {call} | {outcome} |\n"));
        let allowed = allowed_outcomes(attempt);
        let ok = if attempt.starts_with("wasi_") && allowed.is_empty() {
            outcome != "read"
        } else {
            allowed.contains(&outcome)
        };
        if !ok {
            escapes.push(format!("{attempt} ({call}): {outcome}"));
        }
        if call != "wasi" && (outcome == "EscapesRoot" || outcome == "NotGranted") {
            refusals += 1;
        }
    }
    println!("{table}");
    assert_eq!(families[0].samples.len(), 68, "{table}");
    assert!(escapes.is_empty(), "unexpected outcomes: {escapes:#?}");
    // Every refusal by the sandbox or the grants was counted (and logged) by the host.
    assert_eq!(
        plugin.counters().refused_host_calls,
        refusals,
        "refused calls counted"
    );
    // Nothing reached the listeners.
    let nothing = std::io::ErrorKind::WouldBlock;
    assert_eq!(
        tcp.accept().map(drop).unwrap_err().kind(),
        nothing,
        "a TCP connection got through"
    );
    let mut buffer = [0; 16];
    assert_eq!(
        udp.recv(&mut buffer).map(drop).unwrap_err().kind(),
        nothing,
        "a datagram got through"
    );
    // The instance survived all of it.
    assert_eq!(plugin.collect(&config).unwrap()[0].samples.len(), 68);

    // And symlinks that stay inside their root are followed, as /sys needs (class/net/lo).
    let sandbox = Sandbox::open(
        RootPaths {
            procfs: "/proc".into(),
            sysfs: "/sys".into(),
            rootfs: rootfs.path().to_path_buf(),
            ..RootPaths::default()
        },
        DEFAULT_READ_CAP,
    );
    let names = |entries: Vec<sonde_sdk::DirEntry>| -> Vec<String> {
        entries.into_iter().map(|e| e.name).collect()
    };
    assert_eq!(
        names(
            sandbox
                .read_dir(Root::Rootfs, "granted/linked-dir")
                .unwrap()
        ),
        ["file"]
    );
    assert_eq!(
        sandbox
            .read_file(Root::Rootfs, "granted/linked-file")
            .unwrap(),
        b"inside"
    );
    assert!(
        names(sandbox.read_dir(Root::Sys, "class/net/lo").unwrap()).contains(&"operstate".into())
    );
    assert_eq!(
        sandbox
            .read_file(Root::Sys, "class/net/lo/operstate")
            .unwrap(),
        b"unknown\n"
    );
}
