//! The nfs collector on trees built here: hosts without NFS, malformed and unknown lines,
//! hostile export and mount point names, missing files.

use sonde_plugin_nfs::Nfs;
use sonde_sdk::testing::{Fixture, Tree, collect_text, family_lines, family_names};
use sonde_sdk::{Host, Level, Root};
use std::path::Path;

const ALL: &str = r#"{"mountstats": {"enabled": true}}"#;

/// A proc tree: `files` written below it, and `self -> 1` as on a real host.
fn tree(files: &[(&str, &[u8])]) -> Tree {
    let tree = Tree::new("nfs");
    tree.dir("1").link("self", "1").files(files);
    tree
}

fn fixture(dir: &Path) -> Host {
    Fixture::new().root(Root::Proc, dir).host()
}

/// A series: family name, labels, value.
type Series = (String, Vec<(String, String)>, f64);

/// Parses the exposition back (it must be valid) and returns its series.
fn parse_back(text: &str) -> Vec<Series> {
    let families = sonde_textformat::parse(text.as_bytes()).expect("valid exposition");
    let mut out = Vec::new();
    for family in families {
        for metric in family.metrics {
            let sonde_textformat::Value::Single(value) = metric.value else {
                panic!("unexpected {:?}", metric.value);
            };
            out.push((family.name.clone(), metric.labels, value));
        }
    }
    out
}

#[test]
fn a_host_without_nfs_gives_nothing_and_logs_nothing() {
    // No net/rpc at all, no mountstats.
    let dir = tree(&[]);
    let host = fixture(dir.path());
    assert_eq!(collect_text::<Nfs>(&host, ALL).unwrap(), "");
    assert!(host.logged().is_empty());
    // mountstats without an NFS mount: mountinfo is not even needed.
    let dir = tree(&[(
        "1/mountstats",
        b"device rootfs mounted on / with fstype rootfs\ndevice proc mounted on /proc with fstype proc\n",
    )]);
    let host = fixture(dir.path());
    assert_eq!(collect_text::<Nfs>(&host, ALL).unwrap(), "");
    assert!(host.logged().is_empty());
}

fn proc_line(key: &str, count: usize, first: u64) -> String {
    let values: Vec<String> = (0..count as u64).map(|i| (first + i).to_string()).collect();
    format!("{key} {count} {}\n", values.join(" "))
}

#[test]
fn nfs_client_keeps_good_sections_skips_bad_ones_ignores_unknown_ones() {
    let mut text = String::from("net 1 2 3 4\nrpc 1 x 3\n");
    text += &proc_line("proc3", 22, 100);
    // An older kernel's shorter proc4 line: the missing operations read 0, as in procfs.
    text += &proc_line("proc4", 30, 1000);
    // Unknown to procfs (which fails the file on it): ignored.
    text += &proc_line("proc5", 3, 1);
    let dir = tree(&[("net/rpc/nfs", text.as_bytes())]);
    let host = fixture(dir.path());
    let out = collect_text::<Nfs>(&host, "").unwrap();
    assert_eq!(
        family_names(&out),
        [
            "node_nfs_connections_total",
            "node_nfs_packets_total",
            "node_nfs_requests_total"
        ]
    );
    assert!(out.contains("node_nfs_packets_total{protocol=\"tcp\"} 3\n"));
    let requests = family_lines(&out, "node_nfs_requests_total");
    // proc2 is absent: zeros, as node_exporter reports it; proc4 padded to 59.
    assert_eq!(requests.len(), 18 + 22 + 59);
    assert!(requests.contains(&"node_nfs_requests_total{method=\"Null\",proto=\"2\"} 0"));
    assert!(requests.contains(&"node_nfs_requests_total{method=\"Commit\",proto=\"3\"} 121"));
    assert!(requests.contains(&"node_nfs_requests_total{method=\"Null\",proto=\"4\"} 1000"));
    assert!(requests.contains(&"node_nfs_requests_total{method=\"Clone\",proto=\"4\"} 0"));
    assert_eq!(
        host.logged(),
        [(
            Level::Warn,
            "nfs: /proc/net/rpc/nfs: 1 malformed line skipped: line 2: rpc: invalid integer \"x\""
                .to_owned()
        )]
    );
}

#[test]
fn nfsd_on_an_empty_file_reports_zeros_as_node_exporter_does() {
    let dir = tree(&[("net/rpc/nfsd", b"")]);
    let host = fixture(dir.path());
    let out = collect_text::<Nfs>(&host, "").unwrap();
    assert_eq!(family_names(&out).len(), 14);
    assert_eq!(
        family_lines(&out, "node_nfsd_requests_total").len(),
        17 + 21 + 35 + 1
    );
    assert!(parse_back(&out).iter().all(|(_, _, v)| *v == 0.0), "{out}");
    assert!(host.logged().is_empty());
}

