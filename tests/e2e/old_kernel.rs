//! Old kernels: CentOS 7 (3.10) and RHEL 8 (4.18) have no `openat2(2)` (5.6), and 3.10 lacks
//! every system call added since (`statx`, `getrandom`, `memfd_create`, `membarrier`, `clone3`,
//! `close_range`, `pidfd_*`, `rseq`, …). The sandbox's escape suite and node_exporter's fixtures
//! run again in a child test process where those calls fail with ENOSYS (a seccomp filter,
//! inherited by the `sonde` it starts), so cap-std resolves every path itself, component by
//! component, and the rest of the agent takes its fallbacks.

/// Set in the child processes this module starts.
const AS_OLD_KERNEL: &str = "SONDE_TEST_AS_OLD_KERNEL";

/// Whether this process is a child this module started.
pub fn acting_as_old_kernel() -> bool {
    std::env::var_os(AS_OLD_KERNEL).is_some()
}

/// Called first by the tests this module re-runs: in the child, checks that the kernel acts
/// old and says so (the run below asserts that it did).
pub fn act_as_old_kernel_if_asked() {
    if acting_as_old_kernel() {
        let how = [0u64; 3];
        // SAFETY: openat2 with a valid path and a zeroed `struct open_how` of its size.
        let opened = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                libc::AT_FDCWD,
                c"/".as_ptr(),
                how.as_ptr(),
                24,
            )
        };
        assert_eq!(opened, -1);
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::ENOSYS)
        );
        println!("running as an old kernel: {REFUSED}");
    }
}

/// What the filter refuses.
#[cfg(target_arch = "x86_64")]
const REFUSED: &str = "every system call newer than Linux 3.10 fails with ENOSYS";
#[cfg(not(target_arch = "x86_64"))]
const REFUSED: &str = "openat2 fails with ENOSYS";

/// A seccomp program making the system calls a 3.10 kernel lacks fail with ENOSYS (x86_64:
/// numbers from 314, `sched_setattr` of 3.14, on; elsewhere `openat2` only).
fn old_kernel_filter() -> Vec<libc::sock_filter> {
    use libc::{
        BPF_ABS, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W, SECCOMP_RET_ALLOW,
        SECCOMP_RET_ERRNO, sock_filter,
    };
    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xc000_003e;
    #[cfg(target_arch = "x86_64")]
    const REFUSE_FROM: (u32, u32) = (BPF_JGE, 314);
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xc000_00b7;
    #[cfg(target_arch = "aarch64")]
    const REFUSE_FROM: (u32, u32) = (BPF_JEQ, libc::SYS_openat2 as u32);
    let statement = |code: u32, k: u32| sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |op: u32, k: u32, jt: u8, jf: u8| sock_filter {
        code: (BPF_JMP | op | BPF_K) as u16,
        jt,
        jf,
        k,
    };
    // struct seccomp_data: nr at offset 0, arch at 4.
    vec![
        statement(BPF_LD | BPF_W | BPF_ABS, 4),
        jump(BPF_JEQ, AUDIT_ARCH, 1, 0),
        statement(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        statement(BPF_LD | BPF_W | BPF_ABS, 0),
        jump(REFUSE_FROM.0, REFUSE_FROM.1, 0, 1),
        statement(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        statement(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    ]
}

/// Runs the test `name` in a child acting as an old kernel from its first instruction (glibc
/// then registers no `rseq`, as on such a kernel); asserts it passed.
fn run_as_old_kernel(name: &str) {
    use std::os::unix::process::CommandExt;
    let filter = old_kernel_filter();
    // The closure must be Send: it carries the program's address, not its pointer.
    let (filter_at, filter_len) = (filter.as_ptr() as usize, filter.len() as u16);
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", name, "--nocapture"])
        .env(AS_OLD_KERNEL, "1");
    // SAFETY: between fork and exec only prctl and seccomp run (async-signal-safe), on a
    // program that outlives the spawn.
    unsafe {
        child.pre_exec(move || {
            let program = libc::sock_fprog {
                len: filter_len,
                filter: filter_at as *mut libc::sock_filter,
            };
            let program = &program;
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, program) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
    let output = child.output().unwrap();
    drop(filter);
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{name} as an old kernel: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("running as an old kernel"), "{stdout}");
}

#[test]
fn every_escape_attempt_fails_on_an_old_kernel() {
    crate::support::test_plugin_path("escape");
    run_as_old_kernel("security::every_escape_attempt_fails_and_is_counted");
}

#[test]
fn node_exporters_fixtures_match_on_an_old_kernel() {
    run_as_old_kernel(
        "node_exporter_fixtures::every_series_of_node_exporters_e2e_output_matches_with_its_help_and_type",
    );
}

#[test]
fn the_agent_serves_sends_and_flushes_on_an_old_kernel() {
    run_as_old_kernel("agent::sigterm_flushes_queued_samples_and_exits_0");
}
