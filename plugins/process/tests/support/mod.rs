//! Builds synthetic `/proc` trees in a temporary directory.

use sonde_sdk::testing;
use std::path::PathBuf;

/// A `/proc` tree (a [`testing::Tree`]: in `/dev/shm` when there is one, where tens of thousands
/// of files are written and removed much faster), removed when dropped.
pub struct Tree {
    pub root: PathBuf,
    tree: testing::Tree,
}

/// One synthetic process; `Tree::add` writes its files.
#[derive(Clone)]
pub struct Spec<'a> {
    pub pid: u32,
    pub ppid: u32,
    pub comm: &'a str,
    pub state: &'a str,
    /// `argv`, written NUL-terminated (empty for a kernel thread).
    pub argv: &'a [&'a str],
    /// Threads besides the main one: `(tid, state, voluntary, nonvoluntary)`.
    pub threads: &'a [(u32, &'a str, u64, u64)],
    pub utime: u64,
    pub stime: u64,
    pub starttime: u64,
    pub vsize: u64,
    pub rss_kib: u64,
    pub swap_kib: u64,
    pub ctxt: (u64, u64),
    pub io: (u64, u64),
    /// Soft `Max open files` (`None`: `unlimited`).
    pub fd_limit: Option<u64>,
    /// Entries of `fd/` (`None`: no `fd/` directory).
    pub fds: Option<u32>,
}

impl Default for Spec<'_> {
    fn default() -> Self {
        Spec {
            pid: 1,
            ppid: 0,
            comm: "init",
            state: "S",
            argv: &[],
            threads: &[],
            utime: 0,
            stime: 0,
            starttime: 0,
            vsize: 0,
            rss_kib: 0,
            swap_kib: 0,
            ctxt: (0, 0),
            io: (0, 0),
            fd_limit: Some(1024),
            fds: None,
        }
    }
}

impl Tree {
    /// An empty tree with `/proc/stat` (btime 1700000000) and the kernel's limits.
    pub fn new(name: &str) -> Tree {
        let tree = testing::Tree::new(&format!("process-{name}"));
        tree.file("stat", "cpu  1 2 3 4\nbtime 1700000000\n")
            .file("sys/kernel/pid_max", "4194304\n")
            .file("sys/kernel/threads-max", "63704\n");
        Tree {
            root: tree.path().to_owned(),
            tree,
        }
    }

    fn write(&self, path: String, text: &str) {
        self.tree.file(path, text);
    }

    /// Writes a process: `stat`, `status`, `io`, `limits`, `cmdline`, `task/<pid>/stat`,
    /// `task/<tid>/{stat,status}` of its other threads, and `fd/`.
    pub fn add(&self, p: &Spec) {
        let pid = p.pid;
        let threads = 1 + p.threads.len() as u64;
        self.write(format!("{pid}/stat"), &stat_line(p, pid, p.state, threads));
        let status = status_text(p.comm, p.rss_kib, p.swap_kib, threads, p.ctxt);
        self.write(format!("{pid}/status"), &status);
        self.write(
            format!("{pid}/io"),
            &format!(
                "rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: {}\nwrite_bytes: {}\n\
                 cancelled_write_bytes: 0\n",
                p.io.0, p.io.1
            ),
        );
        let limit = p.fd_limit.map_or("unlimited".to_owned(), |l| l.to_string());
        self.write(
            format!("{pid}/limits"),
            &format!(
                "Limit                     Soft Limit           Hard Limit           Units     \n\
                 Max processes             63704                63704                processes \n\
                 Max open files            {limit:<21}{limit:<21}files     \n"
            ),
        );
        let cmdline: String = p.argv.iter().map(|a| format!("{a}\0")).collect();
        self.write(format!("{pid}/cmdline"), &cmdline);
        self.write(
            format!("{pid}/task/{pid}/stat"),
            &stat_line(p, pid, p.state, threads),
        );
        for &(tid, state, voluntary, nonvoluntary) in p.threads {
            self.write(
                format!("{pid}/task/{tid}/stat"),
                &stat_line(p, tid, state, threads),
            );
            let status = status_text(
                p.comm,
                p.rss_kib,
                p.swap_kib,
                threads,
                (voluntary, nonvoluntary),
            );
            self.write(format!("{pid}/task/{tid}/status"), &status);
        }
        if let Some(fds) = p.fds {
            self.tree.dir(format!("{pid}/fd"));
            for fd in 0..fds {
                self.tree.link(format!("{pid}/fd/{fd}"), "/dev/null");
            }
        }
    }

    /// A process listed in `/proc` whose files are gone: it exited after the listing.
    pub fn add_vanished(&self, pid: u32) {
        self.tree.dir(pid.to_string());
    }
}

impl Tree {
    /// Leaves the tree on disk (for benchmarks) and returns its root.
    #[allow(
        dead_code,
        reason = "used by scale.rs only; each test file compiles this module"
    )]
    pub fn keep(self) -> PathBuf {
        std::mem::forget(self.tree);
        self.root
    }
}

fn stat_line(p: &Spec, pid: u32, state: &str, threads: u64) -> String {
    format!(
        "{pid} ({}) {state} {} {pid} {pid} 0 -1 4194304 {} 0 {} 0 {} {} 0 0 20 0 {threads} 0 {} {} \
         {} 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n",
        p.comm,
        p.ppid,
        p.utime * 10, // minflt
        p.utime,      // majflt
        p.utime,
        p.stime,
        p.starttime,
        p.vsize,
        p.rss_kib / 4,
    )
}

fn status_text(comm: &str, rss_kib: u64, swap_kib: u64, threads: u64, ctxt: (u64, u64)) -> String {
    format!(
        "Name:\t{comm}\nUmask:\t0022\nVmRSS:\t{rss_kib:>8} kB\nVmSwap:\t{swap_kib:>8} kB\n\
         Threads:\t{threads}\nvoluntary_ctxt_switches:\t{}\nnonvoluntary_ctxt_switches:\t{}\n",
        ctxt.0, ctxt.1
    )
}
