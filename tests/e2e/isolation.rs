//! Misbehaving plugins are contained: each failure is a clean, classified error, and the plugin
//! (and the host) keep working afterwards.

use crate::support::{fixtures, runtime, test_plugin};
use sonde::wasm::plugin::{CallError, Limits};
use sonde_sdk::Capability;
use std::time::{Duration, Instant};

fn misbehave(mode: &str, limits: Limits) -> Result<Vec<sonde_sdk::MetricFamily>, CallError> {
    let rt = runtime(&fixtures().join("live-debian12/proc"));
    let plugin = test_plugin(&rt, "misbehave", &[Capability::Proc], limits);
    plugin.collect(&format!(r#"{{"mode": "{mode}"}}"#))
}

#[test]
fn a_trap_is_a_clean_error_and_the_plugin_still_works() {
    let rt = runtime(&fixtures().join("live-debian12/proc"));
    let plugin = test_plugin(&rt, "misbehave", &[Capability::Proc], Limits::default());
    let err = plugin.collect(r#"{"mode": "trap"}"#).unwrap_err();
    assert!(matches!(err, CallError::Trap(_)), "{err:?}");
    let message = err.to_string();
    assert!(message.starts_with("trapped: "), "{message}");
    assert!(message.contains("misbehave: deliberate panic"), "{message}");
    // A fresh instance after a trap: the trap poisoned nothing.
    let ok = plugin.collect(r#"{"mode": "ok"}"#).unwrap();
    assert_eq!(ok[0].name, "misbehave_ok");
}

#[test]
fn a_collector_lives_as_long_as_its_instance_and_config() {
    let rt = runtime(&fixtures().join("live-debian12/proc"));
    let plugin = test_plugin(&rt, "misbehave", &[Capability::Proc], Limits::default());
    let cycles = |config: &str| plugin.collect(config).unwrap()[0].samples[0].value;
    let counting = r#"{"mode": "cycles"}"#;
    // Configured once, then the same collector collects every cycle.
    assert_eq!(cycles(counting), 1.0);
    assert_eq!(cycles(counting), 2.0);
    // Another config builds another collector.
    assert_eq!(cycles(r#"{"mode": "cycles", "series": 1}"#), 1.0);
    assert_eq!(cycles(counting), 1.0);
    assert_eq!(cycles(counting), 2.0);
    // A config the plugin refuses is the call's error, naming the problem, and is tried again.
    let bad = r#"{"mode": 1}"#;
    for _ in 0..2 {
        let err = plugin.collect(bad).unwrap_err();
        assert!(matches!(err, CallError::Failed(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("failed: invalid config: invalid type"),
            "{err}"
        );
    }
    assert_eq!(cycles(counting), 1.0);
}

#[test]
fn an_invalid_metric_name_is_rejected() {
    let err = misbehave("invalid-name", Limits::default()).unwrap_err();
    assert!(matches!(err, CallError::InvalidOutput(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "invalid output in family \"node-cpu\": invalid metric name \"node-cpu\": must match [a-zA-Z_:][a-zA-Z0-9_:]*"
    );
}

#[test]
fn duplicate_series_are_rejected() {
    let err = misbehave("duplicate-series", Limits::default()).unwrap_err();
    assert!(err.to_string().contains("duplicate series"), "{err}");
}

#[test]
fn a_plugin_error_is_reported_as_such() {
    let err = misbehave("fail", Limits::default()).unwrap_err();
    assert!(
        matches!(&err, CallError::Failed(m) if m == "deliberate failure"),
        "{err:?}"
    );
}

#[test]
fn a_flood_past_the_sample_limit_is_refused_before_it_is_copied() {
    let limits = Limits {
        samples: 1000,
        ..Limits::default()
    };
    let rt = runtime(&fixtures().join("live-debian12/proc"));
    let plugin = test_plugin(&rt, "misbehave", &[Capability::Proc], limits);
    let err = plugin
        .collect(r#"{"mode": "flood", "series": 1001}"#)
        .unwrap_err();
    assert!(
        matches!(
            err,
            CallError::SampleLimit {
                returned: 1001,
                limit: 1000
            }
        ),
        "{err:?}"
    );
    let ok = plugin
        .collect(r#"{"mode": "flood", "series": 1000}"#)
        .unwrap();
    assert_eq!(ok[0].samples.len(), 1000);
}

#[test]
fn families_decoded_over_earlier_ones_are_overwritten_whole() {
    // The agent decodes each collection over the families of the one before, whatever their
    // shape; the result must equal what is decoded into nothing.
    let rt = runtime(&fixtures().join("live-debian12/proc"));
    let plugin = test_plugin(&rt, "misbehave", &[Capability::Proc], Limits::default());
    let mut families = Vec::new();
    for config in [
        r#"{"mode": "flood", "series": 300}"#,
        r#"{"mode": "flood", "series": 7}"#,
        r#"{"mode": "ok"}"#,
        r#"{"mode": "special-values"}"#,
        r#"{"mode": "flood", "series": 300}"#,
        r#"{"mode": "duplicate-series"}"#,
        r#"{"mode": "flood", "series": 20}"#,
        r#"{"mode": "fail"}"#,
        r#"{"mode": "ok"}"#,
    ] {
        let reused = plugin
            .call_collect(config)
            .and_then(|collected| collected.decode_into(&mut families));
        match plugin.collect(config) {
            Ok(fresh) => {
                reused.unwrap();
                assert_eq!(
                    sonde_sdk::exposition::render(&families),
                    sonde_sdk::exposition::render(&fresh),
                    "{config}"
                );
            }
            Err(_) => {
                assert!(reused.is_err(), "{config}");
                assert!(
                    families.is_empty(),
                    "a failure leaves nothing behind: {config}"
                );
            }
        }
    }
}

#[test]
fn an_endless_loop_is_stopped_at_the_timeout() {
    let limits = Limits {
        timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let started = Instant::now();
    let err = misbehave("loop", limits).unwrap_err();
    assert!(matches!(err, CallError::Timeout(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_call_past_its_deadline_does_not_cut_short_another_running_call() {
    // Two endless loops at once in one runtime: the epoch advances when the short one's deadline
    // passes, and only that one traps; the other runs on to its own deadline.
    let rt = runtime(&fixtures().join("live-debian12/proc"));
    let looping = |timeout: Duration| {
        let limits = Limits {
            timeout,
            ..Limits::default()
        };
        let plugin = test_plugin(&rt, "misbehave", &[Capability::Proc], limits);
        move || {
            let started = Instant::now();
            let err = plugin.collect(r#"{"mode": "loop"}"#).unwrap_err();
            (err, started.elapsed())
        }
    };
    let long = std::thread::spawn(looping(Duration::from_millis(1500)));
    let short = std::thread::spawn(looping(Duration::from_millis(200)));
    let (short_err, short_took) = short.join().unwrap();
    let (long_err, long_took) = long.join().unwrap();
    assert!(matches!(short_err, CallError::Timeout(_)), "{short_err:?}");
    assert!(matches!(long_err, CallError::Timeout(_)), "{long_err:?}");
    assert!(
        short_took < Duration::from_millis(1200),
        "short: {short_took:?}"
    );
    assert!(
        long_took >= Duration::from_millis(1500),
        "long: {long_took:?}"
    );
    assert!(long_took < Duration::from_secs(5), "long: {long_took:?}");
}

#[test]
fn unbounded_allocation_hits_the_memory_cap() {
    let limits = Limits {
        memory: 16 << 20,
        ..Limits::default()
    };
    let err = misbehave("oom", limits).unwrap_err();
    assert!(matches!(err, CallError::MemoryLimit(_)), "{err:?}");
}

#[test]
fn escape_attempts_all_fail() {
    // The real /proc, so /proc/self/root and /proc/1/cwd are the kernel's magic links.
    let rt = runtime(std::path::Path::new("/proc"));
    let plugin = test_plugin(&rt, "misbehave", &[Capability::Proc], Limits::default());
    let families = plugin.collect(r#"{"mode": "escape"}"#).unwrap();
    let outcomes: Vec<(String, String)> = families[0]
        .samples
        .iter()
        .map(|s| {
            (
                s.label("attempt").unwrap().into(),
                s.label("outcome").unwrap().into(),
            )
        })
        .collect();
    assert_eq!(outcomes.len(), 8);
    for (attempt, outcome) in &outcomes {
        let expected: &[&str] = match attempt.as_str() {
            a if a.starts_with("ungranted") => &["NotGranted"],
            // The kernel may deny ptrace access to pid 1 (EACCES) before the magic-link check.
            "pid1_cwd" => &["EscapesRoot", "PermissionDenied"],
            _ => &["EscapesRoot"],
        };
        assert!(
            expected.contains(&outcome.as_str()),
            "attempt {attempt}: {outcome}"
        );
    }
}

mod loading {
    //! What the host refuses to load, with a message that says why.
    use crate::support::{fixtures, runtime};
    use sonde::sandbox::grants::Grants;
    use sonde::wasm::plugin::{Limits, Plugin};

    fn load_error(bytes: &[u8]) -> String {
        let rt = runtime(&fixtures().join("live-debian12/proc"));
        match Plugin::load(&rt, "x", bytes, Grants::default(), Limits::default()) {
            Ok(_) => panic!("loaded"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn a_component_of_another_api_version_is_refused_naming_both_versions() {
        let wasm = wat::parse_str(
            r#"(component
                 (import "sonde:collector/host@0.9.0" (instance $host))
                 (export "sonde:collector/collector@0.9.0" (instance $host)))"#,
        )
        .unwrap();
        let err = load_error(&wasm);
        assert!(
            err.contains("built for plugin API sonde:collector@0.9.0"),
            "{err}"
        );
        assert!(err.contains("supports 0.1.x"), "{err}");
    }

    #[test]
    fn a_component_that_is_not_a_plugin_is_refused() {
        let err = load_error(&wat::parse_str("(component)").unwrap());
        assert!(err.contains("not a sonde plugin"), "{err}");
    }

    #[test]
    fn a_core_module_and_a_random_file_are_refused() {
        let err = load_error(&wat::parse_str("(module)").unwrap());
        assert!(
            err.contains("a core WebAssembly module, not a component"),
            "{err}"
        );
        let err = load_error(b"#!/bin/sh\necho hello\n");
        assert!(err.contains("not WebAssembly at all"), "{err}");
    }
}

mod abuse {
    //! Resource abuse: each case is held by a limit and reported; the instance (or a fresh one)
    //! keeps working.
    use super::misbehave;
    use crate::support::{fixtures, runtime, test_plugin};
    use sonde::wasm::plugin::{CallError, Limits};
    use sonde_sdk::Capability;
    use std::time::{Duration, Instant};

    #[test]
    fn a_stack_overflow_is_a_trap() {
        let rt = runtime(&fixtures().join("live-debian12/proc"));
        let plugin = test_plugin(&rt, "misbehave", &[Capability::Proc], Limits::default());
        let err = plugin.collect(r#"{"mode": "recurse"}"#).unwrap_err();
        assert!(matches!(err, CallError::Trap(_)), "{err:?}");
        // Rust's shadow stack lives in linear memory and runs out below address 0 before the
        // native wasm stack (max_wasm_stack, 1 MiB) does; either way it is a trap.
        let message = err.to_string();
        assert!(
            message.contains("out of bounds memory access")
                || message.contains("call stack exhausted"),
            "{message}"
        );
        assert_eq!(
            plugin.collect(r#"{"mode": "ok"}"#).unwrap()[0].name,
            "misbehave_ok"
        );
    }

    #[test]
    fn megabyte_label_values_are_refused() {
        let err = misbehave("huge-labels", Limits::default()).unwrap_err();
        assert!(matches!(err, CallError::InvalidOutput(_)), "{err:?}");
        assert!(
            err.to_string().contains(
                "the value of label \"blob\": a string of 1048576 bytes, more than the 16384"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_refused_output_drops_its_instance_and_gives_its_memory_back() {
        // Regression: a plugin returning a 20 MB label value failed validation but its instance
        // (and ~75 MB of RSS) was kept.
        let rt = runtime(&fixtures().join("live-debian12/proc"));
        let plugin = test_plugin(&rt, "misbehave", &[Capability::Proc], Limits::default());
        plugin.collect(r#"{"mode": "ok"}"#).unwrap();
        let idle = rt.memory_budget().used();
        assert!(idle > 0 && idle < 4 << 20, "{idle}");
        let err = plugin
            .collect(r#"{"mode": "huge-labels", "series": 1, "bytes": 20971520}"#)
            .unwrap_err();
        assert!(
            err.to_string().contains("a string of 20971520 bytes"),
            "refused before the label is copied: {err}"
        );
        assert_eq!(rt.memory_budget().used(), 0, "the instance was dropped");
        plugin.collect(r#"{"mode": "ok"}"#).unwrap();
        assert!(rt.memory_budget().used() <= idle);
    }

    #[test]
    fn all_plugins_together_stay_within_plugins_memory_limit() {
        // Regression: each plugin kept its own 64 MiB cap, and two of them got the agent
        // OOM-killed under the unit's MemoryMax.
        let rt = runtime(&fixtures().join("live-debian12/proc"));
        rt.memory_budget().set_limit(48 << 20);
        let quiet = test_plugin(&rt, "misbehave", &[Capability::Proc], Limits::default());
        quiet.collect(r#"{"mode": "ok"}"#).unwrap();
        let hog = test_plugin(&rt, "misbehave", &[Capability::Proc], Limits::default());
        let err = hog.collect(r#"{"mode": "oom"}"#).unwrap_err();
        assert!(matches!(err, CallError::MemoryLimit(_)), "{err:?}");
        // The hog got what the quiet plugin left of the 48 MiB, not its own 64 MiB, and gave
        // it back when its instance was dropped; the quiet one still works.
        assert!(rt.memory_budget().used() < 4 << 20);
        quiet.collect(r#"{"mode": "ok"}"#).unwrap();
    }

    #[test]
    fn invalid_label_names_and_invalid_utf8_are_refused() {
        let err = misbehave("invalid-label", Limits::default()).unwrap_err();
        assert!(
            err.to_string().contains("invalid label name \"0bad\""),
            "{err}"
        );
        let err = misbehave("invalid-utf8", Limits::default()).unwrap_err();
        assert!(err.to_string().contains("utf-8"), "{err}");
    }

    #[test]
    fn nan_and_infinities_are_valid_values() {
        let families = misbehave("special-values", Limits::default()).unwrap();
        let values: Vec<f64> = families[0].samples.iter().map(|s| s.value).collect();
        assert!(values[0].is_nan());
        assert_eq!(values[1..], [f64::INFINITY, f64::NEG_INFINITY]);
    }

    #[test]
    fn a_gigabyte_of_log_lines_is_cut_to_the_limit_and_counted() {
        let rt = runtime(&fixtures().join("live-debian12/proc"));
        let plugin = test_plugin(&rt, "misbehave", &[Capability::Proc], Limits::default());
        let started = Instant::now();
        let families = plugin.collect(r#"{"mode": "log-flood"}"#).unwrap();
        assert_eq!(families[0].name, "misbehave_ok");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        // 2^30 / 4096 lines; cut to 1 KiB each, 16 KiB of them let through: 16 lines.
        assert_eq!(plugin.counters().dropped_log_lines, (1 << 18) - 16);
    }

    #[test]
    fn a_gigabyte_on_stderr_is_contained() {
        let rt = runtime(&fixtures().join("live-debian12/proc"));
        let plugin = test_plugin(&rt, "misbehave", &[Capability::Proc], Limits::default());
        let started = Instant::now();
        let result = plugin.collect(r#"{"mode": "stderr-flood"}"#);
        // Writes past the 64 KiB stderr buffer fail inside the plugin; the host keeps no more.
        assert!(result.is_ok(), "{result:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        // The instance is replaced (its stderr buffer is full) and the next call works.
        let ok = plugin.collect(r#"{"mode": "ok"}"#).unwrap();
        assert_eq!(ok[0].name, "misbehave_ok");
    }
}

#[test]
fn a_cycle_decoded_over_an_earlier_one_shows_nothing_for_a_plugin_that_failed() {
    // A collection decodes into the store over the families of the cycle before; a plugin
    // whose call trapped must not show that cycle's families again.
    use sonde::agent::cycle::{Outgoing, Round, ScheduledPlugin};
    let rt = runtime(&fixtures().join("live-debian12/proc"));
    let plugin = std::sync::Arc::new(test_plugin(
        &rt,
        "misbehave",
        &[Capability::Proc],
        Limits::default(),
    ));
    let scheduled = |mode: &str| ScheduledPlugin {
        plugin: plugin.clone(),
        config_json: format!(r#"{{"mode": "{mode}"}}"#),
        interval: Duration::from_secs(1),
    };
    let mut round = Round::local(vec![scheduled("ok")]);
    let failed = round.run(&mut Outgoing::default());
    let store = round.sinks().store.clone();
    assert_eq!(
        store.read("misbehave", |families| families[0].name.clone()),
        "misbehave_ok"
    );
    assert!(failed.is_empty());
    for mode in ["trap", "fail"] {
        // The same store, the plugin called with another config.
        let sinks =
            sonde::agent::cycle::Sinks::new(store.clone(), Default::default(), None, Vec::new(), 0);
        let failed = Round::new(vec![scheduled(mode)], sinks).run(&mut Outgoing::default());
        let left = store.read("misbehave", |families| families.to_vec());
        assert!(left.is_empty(), "{mode}: {left:?}");
        assert_eq!(failed, ["misbehave"], "{mode}");
    }
}

#[test]
fn a_malformed_kernel_line_is_left_out_the_rest_kept_and_the_failure_counted() {
    // Regression: one bad line in /proc/meminfo dropped all `node_memory_*` series, with
    // success 1 and nothing to alert on.
    let tree = tempfile::tempdir().unwrap();
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(fixtures().join("node-exporter/proc"))
        .arg(tree.path())
        .status()
        .unwrap();
    assert!(copied.success());
    let proc = tree.path().join("proc");
    let collect = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sonde"))
            .args(["collect", "--once", "--path.procfs", proc.to_str().unwrap()])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let series = crate::support::parse_exposition(&text);
        (series, String::from_utf8(out.stderr).unwrap())
    };
    let memory = |series: &std::collections::BTreeMap<String, f64>| {
        series
            .keys()
            .filter(|k| k.starts_with("node_memory_"))
            .cloned()
            .collect::<Vec<_>>()
    };
    let (before, _) = collect();
    assert_eq!(before[r#"sonde_plugin_warnings_total{plugin="mem"}"#], 0.0);
    let success = |part: &str| format!("node_scrape_collector_success{{collector=\"{part}\"}}");
    assert_eq!(before[&success("meminfo")], 1.0);

    let meminfo = std::fs::read_to_string(proc.join("meminfo")).unwrap();
    let broken = meminfo.replacen("MemFree:          225472 kB", "MemFree: lots kB", 1);
    assert_ne!(broken, meminfo);
    std::fs::write(proc.join("meminfo"), broken).unwrap();
    let (after, stderr) = collect();

    let kept = memory(&after);
    let mut expected = memory(&before);
    expected.retain(|k| !k.starts_with("node_memory_MemFree_bytes"));
    assert_eq!(kept, expected, "only the bad line's series is missing");
    assert_eq!(
        after[r#"sonde_plugin_warnings_total{plugin="mem"}"#], 1.0,
        "{stderr}"
    );
    assert!(
        stderr.contains("meminfo"),
        "the log names the part: {stderr}"
    );
    // The part that failed is reported as node_exporter reports a failed collector; the others
    // of the plugin succeeded.
    assert_eq!(after[&success("meminfo")], 0.0, "{stderr}");
    assert_eq!(after[&success("vmstat")], 1.0, "{stderr}");
}
