//! The plugin on `tests/fixtures/sys`: the cgroup tree of a Kubernetes node run by systemd (the
//! systemd cgroup driver), with services without the cpu and io controllers, limits set and
//! unset, an OOM kill, and a unit name systemd escaped (`systemd-fsck@dev-disk-by\x2duuid-….service`).

mod common;

use common::check_exposition;
use sonde_plugin_cgroups::Cgroups;
use sonde_sdk::testing::{Fixture, collect_text, family_names, sample_lines};
use sonde_sdk::{Host, Root};
use std::collections::BTreeSet;

fn host() -> Host {
    let dir = format!("{}/tests/fixtures/sys", env!("CARGO_MANIFEST_DIR"));
    Fixture::new().root(Root::Sys, dir).host()
}

const POD: &str = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6f1c8a4e_2b7d_4c1e_9a3f_0d5e7b2c9f14.slice";

/// The `cgroup` labels in `text`.
fn cgroups(text: &str) -> BTreeSet<String> {
    sample_lines(text)
        .iter()
        .filter_map(|l| l.split("cgroup=\"").nth(1))
        .map(|rest| rest.split("\"").next().unwrap().replace("\\\\", "\\"))
        .collect()
}

/// The sample lines of the cgroup `label`.
fn lines_of<'a>(text: &'a str, label: &str) -> Vec<&'a str> {
    let needle = format!("{{cgroup=\"{}\"", label.replace('\\', "\\\\"));
    sample_lines(text)
        .into_iter()
        .filter(|l| {
            l.contains(&needle)
                && l[l.find(&needle).unwrap() + needle.len()..].starts_with(['}', ','])
        })
        .collect()
}

#[test]
fn the_default_filter_keeps_slices_services_and_pods() {
    let host = host();
    let text = collect_text::<Cgroups>(&host, "").unwrap();
    let expected = [
        "/kubepods.slice",
        "/kubepods.slice/kubepods-besteffort.slice",
        "/kubepods.slice/kubepods-burstable.slice",
        POD,
        "/kubepods.slice/kubepods-podb1e2c3d4_5f6a_4b7c_8d9e_0f1a2b3c4d5e.slice",
        "/system.slice",
        "/system.slice/containerd.service",
        "/system.slice/postgresql@14-main.service",
        "/system.slice/sshd.service",
        "/system.slice/system-getty.slice",
        "/system.slice/systemd-fsck@dev-disk-by\\x2duuid-0e6b2a4c\\x2d8f1e.service",
        "/system.slice/systemd-journald.service",
        "/user.slice",
    ];
    assert_eq!(
        cgroups(&text),
        expected.iter().map(|s| s.to_string()).collect()
    );
    assert_eq!(family_names(&text).len(), 27);
    assert_eq!(check_exposition(&text), 353);
    assert_eq!(host.logged(), []);
}

#[test]
fn a_service_with_every_controller() {
    let text = collect_text::<Cgroups>(&host(), "").unwrap();
    let g = "cgroup=\"/system.slice/postgresql@14-main.service\"";
    let expected = [
        format!("cgroup_cpu_cfs_periods_total{{{g}}} 0"),
        format!("cgroup_cpu_cfs_throttled_periods_total{{{g}}} 0"),
        format!("cgroup_cpu_cfs_throttled_seconds_total{{{g}}} 0"),
        format!("cgroup_cpu_system_seconds_total{{{g}}} 97078.041152"),
        format!("cgroup_cpu_usage_seconds_total{{{g}}} 291234.123455"),
        format!("cgroup_cpu_user_seconds_total{{{g}}} 194156.082303"),
        format!("cgroup_io_discarded_bytes_total{{{g},device=\"8:0\"}} 0"),
        format!("cgroup_io_discards_total{{{g},device=\"8:0\"}} 0"),
        format!("cgroup_io_read_bytes_total{{{g},device=\"8:0\"}} 3.981234176e+09"),
        format!("cgroup_io_reads_total{{{g},device=\"8:0\"}} 193412"),
        format!("cgroup_io_writes_total{{{g},device=\"8:0\"}} 2.210012e+06"),
        format!("cgroup_io_written_bytes_total{{{g},device=\"8:0\"}} 3.9123412992e+10"),
        format!("cgroup_memory_cache_bytes{{{g}}} 5.21142272e+08"),
        format!("cgroup_memory_events_total{{{g},event=\"high\"}} 0"),
        format!("cgroup_memory_events_total{{{g},event=\"low\"}} 0"),
        format!("cgroup_memory_events_total{{{g},event=\"max\"}} 3120"),
        format!("cgroup_memory_events_total{{{g},event=\"oom\"}} 2"),
        format!("cgroup_memory_events_total{{{g},event=\"oom_group_kill\"}} 0"),
        format!("cgroup_memory_events_total{{{g},event=\"oom_kill\"}} 1"),
        format!("cgroup_memory_limit_bytes{{{g}}} 1.073741824e+09"),
        format!("cgroup_memory_rss_bytes{{{g}}} 5.36870912e+08"),
        format!("cgroup_memory_swap_bytes{{{g}}} 8.388608e+06"),
        format!("cgroup_memory_usage_bytes{{{g}}} 1.073741824e+09"),
        format!("cgroup_memory_working_set_bytes{{{g}}} 8.05306368e+08"),
        format!("cgroup_pressure_cpu_stalled_seconds_total{{{g}}} 0"),
        format!("cgroup_pressure_cpu_waiting_seconds_total{{{g}}} 81.234123"),
        format!("cgroup_pressure_io_stalled_seconds_total{{{g}}} 29.123412"),
        format!("cgroup_pressure_io_waiting_seconds_total{{{g}}} 31.234123"),
        format!("cgroup_pressure_memory_stalled_seconds_total{{{g}}} 2.312341"),
        format!("cgroup_pressure_memory_waiting_seconds_total{{{g}}} 4.123412"),
        format!("cgroup_threads{{{g}}} 27"),
        format!("cgroup_threads_limit{{{g}}} 4915"),
    ];
    assert_eq!(
        lines_of(&text, "/system.slice/postgresql@14-main.service"),
        expected
    );
}

