//! The remote-write client against a local receiver that fails on purpose: retries with backoff
//! on 5xx, `Retry-After` on 429, no retry on 400, timeouts, the 1.0 headers, and the sharded
//! queue delivering everything.

use crate::support::{Receiver, Scripted};
use sonde::remote_write::client::Delivery;
use sonde::remote_write::encode::{SeriesSample, decode, encode_batch};
use sonde::remote_write::{Endpoint, RemoteWriteConfig, RemoteWriteQueue};
use sonde_sdk::Label;
use std::path::Path;
use std::time::{Duration, Instant};

/// A `[[remote_write]]` to `url` with `extra` TOML lines.
pub fn config_for_url(url: &str, extra: &str) -> RemoteWriteConfig {
    let text = format!("[[remote_write]]\nurl = \"{url}\"\n{extra}");
    let config = sonde::config::Config::parse(&text, Path::new("test.toml")).unwrap();
    config.remote_write[0].get_ref().clone()
}

fn config(port: u16, extra: &str) -> RemoteWriteConfig {
    config_for_url(&format!("http://127.0.0.1:{port}/api/v1/write"), extra)
}

/// A series `name` with an `instance` label and one sample.
pub fn sample(name: &str, value: f64, ts: i64) -> SeriesSample {
    SeriesSample {
        labels: vec![
            Label {
                name: "__name__".into(),
                value: name.into(),
            },
            Label {
                name: "instance".into(),
                value: "192.0.2.2".into(),
            },
        ],
        value,
        timestamp_ms: ts,
    }
}

/// A body with one sample.
pub fn body() -> Vec<u8> {
    encode_batch(&[sample("up", 1.0, 1000)], &[], &mut Vec::new())
}

/// A deadline no test reaches.
pub fn far() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(60)
}

#[tokio::test]
async fn retries_5xx_with_growing_backoff_then_succeeds() {
    let rx = Receiver::start(vec![
        Scripted::status(500),
        Scripted::status(503),
        Scripted::status(502),
    ]);
    let endpoint = Endpoint::new(&config(
        rx.port,
        "queue = { min_backoff = \"50ms\", max_backoff = \"1s\" }",
    ))
    .unwrap();
    let delivery = endpoint.send_with_retry(body(), 1, far()).await;
    assert_eq!(delivery, Delivery::Sent { retries: 3 });
    let at: Vec<Instant> = rx.requests().iter().map(|r| r.at).collect();
    assert_eq!(at.len(), 4);
    // 50 ms, then 100 ms, then 200 ms between attempts.
    for (i, min) in [(1, 50), (2, 100), (3, 200)] {
        let gap = at[i] - at[i - 1];
        assert!(gap >= Duration::from_millis(min), "gap {i} was {gap:?}");
    }
    assert_eq!(endpoint.stats.sent_total(), 1);
    assert_eq!(endpoint.stats.retried_total(), 3);
}

#[tokio::test]
async fn honours_retry_after_on_429() {
    let mut busy = Scripted::status(429);
    busy.headers.push(("Retry-After", "1".into()));
    let rx = Receiver::start(vec![busy]);
    let endpoint = Endpoint::new(&config(rx.port, "")).unwrap();
    let delivery = endpoint.send_with_retry(body(), 1, far()).await;
    assert_eq!(delivery, Delivery::Sent { retries: 1 });
    let at: Vec<Instant> = rx.requests().iter().map(|r| r.at).collect();
    assert!(
        at[1] - at[0] >= Duration::from_millis(990),
        "waited {:?}",
        at[1] - at[0]
    );
}

#[tokio::test]
async fn a_400_is_dropped_and_counted_never_retried() {
    let rx = Receiver::start(vec![Scripted::status(400)]);
    let endpoint = Endpoint::new(&config(rx.port, "")).unwrap();
    let delivery = endpoint.send_with_retry(body(), 7, far()).await;
    assert!(
        matches!(&delivery, Delivery::Rejected(r) if r.starts_with("HTTP 400")),
        "{delivery:?}"
    );
    assert_eq!(rx.requests().len(), 1);
    assert_eq!(endpoint.stats.failed_total(), 7);
    assert_eq!(endpoint.stats.sent_total(), 0);
}

