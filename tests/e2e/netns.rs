//! The net plugin's `netns` in a real network namespace (`unshare --net`, as a container without
//! `hostNetwork`): with the host's `/proc` mounted elsewhere (`--path.procfs`), sonde reports the
//! host's interfaces and counters, where node_exporter reports the namespace's own `lo`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Whether this process may create namespaces (root). Without, the test is skipped loudly, and
/// fails under `SONDE_REQUIRE_PEERS` (CI runs as root).
fn can_unshare() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 && Path::new("/usr/bin/unshare").exists() {
        return true;
    }
    let message = "the network-namespace test needs root and unshare (util-linux)";
    assert!(
        std::env::var_os("SONDE_REQUIRE_PEERS").is_none(),
        "{message}, and SONDE_REQUIRE_PEERS is set"
    );
    println!("\n*** SKIPPED: {message} ***\n");
    eprintln!("\n*** SKIPPED: {message} ***\n");
    false
}

/// A config with only the net plugin, whose config is `net`.
fn only_net(dir: &Path, net: &str) -> std::path::PathBuf {
    let mut config = String::new();
    for name in sonde::wasm::builtin::builtin_names().filter(|n| *n != "net") {
        config.push_str(&format!("[plugins.{name}]\nenabled = false\n"));
    }
    config.push_str(&format!("[plugins.net]\nconfig = {{ {net} }}\n"));
    let path = dir.join("sonde.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// `sonde collect --once` in a new network namespace (and mount namespace, where the host's
/// `/proc` is bind-mounted at `<dir>/host/proc` when `bind_proc`), with `--path.procfs procfs`:
/// `node_network_receive_bytes_total` per device.
fn receive_bytes_in_netns(
    dir: &Path,
    config: &Path,
    bind_proc: bool,
    procfs: &Path,
) -> BTreeMap<String, f64> {
    let sonde = env!("CARGO_BIN_EXE_sonde");
    let script = format!(
        "set -e\n{}exec {sonde} collect --once --config {} --path.procfs {}",
        if bind_proc {
            format!(
                "mkdir -p {p} && mount --bind -o ro /proc {p}\n",
                p = procfs.display()
            )
        } else {
            String::new()
        },
        config.display(),
        procfs.display()
    );
    let out = Command::new("unshare")
        .args([
            "--net",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
        ])
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("node_network_receive_bytes_total{device=\""))
        .map(|rest| {
            let (device, value) = rest.split_once("\"} ").unwrap();
            (device.to_owned(), value.parse().unwrap())
        })
        .collect()
}

/// The host's (pid 1's) namespace's received bytes per device, from `/proc/1/net/dev`.
fn host_receive_bytes() -> BTreeMap<String, f64> {
    std::fs::read_to_string("/proc/1/net/dev")
        .unwrap()
        .lines()
        .skip(2)
        .filter_map(|line| {
            let (device, counters) = line.split_once(':')?;
            let bytes = counters.split_whitespace().next()?.parse().ok()?;
            Some((device.trim().to_owned(), bytes))
        })
        .collect()
}

#[test]
fn net_figures_are_the_hosts_from_a_network_namespace() {
    if !can_unshare() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let host_proc = dir.path().join("host/proc");
    let before = host_receive_bytes();
    assert!(
        before.keys().any(|d| d != "lo"),
        "the host has a device beside lo: {before:?}"
    );

    // The default (`auto`) with the host's /proc mounted elsewhere: the host's devices.
    let auto = only_net(dir.path(), "");
    let seen = receive_bytes_in_netns(dir.path(), &auto, true, &host_proc);
    let after = host_receive_bytes();
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "{seen:?}"
    );
    for (device, bytes) in &seen {
        assert!(
            before[device] <= *bytes && *bytes <= after[device],
            "{device}: {} <= {bytes} <= {}",
            before[device],
            after[device]
        );
    }

    // node_exporter's reading (`self`), and `auto` with the agent's own /proc: the namespace's
    // own loopback only.
    let own = only_net(dir.path(), "netns = \"self\"");
    let seen = receive_bytes_in_netns(dir.path(), &own, true, &host_proc);
    assert_eq!(seen.keys().collect::<Vec<_>>(), ["lo"], "{seen:?}");
    let seen = receive_bytes_in_netns(dir.path(), &auto, false, Path::new("/proc"));
    assert_eq!(seen.keys().collect::<Vec<_>>(), ["lo"], "{seen:?}");

    // `host` asked for explicitly reads pid 1's namespace even from the agent's own /proc.
    let host = only_net(dir.path(), "netns = \"host\"");
    let seen = receive_bytes_in_netns(dir.path(), &host, false, Path::new("/proc"));
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
}
