//! process-exporter's `namedprocess_namegroup_*` metrics for the configured groups.
//!
//! Unlike process-exporter, which counts from its own start (a process seen at startup adds 0,
//! and a group's counters keep what its exited processes used), sonde keeps no state between
//! cycles: counters are the totals `/proc` reports for the group's current processes (CPU time,
//! I/O, page faults and context switches since each process started). They drop when a process
//! exits, which `rate()` reads as a counter reset. Groups with no process are not reported.

use crate::assign::Assignment;
use crate::batch::{BATCH, read_texts, vanished};
use crate::scan::{Proc, Thread, state_letter};
use sonde_procfs::pid_files::{self, StatusCounters};
use sonde_procfs::{USER_HZ, auxv, stat};
use sonde_sdk::{Error, FsError, Host, Level, MetricFamily, ResultExt, Root};
use std::collections::HashMap;

/// The states process-exporter reports, in its order.
const STATES: [&str; 5] = ["Running", "Sleeping", "Waiting", "Zombie", "Other"];

/// The index in [`STATES`] of a `stat` state letter.
fn state_index(state: char) -> usize {
    match state {
        'R' => 0,
        'S' => 1,
        'D' => 2,
        'Z' => 3,
        _ => 4,
    }
}

/// What the totals need to know of the machine.
struct Machine {
    /// Boot time, seconds since the epoch (`/proc/stat`'s `btime`).
    boot_time: u64,
    /// The page size, the unit of `stat`'s `rss` (from `/proc/self/auxv`).
    page_size: u64,
}

impl Machine {
    fn read(host: &Host) -> Result<Machine, Error> {
        let stat = host
            .read_to_string(Root::Proc, "stat")
            .context("reading /proc/stat")?;
        // Start times count from the boot time: without it they would all be wrong.
        let boot_time = stat::parse(&stat)
            .0
            .boot_time
            .ok_or_else(|| Error::msg("/proc/stat: no valid btime line"))?;
        Ok(Machine {
            boot_time,
            page_size: auxv::page_size(host),
        })
    }
}

/// One group's totals over its processes.
#[derive(Debug, Default, Clone)]
struct Totals {
    procs: u64,
    utime: u64,
    stime: u64,
    read_bytes: u64,
    write_bytes: u64,
    major_faults: u64,
    minor_faults: u64,
    voluntary: u64,
    nonvoluntary: u64,
    resident: u64,
    virtual_bytes: u64,
    swapped: u64,
    pss: u64,
    swap_pss: u64,
    open_fds: u64,
    worst_fd_ratio: f64,
    oldest_start: Option<u64>,
    threads: u64,
    states: [u64; 5],
}

/// What the threads of one process other than the main one add up to.
#[derive(Debug, Default, Clone, Copy)]
struct ThreadSums {
    /// The main thread was listed in `task/`.
    leader: bool,
    /// Threads read besides the main one.
    others: u64,
    voluntary: u64,
    nonvoluntary: u64,
    states: [u64; 5],
}

/// Collects the families of the groups in `assignment`. `threads` are the scanned threads
/// (those of multi-threaded group members among them); `smaps` adds the proportional sizes.
pub fn families(
    host: &Host,
    procs: &[Proc],
    assignment: &Assignment,
    threads: &[Thread],
    smaps: bool,
) -> Result<Vec<MetricFamily>, Error> {
    let members: Vec<(usize, usize)> = (0..procs.len())
        .filter_map(|i| Some((i, assignment.of_proc[i]?)))
        .collect();
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let machine = Machine::read(host)?;

    let files = if smaps { &FILES[..] } else { &FILES[..SMAPS] };
    let thread_sums = thread_sums(host, procs, assignment, threads);
    let mut totals = vec![Totals::default(); assignment.names.len()];
    let (mut left_out, mut first_failure) = (0, None);
    // One host call per chunk, and only one chunk of texts held at a time.
    for chunk in members.chunks(BATCH / FILES.len()) {
        let paths: Vec<String> = chunk
            .iter()
            .flat_map(|&(i, _)| files.iter().map(move |f| format!("{}/{f}", procs[i].pid)))
            .collect();
        let texts = read_texts(host, &paths);
        for (&(i, slot), texts) in chunk.iter().zip(texts.chunks(files.len())) {
            let threads = thread_sums.get(&i);
            match add_member(&mut totals[slot], host, &procs[i], texts, threads, &machine) {
                Ok(()) | Err(None) => {} // Err(None): the process exited
                Err(Some(e)) => {
                    left_out += 1;
                    first_failure.get_or_insert(e.context(format!("pid {}", procs[i].pid)));
                }
            }
        }
    }
    if let Some(e) = first_failure {
        host.log(
            Level::Warn,
            &format!(
                "process groups: left out {left_out} process(es) whose status or limits could \
                 not be read, e.g. {e}"
            ),
        );
    }
    Ok(emit(&assignment.names, &totals, smaps))
}

