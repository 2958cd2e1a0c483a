//! The textfile collector, run natively through the SDK harness: on node_exporter's own e2e
//! files (its output must match) and on scratch rootfs trees for everything else.

use sonde_plugin_textfile::Textfile;
use sonde_sdk::testing::{Fixture, Tree, collect_text, diff_families, sample_lines};
use sonde_sdk::{Level, Root};
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// The modification time every file of a [`scratch`] tree gets: `node_textfile_mtime_seconds` gives it
/// in whole seconds, `1.7e+09`.
const MTIME: Duration = Duration::from_millis(1_700_000_000_750);

/// A scratch rootfs with the given files (a name ending in `/` is an empty directory), each
/// modified at [`MTIME`].
fn scratch(name: &str, files: &[(&str, &str)]) -> Tree {
    let tree = Tree::new(&format!("textfile-{name}"));
    for (path, content) in files {
        if path.ends_with('/') {
            tree.dir(path);
        } else {
            tree.file(path, content);
            std::fs::File::options()
                .write(true)
                .open(tree.join(path))
                .unwrap()
                .set_modified(UNIX_EPOCH + MTIME)
                .unwrap();
        }
    }
    tree
}

/// Runs the collector with `directory` (a JSON value) on `tree` as the rootfs.
fn collect(tree: &Tree, directory: &str) -> (String, Vec<(Level, String)>) {
    let host = Fixture::new().root(Root::Rootfs, tree.path()).host();
    let config = format!("{{\"directory\": {directory}}}");
    let text = collect_text::<Textfile>(&host, &config).unwrap();
    (text, host.logged())
}