#[test]
fn nfsd_malformed_sections_are_left_out_and_named() {
    let text =
        "rc 1 2\nth 8 0 0.000 0.000\nio 5 6\nproc4ops 5 1 2 3 4 5\nwdeleg_getattr 7\nfuture 1\n";
    let dir = tree(&[("net/rpc/nfsd", text.as_bytes())]);
    let host = fixture(dir.path());
    let out = collect_text::<Nfs>(&host, "").unwrap();
    let names = family_names(&out);
    assert!(!names.contains(&"node_nfsd_reply_cache_hits_total"));
    assert!(out.contains("node_nfsd_server_threads 8\n"));
    assert!(out.contains("node_nfsd_disk_bytes_written_total 6\n"));
    let requests = family_lines(&out, "node_nfsd_requests_total");
    assert_eq!(requests.len(), 17 + 21 + 1);
    assert!(requests.contains(&"node_nfsd_requests_total{method=\"WdelegGetattr\",proto=\"4\"} 7"));
    let logged = host.logged();
    assert_eq!(logged.len(), 1);
    assert!(
        logged[0]
            .1
            .starts_with("nfsd: /proc/net/rpc/nfsd: 2 malformed lines skipped, first line 1: rc: 2 columns, expected 3"),
        "{logged:?}"
    );
}

/// 27 event counters.
fn events() -> String {
    let v: Vec<String> = (1..=27).map(|i| i.to_string()).collect();
    v.join(" ")
}

fn hostile_mountstats() -> Vec<u8> {
    let tcp = "\txprt:\ttcp 0 1 2 3 4 5 6 7 8 9 10 11 12\n";
    let mut s: Vec<u8> = Vec::new();
    s.extend_from_slice(b"device rootfs mounted on / with fstype rootfs\n");
    // The kernel escapes space, tab, newline and backslash; a quote comes as it is.
    s.extend_from_slice(
        b"device srv:/a\\040b\\134c\"q\\012 mounted on /mnt/we\\040\"ird\\134 with fstype nfs statvers=1.1\n",
    );
    s.extend_from_slice(b"\topts:\trw,vers=3\n\tage:\t10\n");
    s.extend_from_slice(format!("\tevents:\t{}\n", events()).as_bytes());
    s.extend_from_slice(
        b"\tbytes:\t1 2 3 4 5 6 7 8\n\tRPC iostats version: 1.0  p/v: 100003/3 (nfs)\n",
    );
    s.extend_from_slice(tcp.as_bytes());
    s.extend_from_slice(
        b"\tper-op statistics\n\t        NULL: 0 0 0 0 0 0 0 0\n\t     GETATTR: 1 1 0 100 200 3000 4 5 0\n\t     GETATTR: 9 9 9 9 9 9 9 9\n\t   FUTURE_OP: 1 2 3 4 5 6 7 8\n\n",
    );
    // Invalid UTF-8 in the export: one U+FFFD per run.
    s.extend_from_slice(
        b"device srv\xff\xfe:/bad mounted on /mnt/x with fstype nfs4 statvers=1.1\n\tage:\t5\n",
    );
    s.extend_from_slice(tcp.as_bytes());
    s.extend_from_slice(b"\tper-op statistics\n\t        READ: 1 2 3 4 5 6 7 8\n\n");
    // An unknown statistics version: left out, named.
    s.extend_from_slice(
        b"device srv:/v12 mounted on /mnt/v12 with fstype nfs statvers=1.2\n\tage:\t5\n",
    );
    s.extend_from_slice(tcp.as_bytes());
    s.extend_from_slice(b"\tper-op statistics\n\t        READ: 1 2 3 4 5 6 7 8\n\n");
    // A malformed bytes line: left out.
    s.extend_from_slice(
        b"device srv:/bb mounted on /mnt/bb with fstype nfs statvers=1.1\n\tbytes:\t1 2 x\n",
    );
    s.extend_from_slice(tcp.as_bytes());
    s.extend_from_slice(b"\n");
    // Statistics of a filesystem procfs does not read: skipped silently.
    s.extend_from_slice(
        b"device fs mounted on /mnt/f with fstype fuse.x statvers=1.0\n\tsomething: 1\n\n",
    );
    // A truncated device line.
    s.extend_from_slice(b"device truncated mounted\n");
    s
}

fn hostile_mountinfo() -> Vec<u8> {
    let mut s: Vec<u8> = Vec::new();
    s.extend_from_slice(b"1 1 0:5 / / rw - rootfs rootfs rw\n");
    s.extend_from_slice(
        b"2 1 0:40 / /mnt/we\\040\"ird\\134 rw - nfs srv:/a rw,vers=3,addr=10.0.0.1\n",
    );
    s.extend_from_slice(b"3 1 0:41 / /mnt/x rw - nfs4 srv:/bad rw,addr=10.0.0.2\n");
    s.extend_from_slice(b"4 1 0:42 / /mnt/v12 rw - nfs srv:/v12 rw,addr=10.0.0.3\n");
    s.extend_from_slice(b"5 1 0:43 / /mnt/bb rw - nfs srv:/bb rw,addr=10.0.0.4\n");
    s
}