#[test]
fn controllers_not_enabled_and_no_limits_leave_families_out() {
    let text = collect_text::<Cgroups>(&host(), "").unwrap();
    // sshd.service: memory and pids only; no CPU limit, no I/O accounting, memory.max is `max`.
    let sshd = lines_of(&text, "/system.slice/sshd.service");
    assert!(
        sshd.iter()
            .all(|l| !l.contains("_cfs_") && !l.starts_with("cgroup_io_")),
        "{sshd:?}"
    );
    assert!(
        !sshd
            .iter()
            .any(|l| l.starts_with("cgroup_memory_limit_bytes"))
    );
    assert!(sshd.contains(
        &"cgroup_memory_working_set_bytes{cgroup=\"/system.slice/sshd.service\"} 3.293184e+06"
    ));
    assert!(sshd.contains(&"cgroup_threads_limit{cgroup=\"/system.slice/sshd.service\"} 4915"));
    assert_eq!(sshd.len(), 22);
    // A slice with `pids.max` of `max`: no limit series.
    let user = lines_of(&text, "/user.slice");
    assert!(user.contains(&"cgroup_threads{cgroup=\"/user.slice\"} 14"));
    assert!(!user.iter().any(|l| l.starts_with("cgroup_threads_limit")));
    // A pod with a CPU limit that throttles it.
    assert!(lines_of(&text, POD).contains(&&*format!(
        "cgroup_cpu_cfs_throttled_seconds_total{{cgroup=\"{POD}\"}} 412341.234123"
    )));
}

#[test]
fn filters_and_depth() {
    let all = collect_text::<Cgroups>(&host(), r#"{"include": "", "max_depth": 4}"#).unwrap();
    assert_eq!(cgroups(&all).len(), 20);
    assert!(cgroups(&all).contains("/init.scope"));
    assert!(cgroups(&all).contains("/system.slice/system-getty.slice/getty@tty1.service"));
    check_exposition(&all);

    let shallow = collect_text::<Cgroups>(&host(), r#"{"include": "", "max_depth": 1}"#).unwrap();
    let top = [
        "/init.scope",
        "/kubepods.slice",
        "/system.slice",
        "/user.slice",
    ];
    assert_eq!(
        cgroups(&shallow),
        top.iter().map(|s| s.to_string()).collect()
    );

    let text = collect_text::<Cgroups>(&host(), r#"{"exclude": "kubepods|@"}"#).unwrap();
    let kept = [
        "/system.slice",
        "/system.slice/containerd.service",
        "/system.slice/sshd.service",
        "/system.slice/system-getty.slice",
        "/system.slice/systemd-journald.service",
        "/user.slice",
    ];
    assert_eq!(cgroups(&text), kept.iter().map(|s| s.to_string()).collect());

    let text = collect_text::<Cgroups>(&host(), r#"{"include": "^/system\\.slice/sshd"}"#).unwrap();
    assert_eq!(
        cgroups(&text).into_iter().collect::<Vec<_>>(),
        ["/system.slice/sshd.service"]
    );
}
