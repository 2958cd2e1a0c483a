//! Counting rules on small synthetic trees: open files, inherited groups, thread states and
//! context switches, processes and threads that exit mid-read, unreadable files.

mod support;

use sonde_plugin_process::Process;
use sonde_sdk::testing::{Fixture, collect_text, family_lines};
use sonde_sdk::{Level, Root};
use std::fs;
use support::{Spec, Tree};

/// init; an nginx master (3 open files of 4 allowed) and its worker (2 threads listed and a
/// third that exited, no file limit) and the worker's zombie child `sh`; a postgres whose
/// `limits` cannot be read; a cron that exited between its `stat` and its `status`; a pid that
/// exited after the listing.
fn tree(name: &str) -> Tree {
    let tree = Tree::new(name);
    tree.add(&Spec {
        pid: 1,
        comm: "init",
        argv: &["/sbin/init"],
        ..Spec::default()
    });
    tree.add(&Spec {
        pid: 100,
        ppid: 1,
        comm: "nginx",
        argv: &["nginx: master process /usr/sbin/nginx"],
        utime: 150,
        stime: 50,
        starttime: 250,
        vsize: 1 << 30,
        rss_kib: 2048,
        swap_kib: 16,
        ctxt: (10, 1),
        io: (4096, 8192),
        fd_limit: Some(4),
        fds: Some(3),
        ..Spec::default()
    });
    tree.add(&Spec {
        pid: 101,
        ppid: 100,
        comm: "nginx",
        state: "R",
        argv: &["nginx: worker process"],
        threads: &[(1101, "D", 4, 5)],
        utime: 7,
        stime: 3,
        starttime: 990,
        vsize: 1 << 20,
        rss_kib: 1024,
        ctxt: (20, 2),
        io: (1, 2),
        fd_limit: None,
        fds: Some(2),
        ..Spec::default()
    });
    fs::create_dir_all(tree.root.join("101/task/2101")).unwrap(); // exited
    tree.add(&Spec {
        pid: 102,
        ppid: 101,
        comm: "sh",
        state: "Z",
        starttime: 1000,
        ..Spec::default()
    });
    tree.add(&Spec {
        pid: 200,
        ppid: 1,
        comm: "postgres",
        state: "I",
        argv: &["/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/pg"],
        ..Spec::default()
    });
    fs::remove_file(tree.root.join("200/limits")).unwrap();
    fs::create_dir(tree.root.join("200/limits")).unwrap(); // unreadable as a file
    tree.add(&Spec {
        pid: 300,
        ppid: 1,
        comm: "cron",
        argv: &["/usr/sbin/cron"],
        ..Spec::default()
    });
    fs::remove_file(tree.root.join("300/status")).unwrap(); // exited mid-read
    tree.add_vanished(400);
    tree
}

const GROUPS: &str = r#"[
    {"name": "{{.Comm}}", "comm": ["nginx"]},
    {"exe": ["postgres"]},
    {"name": "cron", "comm": ["cron"]}
]"#;

fn group_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("namedprocess_"))
        .collect()
}

#[test]
fn group_totals_follow_process_exporter() {
    let tree = tree("groups");
    let host = Fixture::new().root(Root::Proc, &tree.root).host();
    let config = format!(r#"{{"processes": false, "process_names": {GROUPS}}}"#);
    let text = collect_text::<Process>(&host, &config).unwrap();
    // nginx: the master, the worker and (inherited from the worker) its zombie child. The
    // worker's threads were read (itself and 1101): its context switches are theirs, 20+4 and
    // 2+5, and its state counts once for the process and once per thread (R, R, D). postgres
    // and cron are left out, so their groups are not reported. smaps is off: no proportional
    // sizes.
    let expected = [
        "namedprocess_namegroup_context_switches_total{ctxswitchtype=\"nonvoluntary\",groupname=\"nginx\"} 8",
        "namedprocess_namegroup_context_switches_total{ctxswitchtype=\"voluntary\",groupname=\"nginx\"} 34",
        "namedprocess_namegroup_cpu_seconds_total{groupname=\"nginx\",mode=\"system\"} 0.53",
        "namedprocess_namegroup_cpu_seconds_total{groupname=\"nginx\",mode=\"user\"} 1.57",
        "namedprocess_namegroup_major_page_faults_total{groupname=\"nginx\"} 157",
        "namedprocess_namegroup_memory_bytes{groupname=\"nginx\",memtype=\"resident\"} 3.145728e+06",
        "namedprocess_namegroup_memory_bytes{groupname=\"nginx\",memtype=\"swapped\"} 16384",
        "namedprocess_namegroup_memory_bytes{groupname=\"nginx\",memtype=\"virtual\"} 1.0747904e+09",
        "namedprocess_namegroup_minor_page_faults_total{groupname=\"nginx\"} 1570",
        "namedprocess_namegroup_num_procs{groupname=\"nginx\"} 3",
        "namedprocess_namegroup_num_threads{groupname=\"nginx\"} 4",
        "namedprocess_namegroup_oldest_start_time_seconds{groupname=\"nginx\"} 1.700000002e+09",
        "namedprocess_namegroup_open_filedesc{groupname=\"nginx\"} 5",
        "namedprocess_namegroup_read_bytes_total{groupname=\"nginx\"} 4097",
        "namedprocess_namegroup_states{groupname=\"nginx\",state=\"Other\"} 0",
        "namedprocess_namegroup_states{groupname=\"nginx\",state=\"Running\"} 2",
        "namedprocess_namegroup_states{groupname=\"nginx\",state=\"Sleeping\"} 1",
        "namedprocess_namegroup_states{groupname=\"nginx\",state=\"Waiting\"} 1",
        "namedprocess_namegroup_states{groupname=\"nginx\",state=\"Zombie\"} 1",
        "namedprocess_namegroup_worst_fd_ratio{groupname=\"nginx\"} 0.75",
        "namedprocess_namegroup_write_bytes_total{groupname=\"nginx\"} 8194",
    ];
    assert_eq!(group_lines(&text), expected);
    // Only the unreadable limits are worth a warning; exits are silent.
    let logged = host.logged();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0].0, Level::Warn);
    assert!(
        logged[0].1.starts_with("process groups: left out 1 process(es) whose status or limits could not be read, e.g. pid 200: "),
        "{}",
        logged[0].1
    );
}