#[test]
fn mountstats_with_hostile_names_and_malformed_mounts() {
    let dir = tree(&[
        ("1/mountstats", &hostile_mountstats()),
        ("1/mountinfo", &hostile_mountinfo()),
    ]);
    let host = fixture(dir.path());
    let out = collect_text::<Nfs>(&host, ALL).unwrap();
    let series = parse_back(&out);
    // Two mounts: 35 per-mount series, 1 info, 10 transport, 8 per operation (3 and 1).
    assert_eq!(
        series.len(),
        (35 + 1 + 10 + 3 * 8) + (35 + 1 + 10 + 8),
        "{out}"
    );
    assert_eq!(family_names(&out).len(), 54);

    // Names as the kernel wrote them, escapes and quote included; decoded from the exposition.
    let export = "srv:/a\\040b\\134c\"q\\012";
    let info: Vec<_> = series
        .iter()
        .filter(|(name, _, _)| name == "node_mountstats_nfs_mountpoint_info")
        .collect();
    assert_eq!(info.len(), 2);
    let labels = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        info[0].1,
        labels(&[
            ("export", export),
            ("mountaddr", "10.0.0.1"),
            ("mountpoint", "/mnt/we\\040\"ird\\134"),
            ("protocol", "tcp"),
        ])
    );
    assert_eq!(
        info[1].1,
        labels(&[
            ("export", "srv\u{FFFD}:/bad"),
            ("mountaddr", "10.0.0.2"),
            ("mountpoint", "/mnt/x"),
            ("protocol", "tcp"),
        ])
    );
    // The first of a duplicated operation; an unknown one reported like the others; times in
    // seconds.
    let value = |name: &str, op: &str| {
        series
            .iter()
            .find(|(n, l, _)| {
                n == name
                    && l.iter().any(|(k, v)| k == "export" && v == export)
                    && l.iter().any(|(k, v)| k == "operation" && v == op)
            })
            .map(|(_, _, v)| *v)
    };
    assert_eq!(
        value("node_mountstats_nfs_operations_requests_total", "GETATTR"),
        Some(1.0)
    );
    assert_eq!(
        value(
            "node_mountstats_nfs_operations_queue_time_seconds_total",
            "GETATTR"
        ),
        Some(3.0)
    );
    assert_eq!(
        value("node_mountstats_nfs_operations_requests_total", "FUTURE_OP"),
        Some(1.0)
    );
    // Transport columns of tcp 1.1, event 19 (truncation) after the unreported column 18.
    assert!(out.contains(&format!(
        "node_mountstats_nfs_transport_idle_time_seconds{{export=\"{}\",mountaddr=\"10.0.0.1\",protocol=\"tcp\",transport=\"0\"}} 4\n",
        export.replace('\\', "\\\\").replace('"', "\\\"")
    )));
    assert!(out.contains("node_mountstats_nfs_event_truncation_total{export=\"srv\u{FFFD}:/bad\",mountaddr=\"10.0.0.2\",protocol=\"tcp\"} 0\n"));
    let truncation = series
        .iter()
        .find(|(n, l, _)| n == "node_mountstats_nfs_event_truncation_total" && l[0].1 == export)
        .unwrap();
    assert_eq!(truncation.2, 20.0);

    let logged = host.logged();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0].1.starts_with(
            "mountstats: /proc/self/mountstats: 3 malformed lines skipped, first line 23: srv:/v12: xprt: unknown statistics version \"1.2\""
        ),
        "{logged:?}"
    );
}

#[test]
fn mountstats_without_mountinfo_fails_with_the_file_named() {
    let dir = tree(&[("1/mountstats", &hostile_mountstats())]);
    let host = fixture(dir.path());
    let err = collect_text::<Nfs>(&host, ALL).unwrap_err();
    assert!(err.to_string().contains("/proc/self/mountinfo"), "{err}");
}

#[test]
fn a_malformed_mountinfo_line_leaves_the_address_empty_and_is_named() {
    // Line 2 (the first NFS mount's) gets a field too many at its start.
    let mut info = hostile_mountinfo();
    let second = info.iter().position(|&b| b == b'\n').unwrap() + 1;
    info.splice(second..second, b"x ".iter().copied());
    let dir = tree(&[
        ("1/mountstats", &hostile_mountstats()),
        ("1/mountinfo", &info),
    ]);
    let host = fixture(dir.path());
    let out = collect_text::<Nfs>(&host, ALL).unwrap();
    assert!(out.contains("mountaddr=\"\",mountpoint=\"/mnt/we"), "{out}");
    assert!(out.contains("mountaddr=\"10.0.0.2\""));
    let logged = host.logged();
    assert_eq!(logged.len(), 1);
    assert!(
        logged[0]
            .1
            .contains("; /proc/self/mountinfo: 1 malformed line skipped: line 2: mountinfo: malformed major:minor"),
        "{logged:?}"
    );
}