#[test]
fn matches_node_exporter_on_its_own_fixture() {
    // node_exporter ran with --collector.textfile.directory=collector/fixtures/textfile/
    // two_metric_files/ from its repository root; the path shows in the HELP texts.
    let source = fixtures().join("node-exporter/textfile/two_metric_files");
    let contents: Vec<(String, String)> = std::fs::read_dir(&source)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (
                format!("collector/fixtures/textfile/two_metric_files/{name}"),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    let files: Vec<(&str, &str)> = contents
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    assert_eq!(files.len(), 3, "two .prom files and one that is ignored");
    let tree = scratch("e2e", &files);
    let (ours, logged) = collect(&tree, "\"collector/fixtures/textfile/two_metric_files/\"");
    assert!(logged.is_empty(), "{logged:?}");
    let theirs = std::fs::read_to_string(fixtures().join("node-exporter/e2e-output.txt")).unwrap();
    // node_exporter's e2e output keeps the HELP and TYPE of node_textfile_mtime_seconds but not
    // its samples, which depend on when the files were checked out.
    let without_mtimes: String = ours
        .lines()
        .filter(|l| !l.starts_with("node_textfile_mtime_seconds{"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        diff_families(&without_mtimes, &theirs),
        Vec::<String>::new()
    );
    assert_eq!(
        sample_lines(&ours),
        [
            "node_textfile_mtime_seconds{file=\"collector/fixtures/textfile/two_metric_files/metrics1.prom\"} 1.7e+09",
            "node_textfile_mtime_seconds{file=\"collector/fixtures/textfile/two_metric_files/metrics2.prom\"} 1.7e+09",
            "node_textfile_scrape_error 0",
            "testmetric1_1{foo=\"bar\"} 10",
            "testmetric1_2{foo=\"baz\"} 20",
            "testmetric2_1{foo=\"bar\"} 30",
            "testmetric2_2{foo=\"baz\"} 40",
        ]
    );
    assert!(ours.contains(
        "# HELP testmetric1_1 Metric read from collector/fixtures/textfile/two_metric_files/metrics1.prom\n"
    ));
}

#[test]
fn without_a_directory_only_the_error_gauge() {
    let tree = scratch("default", &[("x.prom", "x 1\n")]);
    let host = Fixture::new().root(Root::Rootfs, tree.path()).host();
    let text = collect_text::<Textfile>(&host, "").unwrap();
    assert_eq!(
        text,
        "# HELP node_textfile_scrape_error 1 if there was an error opening or reading a file, 0 otherwise\n\
         # TYPE node_textfile_scrape_error gauge\nnode_textfile_scrape_error 0\n"
    );
    assert!(host.logged().is_empty());
}

#[test]
fn a_missing_directory_is_an_error() {
    let tree = scratch("missing", &[]);
    let (text, logged) = collect(&tree, "\"/var/lib/prometheus/node-exporter\"");
    assert_eq!(sample_lines(&text), ["node_textfile_scrape_error 1"]);
    assert_eq!(
        logged,
        [(
            Level::Warn,
            "textfile: failed to read directory \"/var/lib/prometheus/node-exporter\": not found"
                .to_owned()
        )]
    );
}

#[test]
fn bad_files_are_skipped_whole_and_flagged() {
    let tree = scratch(
        "bad",
        &[
            (
                "d/a.prom",
                "# HELP good Good.\n# TYPE good gauge\ngood{x=\"1\"} 1\ngood 2\n",
            ),
            ("d/b.prom", "stamped 1 1700000000000\n"),
            ("d/c.prom", "broken{ 1\n"),
            ("d/d.prom", "reserved{__x=\"1\"} 1\n"),
            ("d/e.prom", "no_newline 1"),
            ("d/f.prom/", ""),
            ("d/g.txt", "ignored{ 1\n"),
        ],
    );
    let (text, logged) = collect(&tree, "\"/d\"");
    assert_eq!(
        sample_lines(&text),
        [
            "good{x=\"\"} 2",
            "good{x=\"1\"} 1",
            "node_textfile_mtime_seconds{file=\"/d/a.prom\"} 1.7e+09",
            "node_textfile_scrape_error 1"
        ]
    );
    let messages: Vec<&str> = logged.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(
        messages,
        [
            "textfile: textfile \"/d/b.prom\" contains unsupported client-side timestamps, skipping entire file",
            "textfile: failed to parse textfile data from \"/d/c.prom\": text format parsing error in line 1: invalid label name for metric \"broken\"",
            "textfile: textfile \"/d/d.prom\" uses the reserved label name \"__x\"",
            "textfile: failed to parse textfile data from \"/d/e.prom\": text format parsing error in line 1: unexpected end of input stream",
            "textfile: failed to open textfile data file \"/d/f.prom\": Is a directory (os error 21)",
        ]
    );
}

#[test]
fn families_across_files_help_and_duplicates() {
    let tree = scratch(
        "merge",
        &[
            (
                "t/1.prom",
                "shared{f=\"1\"} 1\n# HELP helped First.\nhelped 1\ndup 1\n",
            ),
            (
                "t/2.prom",
                "shared{f=\"2\"} 2\n# HELP helped Second.\nhelped{x=\"y\"} 2\ndup 2\n",
            ),
        ],
    );
    let (text, logged) = collect(&tree, "\"t\"");
    let expected = "\
# HELP dup Metric read from t/1.prom, t/2.prom
# TYPE dup untyped
dup 1
# HELP helped First.
# TYPE helped untyped
helped 1
# HELP node_textfile_mtime_seconds Unixtime mtime of textfiles successfully read.
# TYPE node_textfile_mtime_seconds gauge
node_textfile_mtime_seconds{file=\"t/1.prom\"} 1.7e+09
node_textfile_mtime_seconds{file=\"t/2.prom\"} 1.7e+09
# HELP node_textfile_scrape_error 1 if there was an error opening or reading a file, 0 otherwise
# TYPE node_textfile_scrape_error gauge
node_textfile_scrape_error 1
# HELP shared Metric read from t/1.prom, t/2.prom
# TYPE shared untyped
shared{f=\"1\"} 1
shared{f=\"2\"} 2
";
    assert_eq!(text, expected);
    let messages: Vec<&str> = logged.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(
        messages,
        [
            "textfile: inconsistent HELP for helped in \"t/2.prom\": \"Second.\", first \"First.\"",
            "textfile: dropping 1 duplicate samples of dup",
        ]
    );
}

#[test]
fn summaries_and_histograms() {
    let tree = scratch(
        "summary",
        &[(
            "s/x.prom",
            "# HELP rpc_seconds RPC latency.\n# TYPE rpc_seconds summary\n\
             rpc_seconds{quantile=\"0.5\"} 0.2\nrpc_seconds_sum 9\nrpc_seconds_count 30\n\
             # TYPE size_bytes histogram\nsize_bytes_bucket{le=\"100\"} 3\nsize_bytes_sum 250\n\
             size_bytes_count 4\n",
        )],
    );
    let (text, logged) = collect(&tree, "\"s\"");
    assert!(logged.is_empty(), "{logged:?}");
    assert_eq!(
        sample_lines(&text),
        [
            "node_textfile_mtime_seconds{file=\"s/x.prom\"} 1.7e+09",
            "node_textfile_scrape_error 0",
            "rpc_seconds{quantile=\"0.5\"} 0.2",
            "rpc_seconds_count 30",
            "rpc_seconds_sum 9",
            "size_bytes_bucket{le=\"+Inf\"} 4",
            "size_bytes_bucket{le=\"100\"} 3",
            "size_bytes_count 4",
            "size_bytes_sum 250",
        ]
    );
    assert!(text.contains("# HELP rpc_seconds_sum RPC latency.\n# TYPE rpc_seconds_sum untyped\n"));
}

#[test]
fn globs_and_several_directories() {
    let tree = scratch(
        "glob",
        &[
            ("var/lib/a/x.prom", "from_a 1\n"),
            ("var/lib/b/x.prom", "from_b 1\n"),
            ("var/lib/c.d/x.prom", "from_c 1\n"),
            ("opt/extra/y.prom", "from_extra 1\n"),
        ],
    );
    let (text, logged) = collect(&tree, "[\"/var/lib/[ab]\", \"opt/*\"]");
    assert!(logged.is_empty(), "{logged:?}");
    assert_eq!(
        sample_lines(&text),
        [
            "from_a 1",
            "from_b 1",
            "from_extra 1",
            "node_textfile_mtime_seconds{file=\"/var/lib/a/x.prom\"} 1.7e+09",
            "node_textfile_mtime_seconds{file=\"/var/lib/b/x.prom\"} 1.7e+09",
            "node_textfile_mtime_seconds{file=\"opt/extra/y.prom\"} 1.7e+09",
            "node_textfile_scrape_error 0"
        ]
    );
    assert!(text.contains("# HELP from_b Metric read from /var/lib/b/x.prom\n"));
    assert!(text.contains("# HELP from_extra Metric read from opt/extra/y.prom\n"));
    // A pattern that matches nothing is tried as a directory name, which does not exist.
    let (text, _) = collect(&tree, "\"/var/lib/z*\"");
    assert_eq!(sample_lines(&text), ["node_textfile_scrape_error 1"]);
}