#[test]
fn children_can_be_left_out_and_smaps_added() {
    let tree = tree("children");
    let host = Fixture::new().root(Root::Proc, &tree.root).host();
    let config = format!(
        r#"{{"processes": false, "children": false, "gather_smaps": true, "process_names": {GROUPS}}}"#
    );
    let text = collect_text::<Process>(&host, &config).unwrap();
    assert_eq!(
        family_lines(&text, "namedprocess_namegroup_num_procs"),
        ["namedprocess_namegroup_num_procs{groupname=\"nginx\"} 2"]
    );
    assert_eq!(
        family_lines(&text, "namedprocess_namegroup_states"),
        [
            "namedprocess_namegroup_states{groupname=\"nginx\",state=\"Other\"} 0",
            "namedprocess_namegroup_states{groupname=\"nginx\",state=\"Running\"} 2",
            "namedprocess_namegroup_states{groupname=\"nginx\",state=\"Sleeping\"} 1",
            "namedprocess_namegroup_states{groupname=\"nginx\",state=\"Waiting\"} 1",
            "namedprocess_namegroup_states{groupname=\"nginx\",state=\"Zombie\"} 0",
        ]
    );
    // The synthetic processes have no smaps_rollup: proportional sizes count 0.
    assert!(text.contains(
        "namedprocess_namegroup_memory_bytes{groupname=\"nginx\",memtype=\"proportionalResident\"} 0\n"
    ));
}

#[test]
fn processes_and_threads_that_exit_are_not_counted() {
    let tree = tree("exits");
    let host = Fixture::new().root(Root::Proc, &tree.root).host();
    let text = collect_text::<Process>(&host, "").unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    // pid 400 exited before its stat was read; thread 2101 before its own.
    assert_eq!(
        lines,
        [
            "node_processes_max_processes 4.194304e+06",
            "node_processes_max_threads 63704",
            "node_processes_pids 6",
            "node_processes_state{state=\"I\"} 1",
            "node_processes_state{state=\"R\"} 1",
            "node_processes_state{state=\"S\"} 3",
            "node_processes_state{state=\"Z\"} 1",
            "node_processes_threads 7",
            "node_processes_threads_state{thread_state=\"D\"} 1",
            "node_processes_threads_state{thread_state=\"I\"} 1",
            "node_processes_threads_state{thread_state=\"R\"} 1",
            "node_processes_threads_state{thread_state=\"S\"} 3",
            "node_processes_threads_state{thread_state=\"Z\"} 1",
        ]
    );
    assert!(host.logged().is_empty(), "{:?}", host.logged());
}

#[test]
fn an_unreadable_stat_fails_the_counts_but_not_the_groups() {
    let tree = tree("unreadable");
    fs::remove_file(tree.root.join("300/stat")).unwrap();
    fs::create_dir(tree.root.join("300/stat")).unwrap();
    let host = Fixture::new().root(Root::Proc, &tree.root).host();
    let err = collect_text::<Process>(&host, "").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("processes: reading /proc/300/stat: "),
        "{err}"
    );

    let config = format!(r#"{{"process_names": {GROUPS}}}"#);
    let text = collect_text::<Process>(&host, &config).unwrap();
    assert!(!text.contains("node_processes_"));
    assert!(text.contains("namedprocess_namegroup_num_procs{groupname=\"nginx\"} 3\n"));
    let logged = host.logged();
    assert!(
        logged.iter().any(|(level, line)| *level == Level::Warn
            && line.starts_with("processes: reading /proc/300/stat")),
        "{logged:?}"
    );
}

#[test]
fn missing_limit_files_are_skipped() {
    let tree = tree("limits");
    fs::remove_dir_all(tree.root.join("sys")).unwrap();
    let host = Fixture::new().root(Root::Proc, &tree.root).host();
    let text = collect_text::<Process>(&host, "").unwrap();
    assert!(!text.contains("node_processes_max_"));
    assert!(text.contains("node_processes_pids 6\n"));
    assert!(host.logged().is_empty(), "{:?}", host.logged());
}

#[test]
fn nothing_configured_reads_nothing() {
    // No root granted: any read would fail.
    let host = Fixture::new().host();
    assert_eq!(
        collect_text::<Process>(&host, r#"{"processes": false}"#).unwrap(),
        ""
    );
    let err = collect_text::<Process>(&host, "").unwrap_err();
    assert_eq!(err.to_string(), "listing /proc: not granted to this plugin");
}

#[test]
fn no_boot_time_no_start_times() {
    let tree = tree("no-btime");
    fs::write(tree.root.join("stat"), "cpu  1 2 3 4\nctxt 9\n").unwrap();
    let host = Fixture::new().root(Root::Proc, &tree.root).host();
    let config = format!(r#"{{"processes": false, "process_names": {GROUPS}}}"#);
    let err = collect_text::<Process>(&host, &config).unwrap_err();
    assert!(
        err.to_string().ends_with("/proc/stat: no valid btime line"),
        "{err}"
    );
}
