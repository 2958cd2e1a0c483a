//! The `sonde` binary as an operator runs it.

use crate::support::fixtures;
use std::io::Write;
use std::process::{Command, Output};

fn sonde(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sonde"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn collect_once_against_a_fixture_tree() {
    let proc = fixtures().join("node-exporter/proc");
    let out = sonde(&["collect", "--once", "--path.procfs", proc.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("# TYPE node_cpu_seconds_total counter\n"));
    assert!(stdout.contains("node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 10870.69\n"));
    assert!(stdout.contains("node_load1 0.21\n"));
    assert!(stdout.contains("node_scrape_collector_success{collector=\"loadavg\"} 1\n"));
}

#[test]
fn collect_once_reports_each_part_of_the_built_ins_as_node_exporter_does() {
    let tree = fixtures().join("node-exporter");
    let (proc, sys) = (tree.join("proc"), tree.join("sys"));
    let out = sonde(&[
        "collect",
        "--once",
        "--path.procfs",
        proc.to_str().unwrap(),
        "--path.sysfs",
        sys.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    // Built-ins that need the rootfs may fail on this tree; mem and net do not.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        text(&out.stderr)
    );
    let collectors = |family: &str| -> Vec<(String, String)> {
        stdout
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{family}{{collector=\"")))
            .filter_map(|l| l.split_once("\"} "))
            .map(|(c, v)| (c.to_owned(), v.to_owned()))
            .collect()
    };
    let success = collectors("node_scrape_collector_success");
    let names: Vec<&str> = success.iter().map(|(c, _)| c.as_str()).collect();
    // The mem plugin's parts, each with its series, as node_exporter's meminfo and vmstat.
    for part in [
        "meminfo", "vmstat", "pressure", "netdev", "netstat", "sockstat",
    ] {
        assert!(
            success.contains(&(part.to_owned(), "1".to_owned())),
            "{part}: {names:?}"
        );
    }
    // Not once per plugin for plugins that report parts.
    assert!(
        !names.contains(&"mem") && !names.contains(&"net"),
        "{names:?}"
    );
    // Every collector once, with its duration.
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    let durations: Vec<String> = collectors("node_scrape_collector_duration_seconds")
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    assert_eq!(durations, names);
    // node_exporter's collectors that the built-ins' parts report under the same name.
    let expected = std::fs::read_to_string(tree.join("e2e-output.txt")).unwrap();
    let theirs: Vec<&str> = expected
        .lines()
        .filter_map(|l| l.strip_prefix("node_scrape_collector_success{collector=\""))
        .filter_map(|l| l.split_once('"').map(|(c, _)| c))
        .collect();
    let shared = names.iter().filter(|c| theirs.contains(*c)).count();
    println!(
        "{shared} of node_exporter's {} collectors reported by name: {names:?}",
        theirs.len()
    );
    assert!(shared >= 20, "{shared}: {names:?}");
}

#[test]
fn collect_once_on_this_machine() {
    let out = sonde(&["collect", "--once"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let cpus = std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    let lines = text(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("node_cpu_seconds_total{"))
        .count();
    assert_eq!(lines, cpus * 8);
}

#[test]
fn a_failing_plugin_sets_exit_code_1_and_says_why() {
    let empty = tempfile::tempdir().unwrap();
    let out = sonde(&[
        "collect",
        "--once",
        "--path.procfs",
        empty.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("reading /proc/stat: not found"), "{stderr}");
    // The cpu plugin fails before any of its parts ran: its plugin-level series says so.
    assert!(text(&out.stdout).contains("node_scrape_collector_success{collector=\"cpu\"} 0\n"));
}

#[test]
fn a_bad_config_names_file_line_and_key_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sonde.toml");
    std::fs::write(&path, "[plugins.cpu]\nenabeld = false\n").unwrap();
    let out = sonde(&["collect", "--once", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:2:1: unknown field `enabeld`", path.display())),
        "{stderr}"
    );
}

#[test]
fn config_disables_and_configures_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sonde.toml");
    let proc = fixtures().join("node-exporter/proc");
    std::fs::write(
        &path,
        format!(
            "[paths]\nprocfs = {:?}\n[plugins.cpu]\nconfig = {{ loadavg = false }}\n",
            proc
        ),
    )
    .unwrap();
    let out = sonde(&["collect", "--once", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("node_cpu_seconds_total{cpu=\"7\",mode=\"user\"} 290.98\n"));
    assert!(!stdout.contains("node_load1"));

    std::fs::write(&path, "[plugins.cpu]\nenabled = false\n").unwrap();
    let out = sonde(&["collect", "--once", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!text(&out.stdout).contains("node_cpu"));
}

#[test]
fn help_and_version() {
    let help = text(&sonde(&["collect", "--help"]).stdout);
    for flag in [
        "--path.procfs",
        "--path.sysfs",
        "--path.rootfs",
        "--config",
        "--once",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
    let version = text(&sonde(&["--version"]).stdout);
    assert_eq!(
        version.trim(),
        format!("sonde {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn the_example_configs_are_valid() {
    let examples = crate::support::workspace().join("examples");
    for name in ["sonde.toml", "deepflow.toml", "quickstart.toml"] {
        let config = sonde::config::Config::load(&examples.join(name)).unwrap();
        // Plugin config tables are checked by the plugins themselves: run them.
        if config.remote_write.is_empty() {
            let out = sonde(&[
                "collect",
                "--once",
                "--config",
                examples.join(name).to_str().unwrap(),
            ]);
            assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
            assert!(
                !text(&out.stderr).contains("invalid config"),
                "{}",
                text(&out.stderr)
            );
        }
    }
}

#[test]
fn plugin_inspect_and_compile() {
    let wasm = crate::support::test_plugin_path("misbehave");
    let out = sonde(&["plugin", "inspect", wasm.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for line in [
        "name:           misbehave",
        "plugin API:     sonde:collector@0.2.2",
        "needs:          proc",
        "default config: {\"mode\":\"\",\"series\":0,\"bytes\":0}",
        "  sonde:collector/host@0.2.2",
        "exports:\n  sonde:collector/collector@0.2.2\n",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sonde.toml");
    std::fs::write(
        &config,
        format!("[global]\ncache_dir = {:?}\n", dir.path().join("cache")),
    )
    .unwrap();
    let compile = |expect: &str| {
        let out = sonde(&[
            "plugin",
            "compile",
            wasm.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains(expect), "{}", text(&out.stdout));
    };
    compile("compiled into");
    compile("already compiled in");
    // From stdin into a cache directory given as such, as the agent runs it in a child process.
    let cache_dir = dir.path().join("other-cache");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sonde"))
        .args(["plugin", "compile", "-", "--cache-dir"])
        .arg(&cache_dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&wasm).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("-: compiled into "));
    assert_eq!(std::fs::read_dir(&cache_dir).unwrap().count(), 1);
    let out = sonde(&["plugin", "inspect", "Cargo.toml"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn third_party_plugins_from_plugin_dir_with_grants() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(
        crate::support::test_plugin_path("misbehave"),
        plugins.join("misbehave.wasm"),
    )
    .unwrap();
    let config = dir.path().join("sonde.toml");
    let only_third_party = "[plugins.cpu]\nenabled = false\n[plugins.mem]\nenabled = false\n[plugins.disk]\nenabled = false\n[plugins.net]\nenabled = false\n[plugins.process]\nenabled = false\n[plugins.system]\nenabled = false\n[plugins.textfile]\nenabled = false\n";
    let write = |extra: &str| {
        std::fs::write(
            &config,
            format!(
                "[global]\nplugin_dir = {plugins:?}\ncache_dir = {:?}\n{extra}\n{only_third_party}",
                dir.path().join("cache")
            ),
        )
        .unwrap()
    };
    let run = || sonde(&["collect", "--once", "--config", config.to_str().unwrap()]);

    // Named in the config, granted what it declares: it runs.
    write("[plugins.misbehave]\ngrants = [\"proc\"]\nconfig = { mode = \"ok\" }\n");
    let out = run();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("misbehave_ok 1\n"));

    // A grant removed: a clear error at load naming what is missing, at the plugin's line; the
    // config is refused as a whole (exit code 2), by collect as by check-config and run.
    write("[plugins.misbehave]\nconfig = { mode = \"ok\" }\n");
    let with_cpu = std::fs::read_to_string(&config)
        .unwrap()
        .replace("[plugins.cpu]\nenabled = false\n", "");
    std::fs::write(&config, with_cpu).unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("[plugins.misbehave]: the plugin needs proc but is not granted proc"),
        "{stderr}"
    );
    assert!(text(&out.stdout).is_empty(), "nothing collected");
    let check = sonde(&["check-config", config.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(2));
    assert!(
        text(&check.stderr).contains("not granted proc"),
        "{}",
        text(&check.stderr)
    );

    // Discovered but not named: not run unless enabled; enabled without grants it is skipped
    // with a warning and the agent goes on.
    write("");
    let out = run();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("misbehave"));
    std::fs::write(
        &config,
        format!(
            "[global]\nplugin_dir = {plugins:?}\nenable_discovered_plugins = true\ncache_dir = {:?}\n[plugins.cpu]\n",
            dir.path().join("cache")
        ),
    )
    .unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("discovered plugin not started"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("node_cpu_seconds_total"));
}

#[test]
fn plugin_new_creates_a_crate_that_tests_builds_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = sonde(&[
        "plugin",
        "new",
        "demo",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let crate_dir = dir.path().join("demo");
    let target = crate::support::workspace().join("target/plugin-scaffold");
    let cargo = |args: &[&str]| {
        let out = Command::new(option_env!("CARGO").unwrap_or("cargo"))
            .args(args)
            .current_dir(&crate_dir)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cargo {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    };
    assert!(cargo(&["test", "--quiet"]).contains("2 passed"));
    cargo(&["build", "--quiet", "--release", "--target", "wasm32-wasip2"]);
    let wasm = target.join("wasm32-wasip2/release/sonde_plugin_demo.wasm");
    let config = dir.path().join("sonde.toml");
    std::fs::write(
        &config,
        format!(
            "[global]\ncache_dir = {:?}\n[plugins.demo]\npath = {wasm:?}\ngrants = [\"proc:sys/fs\"]\n",
            dir.path().join("cache")
        ),
    )
    .unwrap();
    let out = sonde(&["collect", "--once", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("\ndemo_open_files "));
}
