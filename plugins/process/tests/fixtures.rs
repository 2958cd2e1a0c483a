//! The process collector against node_exporter's fixture tree and a capture of real processes
//! of a Debian 12 machine (a kernel thread, `sleep 600`, and a python3 with three threads).

use sonde_plugin_process::Process;
use sonde_sdk::Root;
use sonde_sdk::testing::{Fixture, collect_text, family_lines, restore_empty_dirs, sample_lines};
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn live() -> sonde_sdk::Host {
    Fixture::new()
        .root(Root::Proc, fixtures().join("live-debian12/proc"))
        .host()
}

const FAMILIES: [&str; 6] = [
    "node_processes_threads",
    "node_processes_max_threads",
    "node_processes_state",
    "node_processes_threads_state",
    "node_processes_pids",
    "node_processes_max_processes",
];

#[test]
fn matches_node_exporter_on_its_own_fixture() {
    let dir = fixtures().join("node-exporter");
    restore_empty_dirs(&dir, &dir.join("empty-dirs.txt")).unwrap();
    let host = Fixture::new().root(Root::Proc, dir.join("proc")).host();
    let ours = collect_text::<Process>(&host, "").unwrap();
    let theirs = std::fs::read_to_string(dir.join("e2e-output.txt")).unwrap();
    for family in FAMILIES {
        assert_eq!(
            family_lines(&ours, family),
            family_lines(&theirs, family),
            "{family}"
        );
    }
    // The fixture has no task/ directories: node_exporter counts no thread state, and neither
    // do we. Every other family has samples, with node_exporter's HELP and TYPE.
    assert!(family_lines(&theirs, "node_processes_threads_state").is_empty());
    for family in FAMILIES.iter().filter(|f| !f.ends_with("threads_state")) {
        assert!(!family_lines(&theirs, family).is_empty(), "{family}");
        for prefix in ["# HELP", "# TYPE"] {
            let line = theirs
                .lines()
                .find(|l| l.starts_with(&format!("{prefix} {family} ")))
                .unwrap();
            assert!(ours.lines().any(|l| l == line), "{line}");
        }
    }
    assert!(host.logged().is_empty(), "{:?}", host.logged());
}

#[test]
fn counts_processes_and_threads_of_a_live_capture() {
    let text = collect_text::<Process>(&live(), "").unwrap();
    let expected = "\
node_processes_max_processes 32768
node_processes_max_threads 192730
node_processes_pids 3
node_processes_state{state=\"S\"} 3
node_processes_threads 5
node_processes_threads_state{thread_state=\"S\"} 5
";
    assert_eq!(sample_lines(&text).join("\n") + "\n", expected);
    assert!(
        text.contains("# HELP node_processes_threads_state Number of threads in each state.\n")
    );
    assert!(text.contains("# TYPE node_processes_threads_state gauge\n"));
}

/// The python3 process (`/root/.pyenv/versions/3.11.7/bin/python3 /tmp/mt.py worker
/// --queue=alpha`, three threads) is named from a cmdline capture; `sleep 600` from its exe
/// entry (the python3 would match that entry too, but the first match wins); kthreadd, whose
/// command line is empty, by comm, its `{{.ExeBase}}` falling back to the comm.
const GROUPS: &str = r#"{"processes": false, "gather_smaps": true, "process_names": [
    {"name": "py:{{.Matches.Queue}}", "comm": ["python3"], "cmdline": ["--queue=(?P<Queue>\\S+)"]},
    {"name": "{{.ExeFull}}", "exe": ["/root/.pyenv/versions/3.11.7/bin/python3", "sleep"]},
    {"name": "kernel:{{.ExeBase}}", "comm": ["kthreadd"]}
]}"#;

