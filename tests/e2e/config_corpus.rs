//! A corpus of broken configs: each gives one clear error naming the file, the line and the key,
//! with exit code 2, and `sonde check-config` and `sonde run` say the same.

use std::process::Command;

/// (what is wrong, config text, line of the error, text the message must contain)
const CORPUS: &[(&str, &str, usize, &str)] = &[
    (
        "syntax error",
        "[global\ninterval = \"10s\"\n",
        1,
        "unclosed table",
    ),
    (
        "unknown key",
        "[global]\nintervall = \"10s\"\n",
        2,
        "unknown field `intervall`",
    ),
    (
        "unknown section",
        "[globals]\n",
        1,
        "unknown field `globals`",
    ),
    (
        "wrong type",
        "[plugins.cpu]\nenabled = \"yes\"\n",
        2,
        "invalid type",
    ),
    (
        "bad duration",
        "[global]\ninterval = \"ten\"\n",
        2,
        "invalid duration",
    ),
    (
        "zero interval",
        "[global]\ninterval = \"0s\"\n",
        2,
        "[global] interval",
    ),
    (
        "bad size",
        "[plugins.net]\nmemory_limit = \"lots\"\n",
        2,
        "invalid size",
    ),
    (
        "bad regex",
        "[[relabel]]\nsource_labels = [\"a\"]\nregex = \"a(\"\n",
        1,
        "[[relabel]] regex",
    ),
    (
        "hashmod without modulus",
        "\n[[relabel]]\naction = \"hashmod\"\ntarget_label = \"s\"\n",
        2,
        "modulus",
    ),
    (
        "bad action",
        "[[relabel]]\naction = \"explode\"\n",
        2,
        "explode",
    ),
    (
        "bad url",
        "[[remote_write]]\nurl = \"not a url\"\n",
        1,
        "[[remote_write]] url",
    ),
    (
        "ftp url",
        "\n\n[[remote_write]]\nurl = \"ftp://x/y\"\n",
        3,
        "only http and https",
    ),
    (
        "bad listen address",
        "[http]\nlisten = \"everywhere\"\n",
        2,
        "[http] listen",
    ),
    (
        "bad log level",
        "[log]\nlevel = \"chatty\"\n",
        2,
        "[log] level",
    ),
    (
        "duplicate plugin table",
        "[plugins.cpu]\n[plugins.cpu]\n",
        2,
        "duplicate key `cpu`",
    ),
    (
        "duplicate key",
        "[global]\njob = \"a\"\njob = \"b\"\n",
        3,
        "duplicate key `job`",
    ),
    (
        "a grant prefix that leaves its root",
        "[plugins.cpu]\ngrants = [\"proc\", \"sys:../../etc\"]\n",
        2,
        "[plugins.cpu] grants: grant \"sys:../../etc\": the prefix must be a path inside the sys root",
    ),
    (
        "an unknown root in a grant",
        "\n[plugins.cpu]\ninterval = \"5s\"\ngrants = [\"gpu:card0\"]\n",
        4,
        "[plugins.cpu] grants: unknown grant \"gpu:card0\"",
    ),
    (
        "a timeout longer than the interval",
        "[global]\ninterval = \"2s\"\n[plugins.net]\ntimeout = \"5s\"\n",
        4,
        "[plugins.net] timeout: 5s is longer than the plugin's interval of 2s",
    ),
    (
        "an unknown key in a built-in's config table",
        "[plugins.mem]\nconfig = { meminfo = true, vmstats = false }\n",
        2,
        "[plugins.mem] config: unknown key `vmstats`",
    ),
    (
        "both auth kinds",
        "[[remote_write]]\nurl = \"http://x/\"\nbearer_token = \"t\"\nbasic_auth = { username = \"u\" }\n",
        1,
        "basic_auth",
    ),
    (
        // Two queues on one write-ahead log resent 16,953 delivered samples after a restart.
        "two endpoints with the same url",
        "[[remote_write]]\nurl = \"http://x/api/v1/write\"\n\n[[remote_write]]\nurl = \"http://x/api/v1/write\"\n",
        4,
        "[[remote_write]] url: the endpoint \"http://x/api/v1/write\" (line 1) has the same name",
    ),
    (
        // Duplicate names made /metrics invalid (a second HELP line).
        "two endpoints with the same name",
        "[[remote_write]]\nurl = \"http://a/\"\nname = \"df\"\n[[remote_write]]\nurl = \"http://b/\"\nname = \"df\"\n",
        4,
        "[[remote_write]] name: the endpoint \"df\" (line 1)",
    ),
    (
        "two endpoint names that make one directory name",
        "[[remote_write]]\nurl = \"http://a/\"\nname = \"deep flow\"\n[[remote_write]]\nurl = \"http://a/\"\nname = \"deep.flow\"\n",
        4,
        "would share a write-ahead log",
    ),
    (
        "unknown plugin",
        "[plugins.gpu]\nenabled = true\n",
        1,
        "[plugins.gpu]: no built-in plugin",
    ),
];

