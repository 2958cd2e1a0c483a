//! The zfs collector on trees built here: a host without ZFS, hostile pool and dataset names,
//! malformed kstat files, missing files, and a host with thousands of datasets.

use sonde_plugin_zfs::Zfs;
use sonde_plugin_zfs::zfs::{self, Source};
use sonde_sdk::testing::{Fixture, Instance, Tree, collect_text, family_lines, family_names};
use sonde_sdk::{DirEntry, FsError, Host, MetricFamily, Root};
use std::cell::Cell;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A named kstat file of `rows` (`name type data`).
fn named(rows: &[(&str, &str, &str)]) -> String {
    let mut text = String::from("6 1 0x01 91 4368 5266997922 97951858082072\nname type data\n");
    for (name, kind, data) in rows {
        text.push_str(&format!("{name:<32}{kind:<5}{data}\n"));
    }
    text
}

/// An objset file for `dataset` (raw bytes, any name).
fn objset(dataset: &[u8], writes: u64) -> Vec<u8> {
    let mut text = b"23 1 0x01 7 2160 221578688875 6665999035587\nname type data\n".to_vec();
    text.extend_from_slice(b"dataset_name                    7    ");
    text.extend_from_slice(dataset);
    text.extend_from_slice(
        format!(
            "\nwrites 4 {writes}\nnwritten 4 {}\nreads 4 2\nnread 4 28\nnunlinks 4 3\nnunlinked 4 3\n",
            writes * 4096
        )
        .as_bytes(),
    );
    text
}

const IO: &str = "12 3 0x00 1 80 79205351707403 395818011156865\n\
    nread    nwritten reads    writes   wtime    wlentime wupdate  rtime    rlentime rupdate  wcnt     rcnt\n\
    1884160  3206144  22       132      7155162  104112268 79210489694949 24168078 104112268 79210489849220 0        0\n";

/// The host, counting the calls the collector makes.
struct Counting<'a> {
    host: &'a Host,
    calls: Cell<usize>,
}

impl<'a> Counting<'a> {
    fn new(host: &'a Host) -> Self {
        Counting {
            host,
            calls: Cell::new(0),
        }
    }
}

impl Source for Counting<'_> {
    fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        self.calls.set(self.calls.get() + 1);
        self.host.read_dir(Root::Proc, path)
    }

    fn read_many(&self, paths: &[String]) -> Vec<Result<Vec<u8>, FsError>> {
        self.calls.set(self.calls.get() + 1);
        self.host.read_many(Root::Proc, paths)
    }
}

/// Collects through `Counting`: the families (unsorted), the error, and the number of calls.
fn counted(host: &Host) -> (Vec<MetricFamily>, Result<(), String>, usize) {
    let source = Counting::new(host);
    let mut out = Vec::new();
    let result = zfs::collect_from(&source, &mut out).map_err(|e| e.to_string());
    (out, result, source.calls.get())
}

/// Every sample line parses back, and the text has exactly `families` families.
fn parses_back(text: &str) -> Vec<sonde_textformat::Family> {
    sonde_textformat::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e:?}\n{text}"))
}

#[test]
fn a_host_without_zfs_costs_one_call_and_says_nothing() {
    let tree = Tree::new("zfs-none");
    tree.file(b"meminfo", "MemTotal: 1 kB\n");
    let host = tree.serve(&[Root::Proc]).host();
    assert_eq!(collect_text::<Zfs>(&host, "").unwrap(), "");
    assert!(host.logged().is_empty());
    let (out, result, calls) = counted(&host);
    assert!(out.is_empty() && result.is_ok());
    assert_eq!(calls, 1);

    // The SPL loaded without ZFS: the same.
    tree.file(b"spl/kstat/spl/taskq", "x\n");
    let (out, result, calls) = counted(&host);
    assert!(out.is_empty() && result.is_ok());
    assert_eq!(calls, 1);

    // The module loaded, nothing in its directory yet: one listing, no read.
    tree.dir("spl/kstat/zfs");
    let (out, result, calls) = counted(&host);
    assert!(out.is_empty() && result.is_ok());
    assert_eq!(calls, 1);
    assert_eq!(collect_text::<Zfs>(&host, "").unwrap(), "");
    assert!(host.logged().is_empty());
}