#[test]
fn group_metrics_of_a_live_capture() {
    let host = live();
    let text = collect_text::<Process>(&host, GROUPS).unwrap();
    // Values from the captured files: stat (utime 4 ticks, minflt, majflt, vsize, rss 3338 and
    // 408 pages of 4 KiB (the capture has no self/auxv: the page size defaults to x86's, which
    // it is), starttime 146997 ticks after btime 1795671691), status (VmSwap, context
    // switches: the python3's are the sum over its threads, 27+1+1 and 7+0+3), io, limits,
    // smaps_rollup. There is no fd/ in the capture, so no open file is counted.
    let expected = "\
namedprocess_namegroup_context_switches_total{ctxswitchtype=\"nonvoluntary\",groupname=\"kernel:kthreadd\"} 0
namedprocess_namegroup_context_switches_total{ctxswitchtype=\"nonvoluntary\",groupname=\"py:alpha\"} 10
namedprocess_namegroup_context_switches_total{ctxswitchtype=\"nonvoluntary\",groupname=\"sleep\"} 3
namedprocess_namegroup_context_switches_total{ctxswitchtype=\"voluntary\",groupname=\"kernel:kthreadd\"} 65
namedprocess_namegroup_context_switches_total{ctxswitchtype=\"voluntary\",groupname=\"py:alpha\"} 29
namedprocess_namegroup_context_switches_total{ctxswitchtype=\"voluntary\",groupname=\"sleep\"} 1
namedprocess_namegroup_cpu_seconds_total{groupname=\"kernel:kthreadd\",mode=\"system\"} 0
namedprocess_namegroup_cpu_seconds_total{groupname=\"kernel:kthreadd\",mode=\"user\"} 0
namedprocess_namegroup_cpu_seconds_total{groupname=\"py:alpha\",mode=\"system\"} 0
namedprocess_namegroup_cpu_seconds_total{groupname=\"py:alpha\",mode=\"user\"} 0.04
namedprocess_namegroup_cpu_seconds_total{groupname=\"sleep\",mode=\"system\"} 0
namedprocess_namegroup_cpu_seconds_total{groupname=\"sleep\",mode=\"user\"} 0
namedprocess_namegroup_major_page_faults_total{groupname=\"kernel:kthreadd\"} 0
namedprocess_namegroup_major_page_faults_total{groupname=\"py:alpha\"} 4
namedprocess_namegroup_major_page_faults_total{groupname=\"sleep\"} 0
namedprocess_namegroup_memory_bytes{groupname=\"kernel:kthreadd\",memtype=\"proportionalResident\"} 0
namedprocess_namegroup_memory_bytes{groupname=\"kernel:kthreadd\",memtype=\"proportionalSwapped\"} 0
namedprocess_namegroup_memory_bytes{groupname=\"kernel:kthreadd\",memtype=\"resident\"} 0
namedprocess_namegroup_memory_bytes{groupname=\"kernel:kthreadd\",memtype=\"swapped\"} 0
namedprocess_namegroup_memory_bytes{groupname=\"kernel:kthreadd\",memtype=\"virtual\"} 0
namedprocess_namegroup_memory_bytes{groupname=\"py:alpha\",memtype=\"proportionalResident\"} 1.2046336e+07
namedprocess_namegroup_memory_bytes{groupname=\"py:alpha\",memtype=\"proportionalSwapped\"} 0
namedprocess_namegroup_memory_bytes{groupname=\"py:alpha\",memtype=\"resident\"} 1.3672448e+07
namedprocess_namegroup_memory_bytes{groupname=\"py:alpha\",memtype=\"swapped\"} 0
namedprocess_namegroup_memory_bytes{groupname=\"py:alpha\",memtype=\"virtual\"} 1.6799744e+08
namedprocess_namegroup_memory_bytes{groupname=\"sleep\",memtype=\"proportionalResident\"} 268288
namedprocess_namegroup_memory_bytes{groupname=\"sleep\",memtype=\"proportionalSwapped\"} 0
namedprocess_namegroup_memory_bytes{groupname=\"sleep\",memtype=\"resident\"} 1.671168e+06
namedprocess_namegroup_memory_bytes{groupname=\"sleep\",memtype=\"swapped\"} 0
namedprocess_namegroup_memory_bytes{groupname=\"sleep\",memtype=\"virtual\"} 2.99008e+06
namedprocess_namegroup_minor_page_faults_total{groupname=\"kernel:kthreadd\"} 0
namedprocess_namegroup_minor_page_faults_total{groupname=\"py:alpha\"} 2896
namedprocess_namegroup_minor_page_faults_total{groupname=\"sleep\"} 138
namedprocess_namegroup_num_procs{groupname=\"kernel:kthreadd\"} 1
namedprocess_namegroup_num_procs{groupname=\"py:alpha\"} 1
namedprocess_namegroup_num_procs{groupname=\"sleep\"} 1
namedprocess_namegroup_num_threads{groupname=\"kernel:kthreadd\"} 1
namedprocess_namegroup_num_threads{groupname=\"py:alpha\"} 3
namedprocess_namegroup_num_threads{groupname=\"sleep\"} 1
namedprocess_namegroup_oldest_start_time_seconds{groupname=\"kernel:kthreadd\"} 1.795671691e+09
namedprocess_namegroup_oldest_start_time_seconds{groupname=\"py:alpha\"} 1.79567316e+09
namedprocess_namegroup_oldest_start_time_seconds{groupname=\"sleep\"} 1.79567316e+09
namedprocess_namegroup_open_filedesc{groupname=\"kernel:kthreadd\"} 0
namedprocess_namegroup_open_filedesc{groupname=\"py:alpha\"} 0
namedprocess_namegroup_open_filedesc{groupname=\"sleep\"} 0
namedprocess_namegroup_read_bytes_total{groupname=\"kernel:kthreadd\"} 0
namedprocess_namegroup_read_bytes_total{groupname=\"py:alpha\"} 192512
namedprocess_namegroup_read_bytes_total{groupname=\"sleep\"} 0
namedprocess_namegroup_states{groupname=\"kernel:kthreadd\",state=\"Other\"} 0
namedprocess_namegroup_states{groupname=\"kernel:kthreadd\",state=\"Running\"} 0
namedprocess_namegroup_states{groupname=\"kernel:kthreadd\",state=\"Sleeping\"} 1
namedprocess_namegroup_states{groupname=\"kernel:kthreadd\",state=\"Waiting\"} 0
namedprocess_namegroup_states{groupname=\"kernel:kthreadd\",state=\"Zombie\"} 0
namedprocess_namegroup_states{groupname=\"py:alpha\",state=\"Other\"} 0
namedprocess_namegroup_states{groupname=\"py:alpha\",state=\"Running\"} 0
namedprocess_namegroup_states{groupname=\"py:alpha\",state=\"Sleeping\"} 4
namedprocess_namegroup_states{groupname=\"py:alpha\",state=\"Waiting\"} 0
namedprocess_namegroup_states{groupname=\"py:alpha\",state=\"Zombie\"} 0
namedprocess_namegroup_states{groupname=\"sleep\",state=\"Other\"} 0
namedprocess_namegroup_states{groupname=\"sleep\",state=\"Running\"} 0
namedprocess_namegroup_states{groupname=\"sleep\",state=\"Sleeping\"} 1
namedprocess_namegroup_states{groupname=\"sleep\",state=\"Waiting\"} 0
namedprocess_namegroup_states{groupname=\"sleep\",state=\"Zombie\"} 0
namedprocess_namegroup_worst_fd_ratio{groupname=\"kernel:kthreadd\"} 0
namedprocess_namegroup_worst_fd_ratio{groupname=\"py:alpha\"} 0
namedprocess_namegroup_worst_fd_ratio{groupname=\"sleep\"} 0
namedprocess_namegroup_write_bytes_total{groupname=\"kernel:kthreadd\"} 0
namedprocess_namegroup_write_bytes_total{groupname=\"py:alpha\"} 0
namedprocess_namegroup_write_bytes_total{groupname=\"sleep\"} 0
";
    assert_eq!(sample_lines(&text).join("\n") + "\n", expected);
    assert!(text.contains(
        "# HELP namedprocess_namegroup_cpu_seconds_total Cpu user usage in seconds\n\
         # TYPE namedprocess_namegroup_cpu_seconds_total counter\n"
    ));
    assert!(host.logged().is_empty(), "{:?}", host.logged());
}

#[test]
fn config_errors_fail_the_collection() {
    for (config, message) in [
        (r#"{"proceses": true}"#, "unknown field `proceses`"),
        (
            r#"{"process_names": [{"name": "x"}]}"#,
            "process_names[0]: no matchers provided",
        ),
        (
            r#"{"process_names": [{"comm": ["a"], "cmdline": ["("]}]}"#,
            "process_names[0]: bad cmdline regex",
        ),
        (
            r#"{"process_names": [{"comm": ["a"], "user": "x"}]}"#,
            "unknown field `user`",
        ),
    ] {
        let err = collect_text::<Process>(&live(), config).unwrap_err();
        assert!(err.to_string().contains(message), "{config}: {err}");
    }
}