fn sonde(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sonde"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_broken_config_is_one_clear_error_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    for (what, text, line, needle) in CORPUS {
        let path = dir.path().join("sonde.toml");
        std::fs::write(&path, text).unwrap();
        let file = path.to_str().unwrap();
        let (check_code, check) = sonde(&["check-config", file]);
        let (run_code, run) = sonde(&["run", "--config", file]);
        assert_eq!(check_code, Some(2), "{what}: check-config: {check}");
        assert_eq!(run_code, Some(2), "{what}: run: {run}");
        let message = |stderr: &str| {
            stderr
                .lines()
                .find(|l| l.starts_with("error: "))
                .unwrap_or_default()
                .to_owned()
        };
        let (check, run) = (message(&check), message(&run));
        assert_eq!(check, run, "{what}: check-config and run disagree");
        assert!(
            check.contains(needle),
            "{what}: {check:?} should mention {needle:?}"
        );
        assert!(
            check.starts_with(&format!("error: {file}:{line}:")),
            "{what}: {check:?} should name {file}:{line}"
        );
    }
}

#[test]
fn a_missing_config_file_is_an_error_naming_it() {
    let (code, stderr) = sonde(&["check-config", "/nonexistent/sonde.toml"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("/nonexistent/sonde.toml: cannot read config"),
        "{stderr}"
    );
    let (code, _) = sonde(&["run", "--config", "/nonexistent/sonde.toml"]);
    assert_eq!(code, Some(2));
}

#[test]
fn invalid_utf8_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sonde.toml");
    std::fs::write(&path, b"[global]\njob = \"n\xffde\"\n").unwrap();
    let file = path.to_str().unwrap();
    for args in [vec!["check-config", file], vec!["run", "--config", file]] {
        let (code, stderr) = sonde(&args);
        assert_eq!(code, Some(2));
        assert!(
            stderr.contains(&format!("{file}:2:9: invalid UTF-8")),
            "{stderr}"
        );
    }
}

#[test]
fn a_plugin_that_does_not_load_stops_run_as_it_stops_check_config() {
    // Regression: check-config refused these, but `run` started with the other plugins.
    let dir = tempfile::tempdir().unwrap();
    let random = dir.path().join("random.wasm");
    std::fs::write(&random, [0x5a_u8; 64]).unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, wat::parse_str("(module)").unwrap()).unwrap();
    let misbehave = crate::support::test_plugin_path("misbehave");
    let cases = [
        (
            "a directory",
            format!("path = {:?}", dir.path()),
            "Is a directory",
        ),
        (
            "a missing file",
            format!("path = {:?}", dir.path().join("gone.wasm")),
            "No such file",
        ),
        (
            "random bytes",
            format!("path = {random:?}"),
            "not WebAssembly at all",
        ),
        (
            "a core module",
            format!("path = {core:?}"),
            "a core WebAssembly module",
        ),
        (
            "an ungranted need",
            format!("path = {misbehave:?}"),
            "is not granted proc",
        ),
        (
            "an unknown config key",
            format!("path = {misbehave:?}\ngrants = [\"proc\"]\nconfig = {{ mood = \"bad\" }}"),
            "[plugins.third] config: unknown key `mood`",
        ),
    ];
    for (what, settings, needle) in cases {
        let path = dir.path().join("sonde.toml");
        let port = crate::support::free_port();
        std::fs::write(
            &path,
            format!(
                "[global]\ncache_dir = {:?}\n\n[plugins.third]\n{settings}\n\n[http]\nlisten = \"127.0.0.1:{port}\"\n",
                dir.path().join("cache")
            ),
        )
        .unwrap();
        let file = path.to_str().unwrap();
        let (check_code, check) = sonde(&["check-config", file]);
        let (run_code, run) = sonde(&["run", "--config", file]);
        assert_eq!(check_code, Some(2), "{what}: check-config: {check}");
        assert_eq!(run_code, Some(2), "{what}: run: {run}");
        assert!(
            check.contains(&format!("error: {file}:")) && check.contains(needle),
            "{what}: {check}"
        );
        assert!(
            run.lines()
                .any(|l| l.contains(&format!("error: {file}:")) && l.contains(needle)),
            "{what}: run said: {run}"
        );
        assert!(
            !run.contains("serving /metrics"),
            "{what}: run bound its port: {run}"
        );
    }
}