#[test]
fn disabled_or_misconfigured() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/node-exporter");
    let host = Fixture::new().root(Root::Proc, dir.join("proc")).host();
    assert_eq!(
        collect_text::<Zfs>(&host, r#"{"zfs": {"enabled": false}}"#).unwrap(),
        ""
    );
    assert!(Instance::<Zfs>::new(r#"{"zfs": {"enabled": true, "x": 1}}"#).is_err());
    assert!(Instance::<Zfs>::new(r#"{"arc": {}}"#).is_err());
    assert!(
        !collect_text::<Zfs>(&host, r#"{"zfs": {}}"#)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn hostile_pool_and_dataset_names() {
    let tree = Tree::new("zfs-hostile");
    let pool: &[u8] = b"we\"ird\\pool\nname";
    let dir = |file: &str| [b"spl/kstat/zfs/", pool, b"/", file.as_bytes()].concat();
    tree.file(dir("io"), IO)
        .file(dir("state"), "DEGRADED\n")
        // A dataset name is one line of its file: it cannot hold a newline.
        .file(dir("objset-0x36"), objset(b"we\"ird\\pool", 1))
        .file(
            dir("objset-0x37"),
            objset(b"we\"ird\\pool/a \"quoted\" \\ds\xff\xfe end ", 2),
        )
        // A pool directory whose name is not UTF-8: its files cannot be named through the host.
        .file(b"spl/kstat/zfs/bad\xffpool/state", "ONLINE\n")
        .file(
            b"spl/kstat/zfs/bad\xffpool/objset-0x1",
            objset(b"bad\xffpool", 1),
        );
    let host = tree.serve(&[Root::Proc]).host();
    let text = collect_text::<Zfs>(&host, "").unwrap();
    let zpool = r#"zpool="we\"ird\\pool\nname""#;
    assert_eq!(
        family_lines(&text, "node_zfs_zpool_dataset_writes"),
        [
            format!(r#"node_zfs_zpool_dataset_writes{{dataset="we\"ird\\pool",{zpool}}} 1"#),
            format!(
                "node_zfs_zpool_dataset_writes{{dataset=\"we\\\"ird\\\\pool/a \\\"quoted\\\" \\\\ds\u{FFFD} end \",{zpool}}} 2"
            ),
        ]
    );
    assert!(
        family_lines(&text, "node_zfs_zpool_state")
            .contains(&format!(r#"node_zfs_zpool_state{{state="degraded",{zpool}}} 1"#).as_str())
    );
    assert_eq!(
        family_lines(&text, "node_zfs_zpool_nread"),
        [format!("node_zfs_zpool_nread{{{zpool}}} 1.88416e+06")]
    );
    let families = parses_back(&text);
    assert_eq!(families.len(), 12 + 6 + 1);
    let writes = families
        .iter()
        .find(|f| f.name == "node_zfs_zpool_dataset_writes")
        .unwrap();
    assert_eq!(
        writes.metrics[1].labels,
        [
            (
                "dataset".to_owned(),
                "we\"ird\\pool/a \"quoted\" \\ds\u{FFFD} end ".to_owned()
            ),
            ("zpool".to_owned(), "we\"ird\\pool\nname".to_owned()),
        ]
    );
    assert_eq!(
        host.logged()
            .iter()
            .map(|(_, m)| m.as_str())
            .collect::<Vec<_>>(),
        ["zfs: /proc/spl/kstat/zfs/bad\u{FFFD}pool: the pool name is not valid UTF-8, skipped"]
    );
}

#[test]
fn malformed_kstat_lines_are_left_out_and_named() {
    let tree = Tree::new("zfs-malformed");
    tree.file(
        b"spl/kstat/zfs/arcstats",
        named(&[
            ("hits", "4", "10"),
            ("misses", "4", "x"),             // not a number
            ("short", "4", ""),               // two columns
            ("extra", "4", "1 2"),            // four columns
            ("negative", "4", "-1"),          // unsigned with a sign
            ("signed", "3", "-5"),            // INT64
            ("text", "7", "some string"),     // a string: left out, as node_exporter does
            ("small", "2", "5"),              // UINT32: left out, as node_exporter does
            ("future", "11", "5"),            // no kstat type
            ("hits", "4", "11"),              // the same name again
            ("odd-name", "4", "3"),           // `-` made `_`
            ("odd_name", "4", "4"),           // the same metric name, another statistic
            ("ünicode", "4", "1"),            // no valid metric name
            ("", "", ""),                     // an empty line
        ]),
    )
    .file(b"spl/kstat/zfs/zil", "no header\nzil_commit_count 4 10\n")
    .file(b"spl/kstat/zfs/fm", "")
    .file(b"spl/kstat/zfs/dmu_tx", named(&[("dmu_tx_assigned", "4", "7")]))
    // Missing: all the other kstat files.
    ;
    let host = tree.serve(&[Root::Proc]).host();
    let text = collect_text::<Zfs>(&host, "").unwrap();
    assert_eq!(
        family_names(&text),
        [
            "node_zfs_arc_hits",
            "node_zfs_arc_odd_name",
            "node_zfs_arc_signed",
            "node_zfs_dmu_tx_dmu_tx_assigned",
        ]
    );
    assert!(text.contains("# HELP node_zfs_arc_odd_name kstat.zfs.misc.arcstats.odd-name\n"));
    assert!(text.contains("\nnode_zfs_arc_hits 10\n"));
    assert!(text.contains("\nnode_zfs_arc_signed -5\n"));
    assert!(text.contains("\nnode_zfs_arc_odd_name 3\n"));
    parses_back(&text);
    let logged = host.logged();
    assert_eq!(logged.len(), 1);
    assert_eq!(
        logged[0].1,
        "zfs: /proc/spl/kstat/zfs/arcstats: 8 malformed lines skipped, first line 5: \
         2 columns, expected 3; /proc/spl/kstat/zfs/fm: no \"name type data\" header; \
         /proc/spl/kstat/zfs/zil: no \"name type data\" header"
    );
}

#[test]
fn malformed_and_missing_pool_files() {
    let tree = Tree::new("zfs-pools");
    tree
        // Only a state file.
        .file(b"spl/kstat/zfs/p1/state", "online")
        // An io file whose data line is short, an objset without dataset_name.
        .file(
            b"spl/kstat/zfs/p2/io",
            "nread nwritten reads writes wtime wlentime wupdate rtime rlentime rupdate wcnt rcnt\n1 2 3\n",
        )
        .file(b"spl/kstat/zfs/p2/objset-0x1", named(&[("writes", "4", "1")]))
        .file(b"spl/kstat/zfs/p2/state", "\n")
        // Two objsets naming the same dataset, a bad value, an io value that is no number.
        .file(b"spl/kstat/zfs/p3/objset-0x1", objset(b"p3/a", 1))
        .file(b"spl/kstat/zfs/p3/objset-0x2", objset(b"p3/a", 2))
        .file(
            b"spl/kstat/zfs/p3/objset-0x3",
            named(&[("dataset_name", "7", "p3/b"), ("writes", "4", "-1"), ("reads", "4", "9")]),
        )
        .file(
            b"spl/kstat/zfs/p3/io",
            "nread nwritten reads writes wtime wlentime wupdate rtime rlentime rupdate wcnt rcnt\n\
             1 2 3 4 5 6 7 8 9 10 11 x\n",
        )
        .file(b"spl/kstat/zfs/p3/state", "Faulted\n")
        // Files of a pool's directory node_exporter does not read.
        .file(b"spl/kstat/zfs/p3/txgs", "x\n")
        .file(b"spl/kstat/zfs/p3/iostats", "x\n")
        // An empty pool directory (being imported).
        .file(b"spl/kstat/zfs/p4/.keep", "");
    let host = tree.serve(&[Root::Proc]).host();
    let text = collect_text::<Zfs>(&host, "").unwrap();
    parses_back(&text);
    let state = family_lines(&text, "node_zfs_zpool_state");
    assert_eq!(state.len(), 3 * 7);
    assert!(state.contains(&r#"node_zfs_zpool_state{state="online",zpool="p1"} 1"#));
    assert!(state.contains(&r#"node_zfs_zpool_state{state="faulted",zpool="p3"} 1"#));
    assert_eq!(
        state.iter().filter(|l| l.ends_with(" 1")).count(),
        2,
        "p2's empty state is no state"
    );
    assert_eq!(
        family_lines(&text, "node_zfs_zpool_rcnt"),
        Vec::<&str>::new()
    );
    assert_eq!(
        family_lines(&text, "node_zfs_zpool_wcnt"),
        [r#"node_zfs_zpool_wcnt{zpool="p3"} 11"#]
    );
    assert_eq!(
        family_lines(&text, "node_zfs_zpool_dataset_writes"),
        [r#"node_zfs_zpool_dataset_writes{dataset="p3/a",zpool="p3"} 1"#]
    );
    assert_eq!(
        family_lines(&text, "node_zfs_zpool_dataset_reads"),
        [
            r#"node_zfs_zpool_dataset_reads{dataset="p3/a",zpool="p3"} 2"#,
            r#"node_zfs_zpool_dataset_reads{dataset="p3/b",zpool="p3"} 9"#,
        ]
    );
    let logged = host.logged();
    assert_eq!(logged.len(), 1);
    assert_eq!(
        logged[0].1,
        "zfs: /proc/spl/kstat/zfs/p2/io: 1 malformed line skipped: line 2: 3 values, expected 12; \
         /proc/spl/kstat/zfs/p2/objset-0x1: no dataset_name; \
         /proc/spl/kstat/zfs/p3/io: 1 malformed line skipped: line 2: invalid integer \"x\" for \"rcnt\" \
         (and 2 more files)"
    );
}

#[test]
fn thousands_of_datasets_in_few_host_calls() {
    const POOLS: usize = 5;
    const PER_POOL: usize = 1000;
    let begun = Instant::now();
    let tree = Tree::new("zfs-huge");
    let base = Path::new("spl/kstat/zfs");
    let arc = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/node-exporter/proc/spl/kstat/zfs/arcstats"),
    )
    .unwrap();
    tree.file(base.join("arcstats").as_os_str().as_bytes(), arc);
    for p in 0..POOLS {
        let pool = format!("tank{p}");
        tree.file(format!("spl/kstat/zfs/{pool}/io").as_bytes(), IO)
            .file(format!("spl/kstat/zfs/{pool}/state").as_bytes(), "ONLINE\n");
        let dir = tree.path().join(base).join(&pool);
        for d in 0..PER_POOL {
            let name = if d == 0 {
                pool.clone()
            } else {
                format!("{pool}/home/user{d}")
            };
            let file = dir.join(format!("objset-0x{:x}", 0x36 + d));
            std::fs::write(file, objset(name.as_bytes(), d as u64)).unwrap();
        }
    }
    let host = tree.serve(&[Root::Proc]).host();
    eprintln!("tree written in {:?}", begun.elapsed());

    let start = Instant::now();
    let (families, result, calls) = counted(&host);
    let elapsed = start.elapsed();
    result.unwrap();
    // One listing of the module's directory, one per pool, then the files in batches.
    let files = 1 + POOLS * (PER_POOL + 2);
    assert_eq!(calls, 1 + POOLS + files.div_ceil(zfs::BATCH));
    assert_eq!(calls, 11);
    let series: usize = families.iter().map(|f| f.samples.len()).sum();
    let datasets = POOLS * PER_POOL;
    assert_eq!(series, 92 + POOLS * (12 + 7) + datasets * 6);
    eprintln!(
        "{datasets} datasets: {series} series in {} families, {calls} host calls, collected in {elapsed:?}",
        families.len()
    );

    let start = Instant::now();
    let text = collect_text::<Zfs>(&host, "").unwrap();
    eprintln!(
        "through the harness (validated, sorted, rendered): {:?}",
        start.elapsed()
    );
    assert_eq!(
        family_lines(&text, "node_zfs_zpool_dataset_nwritten").len(),
        datasets
    );
    assert!(text.contains(
        "\nnode_zfs_zpool_dataset_nwritten{dataset=\"tank4/home/user999\",zpool=\"tank4\"} 4.091904e+06\n"
    ));
    assert!(host.logged().is_empty());
}
