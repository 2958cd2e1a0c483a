//! The system plugin's newer parts (kernel_hung, selinux, sysctl, cgroups) on edge trees built
//! here: missing sources, malformed and hostile values, refused sysctl names.

use sonde_plugin_system::System;
use sonde_sdk::testing::{Tree, collect_text, family_lines, sample_lines};

/// Every part off but the ones the test turns on (`extra` is spliced into the JSON object).
fn only(extra: &str) -> String {
    let mut config = String::from("{");
    for part in [
        "stat",
        "uname",
        "os",
        "time",
        "timex",
        "filefd",
        "entropy",
        "kernel_hung",
        "selinux",
    ] {
        if !extra.contains(&format!("\"{part}\"")) {
            config.push_str(&format!("\"{part}\": false, "));
        }
    }
    format!("{config}{extra}}}")
}

#[test]
fn a_host_without_the_sources_gives_nothing_and_logs_nothing() {
    let tree = Tree::new("system-parts-none");
    let host = tree.host();
    let text =
        collect_text::<System>(&host, &only(r#""kernel_hung": true, "cgroups": true"#)).unwrap();
    assert_eq!(text, "");
    assert_eq!(host.logged(), []);
    // Without SELinux node_exporter still reports node_selinux_enabled 0, and nothing else.
    let text = collect_text::<System>(&host, &only(r#""selinux": true"#)).unwrap();
    assert_eq!(sample_lines(&text), ["node_selinux_enabled 0"]);
    assert_eq!(host.logged(), []);
}

#[test]
fn old_bool_keys_and_tables() {
    let tree = Tree::new("system-parts-switch");
    let host = tree.host();
    let config = r#"{"stat": {"enabled": false}, "uname": false, "os": {}, "time": false,
        "timex": false, "filefd": false, "entropy": false, "kernel_hung": false,
        "selinux": {"enabled": false}, "cgroups": false}"#;
    assert_eq!(collect_text::<System>(&host, config).unwrap(), "");
    let err = collect_text::<System>(&host, r#"{"sysctl": true}"#).unwrap_err();
    assert!(err.to_string().starts_with("invalid config"), "{err}");
}

#[test]
fn selinux_modes() {
    let tree = Tree::with_files(
        "system-parts-selinux",
        &[
            ("sys/fs/selinux/enforce", b"0" as &[u8]),
            (
                "etc/selinux/config",
                b"# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n",
            ),
        ],
    );
    let host = tree.host();
    let text = collect_text::<System>(&host, &only(r#""selinux": true"#)).unwrap();
    assert_eq!(
        sample_lines(&text),
        [
            "node_selinux_config_mode 1",
            "node_selinux_current_mode 0",
            "node_selinux_enabled 1"
        ]
    );
    for line in [
        "# HELP node_selinux_config_mode Configured SELinux enforcement mode",
        "# HELP node_selinux_current_mode Current SELinux enforcement mode",
        "# HELP node_selinux_enabled SELinux is enabled, 1 is true, 0 is false",
        "# TYPE node_selinux_enabled gauge",
    ] {
        assert!(text.lines().any(|l| l == line), "{line}");
    }
    // No config file: disabled at boot (-1); garbage in enforce: no current mode, an error.
    let tree = Tree::with_files(
        "system-parts-selinux-bad",
        &[("sys/fs/selinux/enforce", b"\"1\\\n")],
    );
    let host = tree.host();
    let text = collect_text::<System>(&host, &only(r#""selinux": true"#)).unwrap();
    assert_eq!(
        sample_lines(&text),
        ["node_selinux_config_mode -1", "node_selinux_enabled 1"]
    );
    assert_eq!(
        host.logged()[0].1,
        "selinux: /sys/fs/selinux/enforce: \"\\\"1\\\\\": invalid digit found in string"
    );
}

#[test]
fn kernel_hung_and_cgroups_edges() {
    let tree = Tree::with_files(
        "system-parts-hung",
        &[
            ("proc/sys/kernel/hung_task_detect_count", b"-1\n" as &[u8]),
            (
                "proc/cgroups",
                b"#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t1\t2\t1\n\
                  we\"ird\\name\t1\t3\t0\nshort 1 2\ncpu 1 9 1\n",
            ),
        ],
    );
    let host = tree.host();
    let text =
        collect_text::<System>(&host, &only(r#""kernel_hung": true, "cgroups": true"#)).unwrap();
    assert_eq!(
        family_lines(&text, "node_cgroups_cgroups"),
        [
            "node_cgroups_cgroups{subsys_name=\"cpu\"} 2",
            "node_cgroups_cgroups{subsys_name=\"we\\\"ird\\\\name\"} 3",
        ]
    );
    assert!(!text.contains("node_kernel_hung"));
    let mut logged: Vec<String> = host.logged().into_iter().map(|(_, m)| m).collect();
    logged.sort();
    assert_eq!(
        logged,
        [
            "cgroups: /proc/cgroups: 2 malformed lines skipped, first line 4: 3 fields, expected 4 in line \"short 1 2\"",
            "kernel_hung: /proc/sys/kernel/hung_task_detect_count: \"-1\": invalid digit found in string",
        ]
    );
}

fn sysctl(include: &[&str], include_info: &[&str]) -> String {
    only(&format!(
        r#""sysctl": {{"enabled": true, "include": {}, "include_info": {}}}"#,
        serde_json_list(include),
        serde_json_list(include_info)
    ))
}

fn serde_json_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(","))
}

#[test]
fn sysctl_names_that_escape_are_refused_at_config_time() {
    let host = Tree::new("system-parts-sysctl-refused").host();
    for (include, info, message) in [
        (
            &["../../etc/passwd"][..],
            &[][..],
            "sysctl: sysctl.include \"../../etc/passwd\": '/' in a sysctl name",
        ),
        (
            &["/etc/passwd"],
            &[],
            "sysctl: sysctl.include \"/etc/passwd\": '/' in a sysctl name",
        ),
        (
            &[],
            &["..etc"],
            "sysctl: sysctl.include_info \"..etc\": an empty part between dots",
        ),
        (
            &["kernel."],
            &[],
            "sysctl: sysctl.include \"kernel.\": an empty part",
        ),
        (
            &["fs.file-nr:a-b"],
            &[],
            "sysctl: sysctl.include \"fs.file-nr:a-b\": key \"a-b\" makes no metric name",
        ),
        (
            &[],
            &["fs.file-nr:a"],
            "sysctl: sysctl.include_info \"fs.file-nr:a\": keys are for numeric sysctls",
        ),
        (
            &["a.b-c", "a.b_c"],
            &[],
            "sysctl: \"a.b_c\" and \"a.b-c\" give the same series (node_sysctl_a_b_c)",
        ),
        (
            &["x.y", "x.y"],
            &[],
            "sysctl: \"x.y\" and \"x.y\" give the same series",
        ),
        (
            &[],
            &["x.y", "x.y"],
            "sysctl: \"x.y\" and \"x.y\" give the same series (node_sysctl_info)",
        ),
        (
            &["info"],
            &["x.y"],
            "sysctl: \"info\" gives node_sysctl_info",
        ),
    ] {
        let err = collect_text::<System>(&host, &sysctl(include, info))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(message), "{err}\n  expected {message}");
    }
}

#[test]
fn sysctl_values() {
    let mut long = b"word ".repeat(1000);
    long.extend_from_slice(b"\n");
    let tree = Tree::with_files(
        "system-parts-sysctl",
        &[
            ("proc/sys/fs/file-nr", b"1024\t0\t1631329\n" as &[u8]),
            ("proc/sys/kernel/threads-max", b"7801\n"),
            ("proc/sys/kernel/bad", b"12 x\n"),
            ("proc/sys/kernel/empty", b"\n"),
            (
                "proc/sys/kernel/actions",
                b"kill \"quoted\" back\\slash \xff\n",
            ),
            ("proc/sys/kernel/long", &long),
        ],
    );
    let host = tree.host();
    let config = sysctl(
        &[
            "fs.file-nr:total,current,max",
            "kernel.threads-max",
            "kernel.threads-max:one",
            "kernel.bad",
            "kernel.empty",
            "kernel.missing",
            "fs.file-nr:a,b",
        ],
        &["kernel.actions", "kernel.long"],
    );
    let text = collect_text::<System>(&host, &config).unwrap();
    assert_eq!(
        sample_lines(&text)
            .into_iter()
            .filter(|l| !l.contains("kernel.long"))
            .collect::<Vec<_>>(),
        [
            "node_sysctl_fs_file_nr_current 0",
            "node_sysctl_fs_file_nr_max 1.631329e+06",
            "node_sysctl_fs_file_nr_total 1024",
            "node_sysctl_info{index=\"0\",name=\"kernel.actions\",value=\"kill\"} 1",
            "node_sysctl_info{index=\"1\",name=\"kernel.actions\",value=\"\\\"quoted\\\"\"} 1",
            "node_sysctl_info{index=\"2\",name=\"kernel.actions\",value=\"back\\\\slash\"} 1",
            "node_sysctl_info{index=\"3\",name=\"kernel.actions\",value=\"\u{FFFD}\"} 1",
            "node_sysctl_kernel_threads_max 7801",
        ]
    );
    assert!(text.contains("# TYPE node_sysctl_kernel_threads_max untyped\n"));
    assert!(text.contains("# HELP node_sysctl_fs_file_nr_max sysctl fs.file-nr, field 2\n"));
    // node_exporter reads at most 4096 bytes: 819 whole words and a cut one.
    assert_eq!(family_lines(&text, "node_sysctl_info").len(), 4 + 820);
    let logged = host.logged();
    assert_eq!(logged.len(), 1);
    assert_eq!(
        logged[0].1,
        "sysctl: sysctl kernel.threads-max has only one value, but expected [\"one\"]; \
         sysctl kernel.bad: field 1 \"x\" is not a valid int: invalid digit found in string; \
         sysctl kernel.empty has no values; \
         sysctl kernel.missing: /proc/sys/kernel/missing not found; \
         sysctl fs.file-nr has 3 values but 2 keys"
    );
}