/// Adds one process to its group's totals, from its `texts` (read from [`FILES`], the last
/// one only with smaps). `Err(None)` when it exited, `Err(Some(_))` when a required file could
/// not be read; it is then left out, as process-exporter does.
fn add_member(
    total: &mut Totals,
    host: &Host,
    proc: &Proc,
    texts: &[Result<String, FsError>],
    threads: Option<&ThreadSums>,
    machine: &Machine,
) -> Result<(), Option<Error>> {
    let (status, fd_limit) = required(texts)?;
    add_process(total, proc, &status, machine);
    add_threads(total, proc, &status, threads);
    if let Some(io) = optional(&texts[IO], pid_files::parse_io) {
        total.read_bytes += io.read_bytes;
        total.write_bytes += io.write_bytes;
    }
    if let Some(p) = texts
        .get(SMAPS)
        .and_then(|t| optional(t, pid_files::parse_smaps_rollup))
    {
        total.pss += p.pss_bytes;
        total.swap_pss += p.swap_pss_bytes;
    }
    add_fds(total, open_fds(host, proc.pid), fd_limit);
    Ok(())
}

/// The files read for each group member, by index: the first two are required.
const FILES: [&str; 4] = ["status", "limits", "io", "smaps_rollup"];
const STATUS: usize = 0;
const LIMITS: usize = 1;
const IO: usize = 2;
const SMAPS: usize = 3;

/// What a process cannot be reported without, as in process-exporter: its `status` and its
/// open-file limit. `Err(None)` when it exited.
fn required(texts: &[Result<String, FsError>]) -> Result<(StatusCounters, u64), Option<Error>> {
    let text = |index: usize| match &texts[index] {
        Ok(text) => Ok(text.as_str()),
        Err(e) if vanished(e) => Err(None),
        Err(e) => Err(Some(
            Error::msg(e).context(format!("reading {}", FILES[index])),
        )),
    };
    let status = pid_files::parse_status(text(STATUS)?).map_err(Some)?;
    let limit = pid_files::parse_open_files_limit(text(LIMITS)?).map_err(Some)?;
    Ok((status, limit))
}

/// An optional file: 0 for everything when it cannot be read or parsed, as process-exporter.
fn optional<T>(text: &Result<String, FsError>, parse: fn(&str) -> Result<T, Error>) -> Option<T> {
    text.as_ref().ok().and_then(|t| parse(t).ok())
}

/// The number of open file descriptors (`fd/` entries); `None` when it cannot be listed.
fn open_fds(host: &Host, pid: u32) -> Option<u64> {
    host.read_dir(Root::Proc, &format!("{pid}/fd"))
        .ok()
        .map(|entries| entries.len() as u64)
}

fn add_process(total: &mut Totals, proc: &Proc, status: &StatusCounters, machine: &Machine) {
    let stat = &proc.stat;
    total.procs += 1;
    total.utime += stat.utime;
    total.stime += stat.stime;
    total.major_faults += stat.majflt;
    total.minor_faults += stat.minflt;
    total.resident += stat.rss * machine.page_size;
    total.virtual_bytes += stat.vsize;
    total.swapped += status.vm_swap_kib * 1024;
    total.threads += stat.num_threads;
    // Whole seconds, as process-exporter's `time.Time.Unix()`.
    let start = machine.boot_time + stat.starttime / USER_HZ as u64;
    total.oldest_start = Some(total.oldest_start.map_or(start, |o| o.min(start)));
}

/// Context switches and states: the process's own, or, when at least two of its threads were
/// read, the sum over its threads, with each thread's state added to the process's (so the
/// main thread counts twice, as in process-exporter).
fn add_threads(
    total: &mut Totals,
    proc: &Proc,
    status: &StatusCounters,
    threads: Option<&ThreadSums>,
) {
    let state = state_index(state_letter(proc.stat.state));
    total.states[state] += 1;
    match threads {
        Some(t) if t.others + u64::from(t.leader) >= 2 => {
            total.voluntary += t.voluntary;
            total.nonvoluntary += t.nonvoluntary;
            if t.leader {
                total.voluntary += status.voluntary_ctxt_switches;
                total.nonvoluntary += status.nonvoluntary_ctxt_switches;
                total.states[state] += 1;
            }
            for (sum, n) in total.states.iter_mut().zip(t.states) {
                *sum += n;
            }
        }
        _ => {
            total.voluntary += status.voluntary_ctxt_switches;
            total.nonvoluntary += status.nonvoluntary_ctxt_switches;
        }
    }
}

fn add_fds(total: &mut Totals, open: Option<u64>, limit: u64) {
    let Some(open) = open else { return };
    total.open_fds += open;
    let ratio = open as f64 / limit as f64;
    if total.worst_fd_ratio < ratio {
        total.worst_fd_ratio = ratio;
    }
}

