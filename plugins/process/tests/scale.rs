//! A synthetic `/proc` with 10,000 processes: the counts are exact, and the time one collection
//! takes is printed (run with `--release -- --nocapture` to measure it).
//!
//! `SONDE_KEEP_SCALE_TREE=1 cargo test -p sonde-plugin-process --test scale -- --nocapture` leaves
//! the tree on disk and prints its path, for the in-wasm measurement:
//! `cargo bench -p sonde --bench cycle -- --procfs <path> --only process`.

mod support;

use sonde_plugin_process::Process;
use sonde_sdk::Root;
use sonde_sdk::testing::{Fixture, collect_text, family_lines};
use std::time::Instant;
use support::{Spec, Tree};

const PROCESSES: u32 = 10_000;
const STATES: [&str; 5] = ["S", "R", "D", "I", "Z"];

/// Every 10th process has two more threads (one of them running); pids from 1000 on;
/// the process `i` runs `/usr/bin/worker<i % 7>`; 25 more pids are listed but gone.
fn build(name: &str) -> Tree {
    let tree = Tree::new(name);
    for i in 0..PROCESSES {
        let pid = 1000 + i;
        let argv = [format!("/usr/bin/worker{}", i % 7), "--serve".to_owned()];
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let comm = format!("worker{}", i % 7);
        let extra = [(pid + 20_000, "R", 1, 1), (pid + 40_000, "S", 1, 1)];
        tree.add(&Spec {
            pid,
            ppid: 1,
            comm: &comm,
            state: STATES[i as usize % 5],
            argv: &argv,
            threads: if i % 10 == 0 { &extra } else { &[] },
            utime: 3,
            stime: 1,
            starttime: 100 + u64::from(i),
            vsize: 1 << 20,
            rss_kib: 400,
            ctxt: (5, 2),
            io: (4096, 512),
            ..Spec::default()
        });
    }
    for i in 0..25 {
        tree.add_vanished(900 + i);
    }
    tree
}

fn timed(host: &sonde_sdk::Host, config: &str) -> String {
    let start = Instant::now();
    let text = collect_text::<Process>(host, config).unwrap();
    eprintln!(
        "collected {PROCESSES} processes (config {config:?}) in {:?}",
        start.elapsed()
    );
    text
}

#[test]
fn ten_thousand_processes() {
    if std::env::var_os("SONDE_KEEP_SCALE_TREE").is_some() {
        eprintln!(
            "synthetic /proc kept at {}",
            build("scale-kept").keep().display()
        );
    }
    let tree = build("scale");
    let host = Fixture::new().root(Root::Proc, &tree.root).host();

    let text = timed(&host, "");
    assert_eq!(
        family_lines(&text, "node_processes_pids"),
        ["node_processes_pids 10000"]
    );
    // 9,000 single-threaded + 1,000 with 3 threads.
    assert_eq!(
        family_lines(&text, "node_processes_threads"),
        ["node_processes_threads 12000"]
    );
    assert_eq!(
        family_lines(&text, "node_processes_state"),
        [
            "node_processes_state{state=\"D\"} 2000",
            "node_processes_state{state=\"I\"} 2000",
            "node_processes_state{state=\"R\"} 2000",
            "node_processes_state{state=\"S\"} 2000",
            "node_processes_state{state=\"Z\"} 2000",
        ]
    );
    // The multi-threaded processes are those with i % 10 == 0, sleeping (i % 5 == 0), with one
    // running and one sleeping thread besides the main one: 1,000 more R and 2,000 more S.
    assert_eq!(
        family_lines(&text, "node_processes_threads_state"),
        [
            "node_processes_threads_state{thread_state=\"D\"} 2000",
            "node_processes_threads_state{thread_state=\"I\"} 2000",
            "node_processes_threads_state{thread_state=\"R\"} 3000",
            "node_processes_threads_state{thread_state=\"S\"} 3000",
            "node_processes_threads_state{thread_state=\"Z\"} 2000",
        ]
    );
    assert!(host.logged().is_empty(), "{:?}", host.logged());

    // process-exporter's packaged config: every process with a command line, by comm.
    let config = r#"{"process_names": [{"name": "{{.Comm}}", "cmdline": [".+"]}]}"#;
    let text = timed(&host, config);
    let procs = family_lines(&text, "namedprocess_namegroup_num_procs");
    assert_eq!(procs.len(), 7);
    assert_eq!(
        procs[0],
        "namedprocess_namegroup_num_procs{groupname=\"worker0\"} 1429"
    );
    // worker0 holds i = 0, 7, …, 9996; 143 of them (i % 70 == 0) have 3 threads.
    assert!(text.contains("namedprocess_namegroup_num_threads{groupname=\"worker0\"} 1715\n"));
    assert!(text.contains(
        "namedprocess_namegroup_cpu_seconds_total{groupname=\"worker0\",mode=\"user\"} 42.87\n"
    ));
    assert!(
        text.contains(
            "namedprocess_namegroup_read_bytes_total{groupname=\"worker0\"} 5.853184e+06\n"
        )
    );
}
