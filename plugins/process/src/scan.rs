//! One pass over `/proc`: the processes and their `stat` lines, then the threads of the
//! multi-threaded ones. Processes and threads that exit while they are read are skipped; the
//! first other failure is kept for the caller to judge.

use crate::batch::{BATCH, read_texts, vanished};
use sonde_procfs::pid_stat::{self, PidStat};
use sonde_sdk::{Error, FsError, Host, ResultExt, Root};

/// A process whose `stat` line was read.
#[derive(Debug, Clone, Copy)]
pub struct Proc<'a> {
    /// Its pid.
    pub pid: u32,
    /// Its `/proc/<pid>/stat` line.
    pub stat: PidStat<'a>,
}

/// The texts of files read for many processes or threads, one result per path.
pub type Texts = Vec<Result<String, FsError>>;

/// The pids of the processes in `/proc`, in ascending order of their names.
pub fn list_pids(host: &Host) -> Result<Vec<u32>, Error> {
    let entries = host.read_dir(Root::Proc, "").context("listing /proc")?;
    Ok(entries
        .iter()
        .filter_map(|e| pid_stat::parse_pid(&e.name))
        .collect())
}

/// Reads `/proc/<pid>/stat` of every pid, batched.
pub fn read_stats(host: &Host, pids: &[u32]) -> Texts {
    let paths: Vec<String> = pids.iter().map(|pid| format!("{pid}/stat")).collect();
    read_texts(host, &paths)
}

/// The processes whose `stat` was read and parsed, and the first failure other than an exit.
pub fn parse_procs<'a>(pids: &[u32], texts: &'a Texts) -> (Vec<Proc<'a>>, Option<Error>) {
    let mut procs = Vec::with_capacity(pids.len());
    let mut failure = None;
    for (&pid, text) in pids.iter().zip(texts) {
        let parsed = match text {
            Ok(text) => pid_stat::parse(text),
            Err(e) if vanished(e) => continue,
            Err(e) => Err(Error::msg(e)),
        };
        match parsed {
            Ok(stat) => procs.push(Proc { pid, stat }),
            Err(e) => {
                failure.get_or_insert(e.context(format!("reading /proc/{pid}/stat")));
            }
        }
    }
    (procs, failure)
}

/// Whether the tree has `task/` directories. Every kernel since 2.6 has them; node_exporter's
/// test fixture does not, and node_exporter then counts no thread states. Probed on the first
/// process, so that single-threaded processes need no listing of their own.
pub fn has_task_dirs(host: &Host, procs: &[Proc]) -> bool {
    procs.first().is_some_and(|p| {
        !matches!(
            host.read_dir(Root::Proc, &format!("{}/task", p.pid)),
            Err(FsError::NotFound)
        )
    })
}

/// One entry of a process's `task/` directory.
#[derive(Debug, Clone, Copy)]
pub struct Task {
    /// Index of the process in the scanned list.
    pub proc: usize,
    /// The thread id (the pid for the main thread).
    pub tid: u32,
}

impl Task {
    /// True for the process's main thread, whose `stat` and `status` are the process's own.
    pub fn is_leader(&self, procs: &[Proc]) -> bool {
        self.tid == procs[self.proc].pid
    }

    /// The path of one of the thread's files, e.g. `stat`.
    pub fn path(&self, procs: &[Proc], file: &str) -> String {
        format!("{}/task/{}/{file}", procs[self.proc].pid, self.tid)
    }
}

/// Lists `task/` of the processes `select` picks (one host call each); processes that exited
/// are skipped.
pub fn list_tasks(
    host: &Host,
    procs: &[Proc],
    select: impl Fn(usize) -> bool,
) -> (Vec<Task>, Option<Error>) {
    let mut tasks = Vec::new();
    let mut failure = None;
    for (index, proc) in procs.iter().enumerate().filter(|(i, _)| select(*i)) {
        let path = format!("{}/task", proc.pid);
        match host.read_dir(Root::Proc, &path) {
            Ok(entries) => tasks.extend(
                entries
                    .iter()
                    .filter_map(|e| pid_stat::parse_pid(&e.name))
                    .map(|tid| Task { proc: index, tid }),
            ),
            Err(e) if vanished(&e) => {}
            Err(e) => {
                failure.get_or_insert(Error::msg(e).context(format!("listing /proc/{path}")));
            }
        }
    }
    (tasks, failure)
}

/// A thread whose state is known.
#[derive(Debug, Clone, Copy)]
pub struct Thread {
    /// The thread's entry in `task/`.
    pub task: Task,
    /// Its state letter (`R`, `S`, …; the kernel writes one letter).
    pub state: char,
}

/// The letter of a `stat` state field.
pub fn state_letter(state: &str) -> char {
    state.chars().next().unwrap_or('?')
}

/// Reads the states of `tasks`: a main thread's is the process's (as node_exporter counts it),
/// the others' come from their `stat`, read in batches (only one batch of texts is held at a
/// time). Threads that exited are skipped; the first other failure is returned.
pub fn read_threads(host: &Host, procs: &[Proc], tasks: &[Task]) -> (Vec<Thread>, Option<Error>) {
    let mut threads = Vec::with_capacity(tasks.len());
    let mut failure = None;
    for chunk in tasks.chunks(BATCH) {
        let paths: Vec<String> = chunk
            .iter()
            .filter(|t| !t.is_leader(procs))
            .map(|t| t.path(procs, "stat"))
            .collect();
        let mut texts = read_texts(host, &paths).into_iter();
        for &task in chunk {
            if task.is_leader(procs) {
                let state = state_letter(procs[task.proc].stat.state);
                threads.push(Thread { task, state });
                continue;
            }
            let parsed = match texts.next() {
                Some(Ok(text)) => pid_stat::parse(&text).map(|stat| state_letter(stat.state)),
                Some(Err(e)) if vanished(&e) => continue,
                Some(Err(e)) => Err(Error::msg(e)),
                None => break,
            };
            match parsed {
                Ok(state) => threads.push(Thread { task, state }),
                Err(e) => {
                    let path = task.path(procs, "stat");
                    failure.get_or_insert(e.context(format!("reading /proc/{path}")));
                }
            }
        }
    }
    (threads, failure)
}