#[tokio::test]
async fn a_slow_receiver_times_out_and_is_retried() {
    let mut slow = Scripted::status(200);
    slow.delay = Duration::from_secs(3);
    let rx = Receiver::start(vec![slow]);
    let endpoint = Endpoint::new(&config(rx.port, "remote_timeout = \"500ms\"")).unwrap();
    let started = Instant::now();
    let delivery = endpoint.send_with_retry(body(), 1, far()).await;
    assert_eq!(delivery, Delivery::Sent { retries: 1 });
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn gives_up_at_the_deadline_while_the_receiver_is_down() {
    let port = crate::support::free_port(); // nothing listens there
    let endpoint = Endpoint::new(&config(port, "")).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    let delivery = endpoint.send_with_retry(body(), 1, deadline).await;
    assert!(matches!(delivery, Delivery::GaveUp(_)), "{delivery:?}");
}

#[tokio::test]
async fn sends_the_remote_write_1_0_headers_auth_and_body() {
    let rx = Receiver::start(vec![]);
    let endpoint = Endpoint::new(&config(
        rx.port,
        "headers = { X-Scope-OrgID = \"tenant-1\" }\nbasic_auth = { username = \"sonde\", password = \"secret\" }",
    ))
    .unwrap();
    assert_eq!(
        endpoint.send_with_retry(body(), 1, far()).await,
        Delivery::Sent { retries: 0 }
    );
    let request = &rx.requests()[0];
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(header("content-encoding"), "snappy");
    assert_eq!(header("content-type"), "application/x-protobuf");
    assert_eq!(header("x-prometheus-remote-write-version"), "0.1.0");
    assert_eq!(
        header("user-agent"),
        format!("sonde/{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(header("x-scope-orgid"), "tenant-1");
    assert_eq!(header("authorization"), "Basic c29uZGU6c2VjcmV0");
    let decoded = decode(&request.body).unwrap();
    assert_eq!(decoded.timeseries[0].labels[0].value, "up");
    assert_eq!(decoded.timeseries[0].samples[0].timestamp, 1000);
}

#[tokio::test]
async fn the_queue_batches_keeps_series_order_and_delivers_everything() {
    let rx = Receiver::start(vec![Scripted::status(500)]);
    let state = tempfile::tempdir().unwrap();
    let queue = RemoteWriteQueue::start(
        &config(
            rx.port,
            "external_labels = { cluster = \"lab\" }\nqueue = { max_samples_per_send = 100, shards = 3, batch_send_deadline = \"100ms\", min_backoff = \"10ms\" }\nwal = { max_size = \"48MiB\" }",
        ),
        state.path(),
    )
    .unwrap();
    for cycle in 0..5 {
        let samples = (0..250)
            .map(|i| sample(&format!("m{i}"), cycle as f64, 1000 * cycle + 1))
            .collect();
        queue.push(samples, &[]);
    }
    let endpoint = queue.endpoint().clone();
    let undelivered = queue
        .shutdown(tokio::time::Instant::now() + Duration::from_secs(20))
        .await;
    assert_eq!(undelivered, 0);
    assert_eq!(endpoint.stats.sent_total(), 1250);
    // Every series got its 5 samples, in time order, with the external label (the 3 shards
    // send in parallel, each series from one shard).
    let mut per_series: std::collections::HashMap<String, Vec<i64>> = Default::default();
    let accepted = rx
        .requests()
        .into_iter()
        .filter(|r| (200..300).contains(&r.status));
    for request in accepted {
        let decoded = decode(&request.body).unwrap();
        assert!(decoded.timeseries.len() <= 250);
        for ts in decoded.timeseries {
            assert!(
                ts.labels
                    .iter()
                    .any(|l| l.name == "cluster" && l.value == "lab")
            );
            let name = ts
                .labels
                .iter()
                .find(|l| l.name == "__name__")
                .unwrap()
                .value
                .clone();
            per_series
                .entry(name)
                .or_default()
                .extend(ts.samples.iter().map(|s| s.timestamp));
        }
    }
    assert_eq!(per_series.len(), 250);
    for timestamps in per_series.values() {
        assert_eq!(timestamps, &[1, 1001, 2001, 3001, 4001]);
    }
}

/// The `Authorization` header of the first request `rx` got.
fn authorization(rx: &Receiver) -> String {
    rx.requests()[0]
        .headers
        .iter()
        .find(|(n, _)| n == "authorization")
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_bearer_token_is_sent_from_the_config_or_its_file() {
    let rx = Receiver::start(vec![]);
    let endpoint = Endpoint::new(&config(rx.port, "bearer_token = \"s3cr3t\"")).unwrap();
    assert_eq!(
        endpoint.send_with_retry(body(), 1, far()).await,
        Delivery::Sent { retries: 0 }
    );
    assert_eq!(authorization(&rx), "Bearer s3cr3t");

    // From a file, as Kubernetes mounts a service account token: the trailing newline is not
    // part of the token.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "from-a-file\n").unwrap();
    let rx = Receiver::start(vec![]);
    let endpoint =
        Endpoint::new(&config(rx.port, &format!("bearer_token_file = {file:?}"))).unwrap();
    assert_eq!(
        endpoint.send_with_retry(body(), 1, far()).await,
        Delivery::Sent { retries: 0 }
    );
    assert_eq!(authorization(&rx), "Bearer from-a-file");
}

#[tokio::test]
async fn max_samples_per_second_paces_a_backlog() {
    // 1,000 samples in batches of 100 at 1,000 samples/s: a send every 100 ms, where the
    // unpaced queue sends them all within milliseconds.
    let rx = Receiver::start(vec![]);
    let state = tempfile::tempdir().unwrap();
    let queue = RemoteWriteQueue::start(
        &config(
            rx.port,
            "queue = { max_samples_per_send = 100, max_samples_per_second = 1000, batch_send_deadline = \"10ms\" }",
        ),
        state.path(),
    )
    .unwrap();
    // Ten cycles' worth, queued at once as after an outage.
    for cycle in 0..10 {
        let samples = (0..100)
            .map(|i| sample(&format!("m{i}"), 1.0, 1000 + cycle))
            .collect();
        queue.push(samples, &[]);
    }
    let undelivered = queue
        .shutdown(tokio::time::Instant::now() + Duration::from_secs(20))
        .await;
    assert_eq!(undelivered, 0);
    let requests = rx.requests();
    assert_eq!(requests.len(), 10);
    for pair in requests.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(90), "sent {gap:?} apart");
    }
}