/// Sums the threads other than the main one of multi-threaded group members, reading their
/// `status` (batched); the main thread's `status` is the process's own.
fn thread_sums(
    host: &Host,
    procs: &[Proc],
    assignment: &Assignment,
    threads: &[Thread],
) -> HashMap<usize, ThreadSums> {
    let members: Vec<&Thread> = threads
        .iter()
        .filter(|t| assignment.of_proc[t.task.proc].is_some())
        .collect();
    let mut sums = HashMap::<usize, ThreadSums>::new();
    for chunk in members.chunks(BATCH) {
        let paths: Vec<String> = chunk
            .iter()
            .filter(|t| !t.task.is_leader(procs))
            .map(|t| t.task.path(procs, "status"))
            .collect();
        let mut statuses = read_texts(host, &paths).into_iter();
        for thread in chunk {
            let sum = sums.entry(thread.task.proc).or_default();
            if thread.task.is_leader(procs) {
                sum.leader = true;
                continue;
            }
            let status = statuses.next().and_then(|s| s.ok());
            let Some(status) = status.and_then(|s| pid_files::parse_status(&s).ok()) else {
                continue; // the thread exited
            };
            sum.others += 1;
            sum.voluntary += status.voluntary_ctxt_switches;
            sum.nonvoluntary += status.nonvoluntary_ctxt_switches;
            sum.states[state_index(thread.state)] += 1;
        }
    }
    sums
}

/// The `namedprocess_namegroup_*` families, with process-exporter's names, HELP and labels.
fn emit(names: &[String], totals: &[Totals], smaps: bool) -> Vec<MetricFamily> {
    let gauge = MetricFamily::gauge;
    let counter = MetricFamily::counter;
    let mut num_procs = gauge(
        "namedprocess_namegroup_num_procs",
        "number of processes in this group",
    );
    let mut cpu = counter(
        "namedprocess_namegroup_cpu_seconds_total",
        "Cpu user usage in seconds",
    );
    let mut read = counter(
        "namedprocess_namegroup_read_bytes_total",
        "number of bytes read by this group",
    );
    let mut write = counter(
        "namedprocess_namegroup_write_bytes_total",
        "number of bytes written by this group",
    );
    let mut major = counter(
        "namedprocess_namegroup_major_page_faults_total",
        "Major page faults",
    );
    let mut minor = counter(
        "namedprocess_namegroup_minor_page_faults_total",
        "Minor page faults",
    );
    let mut switches = counter(
        "namedprocess_namegroup_context_switches_total",
        "Context switches",
    );
    let mut memory = gauge(
        "namedprocess_namegroup_memory_bytes",
        "number of bytes of memory in use",
    );
    let mut fds = gauge(
        "namedprocess_namegroup_open_filedesc",
        "number of open file descriptors for this group",
    );
    let mut worst = gauge(
        "namedprocess_namegroup_worst_fd_ratio",
        "the worst (closest to 1) ratio between open fds and max fds among all procs in this group",
    );
    let mut oldest = gauge(
        "namedprocess_namegroup_oldest_start_time_seconds",
        "start time in seconds since 1970/01/01 of oldest process in group",
    );
    let mut threads = gauge("namedprocess_namegroup_num_threads", "Number of threads");
    let mut states = gauge(
        "namedprocess_namegroup_states",
        "Number of processes in states Running, Sleeping, Waiting, Zombie, or Other",
    );
    for (name, t) in names.iter().zip(totals).filter(|(_, t)| t.procs > 0) {
        let g = ("groupname", name.as_str());
        num_procs.sample(&[g], t.procs as f64);
        cpu.sample(&[g, ("mode", "user")], t.utime as f64 / USER_HZ);
        cpu.sample(&[g, ("mode", "system")], t.stime as f64 / USER_HZ);
        read.sample(&[g], t.read_bytes as f64);
        write.sample(&[g], t.write_bytes as f64);
        major.sample(&[g], t.major_faults as f64);
        minor.sample(&[g], t.minor_faults as f64);
        switches.sample(&[g, ("ctxswitchtype", "voluntary")], t.voluntary as f64);
        switches.sample(
            &[g, ("ctxswitchtype", "nonvoluntary")],
            t.nonvoluntary as f64,
        );
        let mut sizes = vec![
            ("resident", t.resident),
            ("virtual", t.virtual_bytes),
            ("swapped", t.swapped),
        ];
        if smaps {
            sizes.extend([
                ("proportionalResident", t.pss),
                ("proportionalSwapped", t.swap_pss),
            ]);
        }
        for (memtype, bytes) in sizes {
            memory.sample(&[g, ("memtype", memtype)], bytes as f64);
        }
        fds.sample(&[g], t.open_fds as f64);
        worst.sample(&[g], t.worst_fd_ratio);
        oldest.sample(&[g], t.oldest_start.unwrap_or_default() as f64);
        threads.sample(&[g], t.threads as f64);
        for (state, count) in STATES.iter().zip(t.states) {
            states.sample(&[g, ("state", state)], count as f64);
        }
    }
    vec![
        num_procs, cpu, read, write, major, minor, switches, memory, fds, worst, oldest, threads,
        states,
    ]
}
