//! Misbehaving plugins are contained: each failure is a clean, classified error, and the plugin
//! (and the host) keep working afterwards.

use crate::support::{fixtures, runtime, test_plugin};
use sonde::plugin::{CallError, Limits};
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
    // A fresh store per call: the trap poisoned nothing.
    let ok = plugin.collect(r#"{"mode": "ok"}"#).unwrap();
    assert_eq!(ok[0].name, "misbehave_ok");
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
    use sonde::grants::Grants;
    use sonde::plugin::{Limits, Plugin};

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
