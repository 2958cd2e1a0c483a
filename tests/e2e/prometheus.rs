//! `sonde collect --once` remote-writing to a real Prometheus (Debian's `prometheus`, started on a
//! free loopback port with `--web.enable-remote-write-receiver`): the series arrive with the
//! relabeled labels, `instance`, `job`, the external labels and the right values.

use crate::support::{KillOnDrop, fixtures, free_port, http_get};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// A Prometheus with the remote-write receiver on, storage in a temp dir; it can be stopped and
/// started again on the same port and storage (a receiver outage).
pub struct Prometheus {
    /// Its port.
    pub port: u16,
    dir: tempfile::TempDir,
    process: Option<KillOnDrop>,
}

impl Prometheus {
    /// Starts Prometheus, or returns `None` (after a loud message) when it is not installed.
    pub fn start() -> Option<Prometheus> {
        if !crate::support::peer_installed(PROMETHEUS, "prometheus") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("prometheus.yml"),
            "global:\n  scrape_interval: 1m\n",
        )
        .unwrap();
        let mut prometheus = Prometheus {
            port: free_port(),
            dir,
            process: None,
        };
        prometheus.resume();
        Some(prometheus)
    }

    /// Stops Prometheus (SIGTERM, waits for it to exit): the receiver is down.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            // SAFETY: signals our own child.
            unsafe { libc::kill(process.0.id() as i32, libc::SIGTERM) };
            let _ = process.0.wait();
        }
    }

    /// Starts Prometheus on its port and storage, and waits until it is ready.
    pub fn resume(&mut self) {
        let process = Command::new(PROMETHEUS)
            .arg(format!(
                "--config.file={}",
                self.dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                self.dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.process = Some(KillOnDrop(process));
        let deadline = Instant::now() + Duration::from_secs(30);
        while http_get(self.port, "/-/ready").is_err() {
            assert!(Instant::now() < deadline, "prometheus did not become ready");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The timestamps (seconds) of the samples of `selector` in the last `range`, via the
    /// query API (`selector[range]`).
    pub fn sample_times(&self, selector: &str, range: &str) -> Vec<f64> {
        let body = http_get(
            self.port,
            &format!(
                "/api/v1/query?query={}",
                encode(&format!("{selector}[{range}]"))
            ),
        )
        .unwrap();
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        json["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|series| series["values"].as_array().unwrap().iter())
            .map(|v| v[0].as_f64().unwrap())
            .collect()
    }

    /// The remote-write URL.
    pub fn write_url(&self) -> String {
        format!("http://127.0.0.1:{}/api/v1/write", self.port)
    }

    /// Runs an instant query and returns the result vector as (labels, value) pairs, labels
    /// rendered `name=value` and sorted.
    pub fn query(&self, promql: &str) -> Vec<(Vec<String>, f64)> {
        let body = http_get(
            self.port,
            &format!("/api/v1/query?query={}", encode(promql)),
        )
        .unwrap();
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["status"], "success", "{body}");
        json["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let mut labels: Vec<String> = r["metric"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
                    .collect();
                labels.sort();
                (labels, r["value"][1].as_str().unwrap().parse().unwrap())
            })
            .collect()
    }
}

/// Percent-encodes a query for a URL.
fn encode(query: &str) -> String {
    query
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn collect_once_pushes_relabeled_series_to_prometheus() {
    let Some(prometheus) = Prometheus::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sonde.toml");
    let proc = fixtures().join("node-exporter/proc");
    std::fs::write(
        &config,
        format!(
            r#"
[global]
instance = "10.1.2.3"
job = "hosts"

[paths]
procfs = {proc:?}

[plugins.cpu]
config = {{ cpufreq = false }}
[[plugins.cpu.relabel]]
source_labels = ["mode"]
regex = "steal|guest.*"
action = "drop"

[[relabel]]
target_label = "region"
replacement = "eu-1"

[[relabel]]
source_labels = ["__name__"]
regex = "node_load(1|5|15)"
target_label = "__name__"
replacement = "host_load_${{1}}m"

[[remote_write]]
url = "{url}"
external_labels = {{ cluster = "lab", region = "ignored-because-set" }}
send_metadata = true
"#,
            url = prometheus.write_url(),
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sonde"))
        .args(["collect", "--once", "--config", config.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Plugins without their fixture files (no sysfs here) may fail; the push itself must work.
    assert!(stderr.contains("remote write accepted"), "{stderr}");

    // Relabeled names, external labels, instance and job, exact values from the fixture.
    assert_eq!(
        prometheus.query("host_load_1m"),
        [(
            vec![
                "__name__=host_load_1m".into(),
                "cluster=lab".into(),
                "instance=10.1.2.3".into(),
                "job=hosts".into(),
                "region=eu-1".into(),
            ],
            0.21
        )]
    );
    assert!(
        prometheus.query("node_load1").is_empty(),
        "the old name is gone"
    );
    // The plugin rule dropped steal; the others of cpu 0 arrived with their values.
    assert!(
        prometheus
            .query(r#"node_cpu_seconds_total{mode="steal"}"#)
            .is_empty()
    );
    let idle = prometheus.query(r#"node_cpu_seconds_total{cpu="0",mode="idle"}"#);
    assert_eq!(idle.len(), 1);
    assert_eq!(idle[0].1, 10870.69);
    assert_eq!(
        prometheus.query("count(node_cpu_seconds_total)")[0].1,
        56.0,
        "8 cpus x 7 modes"
    );
    // Everything sonde printed arrived: the number of series equals the samples sent.
    let sent: f64 = stderr
        .lines()
        .find(|l| l.contains("remote write accepted"))
        .and_then(|l| l.rsplit("samples=").next())
        .and_then(|n| n.trim().split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert_eq!(prometheus.query(r#"count({job="hosts"})"#)[0].1, sent);
}

#[test]
fn collect_once_exits_non_zero_when_the_receiver_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sonde.toml");
    std::fs::write(
        &config,
        format!(
            "[paths]\nprocfs = {:?}\n[[remote_write]]\nurl = \"http://127.0.0.1:{}/api/v1/write\"\nremote_timeout = \"1s\"\nqueue = {{ max_backoff = \"100ms\" }}\n",
            fixtures().join("node-exporter/proc"),
            free_port()
        ),
    )
    .unwrap();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_sonde"))
        .args(["collect", "--once", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("remote write failed"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(60));
}
