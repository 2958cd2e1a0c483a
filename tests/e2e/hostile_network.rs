//! A hostile network between sonde and its receiver: connections reset, answers that are not
//! HTTP, endless bodies, redirect loops, redirects that would turn the POST into a GET, and TLS
//! certificates that are untrusted, expired or for another name. Each is retried (or refused)
//! as it should be, memory stays bounded, and the batch arrives once the receiver behaves.

use crate::remote_write::{body, config_for_url, far, sample};
use crate::support::{Receiver, Scripted};
use sonde::remote_write::client::Delivery;
use sonde::remote_write::{Endpoint, RemoteWriteConfig, RemoteWriteQueue};
use std::sync::Arc;
use std::time::Duration;

/// A `[[remote_write]]` to `url` that retries fast unless `extra` sets its own queue.
fn config(url: &str, extra: &str) -> RemoteWriteConfig {
    let queue = if extra.contains("queue") {
        ""
    } else {
        "queue = { min_backoff = \"10ms\", max_backoff = \"50ms\" }"
    };
    config_for_url(url, &format!("remote_timeout = \"2s\"\n{queue}\n{extra}"))
}

fn http(rx: &Receiver) -> String {
    format!("http://127.0.0.1:{}/api/v1/write", rx.port)
}

#[tokio::test]
async fn resets_and_garbage_are_retried() {
    let rx = Receiver::start(vec![
        Scripted::reset(),
        Scripted::garbage(),
        Scripted::reset(),
    ]);
    let endpoint = Endpoint::new(&config(&http(&rx), "")).unwrap();
    let delivery = endpoint.send_with_retry(body(), 1, far()).await;
    assert_eq!(delivery, Delivery::Sent { retries: 3 });
    assert_eq!(rx.requests().len(), 4);
}

#[tokio::test]
async fn endless_bodies_are_never_read_into_memory() {
    // A 200 with a 64 GiB body is a success without reading it; a 503 with one is retried
    // after reading 512 bytes of it. Reading either (let alone buffering it) would take far
    // longer than the 10 s allowed.
    let rx = Receiver::start(vec![
        Scripted::with_body(503, 64 << 30),
        Scripted::with_body(200, 64 << 30),
    ]);
    let endpoint = Endpoint::new(&config(&http(&rx), "")).unwrap();
    let delivery = tokio::time::timeout(
        Duration::from_secs(10),
        endpoint.send_with_retry(body(), 1, far()),
    )
    .await
    .expect("an endless body must not block delivery");
    assert_eq!(delivery, Delivery::Sent { retries: 1 });
}

#[tokio::test]
async fn a_redirect_loop_is_cut_and_retried() {
    // Redirects to itself: each attempt follows three and gives up at the fourth; the third
    // attempt gets the 200.
    let rx = Receiver::start(
        (0..8)
            .map(|_| Scripted::redirect(307, "/api/v1/write".into()))
            .collect(),
    );
    let endpoint = Endpoint::new(&config(&http(&rx), "")).unwrap();
    let delivery = endpoint.send_with_retry(body(), 1, far()).await;
    assert_eq!(delivery, Delivery::Sent { retries: 2 });
    assert_eq!(rx.requests().len(), 9);
}

#[tokio::test]
async fn a_redirect_that_would_drop_the_body_is_not_followed() {
    let rx = Receiver::start(vec![]);
    let elsewhere = format!("http://127.0.0.1:{}/other", rx.port);
    let redirecting = Receiver::start(vec![Scripted::redirect(302, elsewhere)]);
    let endpoint = Endpoint::new(&config(&http(&redirecting), "")).unwrap();
    let delivery = endpoint.send_with_retry(body(), 1, far()).await;
    assert_eq!(delivery, Delivery::Sent { retries: 1 });
    // Both requests were POSTs with the batch; nothing was sent as a GET to the other place.
    let requests = redirecting.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert!(
            request.request_line.starts_with("POST "),
            "{}",
            request.request_line
        );
        assert_eq!(request.body, body());
    }
    assert!(rx.requests().is_empty());
}

/// A certificate and its TLS server config, for `names`, valid in `[not_before, not_after]`.
fn certificate(
    names: &[&str],
    validity: Option<(i32, i32)>,
) -> (String, Arc<rustls::ServerConfig>) {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    if let Some((from, to)) = validity {
        params.not_before = rcgen::date_time_ymd(from, 1, 1);
        params.not_after = rcgen::date_time_ymd(to, 1, 1);
    }
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    (cert.pem(), Arc::new(server))
}

/// Sends one batch over TLS to a receiver with `server`, trusting `ca` (PEM) if given, until
/// `deadline`; returns the delivery and how many requests the receiver decrypted.
async fn send_tls(
    server: Arc<rustls::ServerConfig>,
    ca: Option<&str>,
    within: Duration,
) -> (Delivery, usize) {
    let rx = Receiver::start_tls(vec![], server);
    let dir = tempfile::tempdir().unwrap();
    let extra = match ca {
        Some(pem) => {
            let path = dir.path().join("ca.pem");
            std::fs::write(&path, pem).unwrap();
            format!("tls = {{ ca_file = {:?} }}", path)
        }
        None => String::new(),
    };
    let url = format!("https://127.0.0.1:{}/api/v1/write", rx.port);
    let endpoint = Endpoint::new(&config(&url, &extra)).unwrap();
    let deadline = tokio::time::Instant::now() + within;
    let delivery = endpoint.send_with_retry(body(), 1, deadline).await;
    (delivery, rx.requests().len())
}

#[tokio::test]
async fn tls_with_a_trusted_certificate_delivers() {
    let (pem, server) = certificate(&["127.0.0.1", "localhost"], None);
    let (delivery, requests) = send_tls(server, Some(&pem), Duration::from_secs(10)).await;
    assert_eq!(delivery, Delivery::Sent { retries: 0 });
    assert_eq!(requests, 1);
}

#[tokio::test]
async fn untrusted_expired_and_misnamed_certificates_are_refused() {
    let (_, untrusted) = certificate(&["127.0.0.1"], None);
    let (expired_pem, expired) = certificate(&["127.0.0.1"], Some((2020, 2021)));
    let (misnamed_pem, misnamed) = certificate(&["receiver.example.com"], None);
    for (what, server, ca, expected) in [
        ("untrusted", untrusted, None, "UnknownIssuer"),
        (
            "expired",
            expired,
            Some(expired_pem.as_str()),
            "certificate expired",
        ),
        (
            "misnamed",
            misnamed,
            Some(misnamed_pem.as_str()),
            "not valid for name",
        ),
    ] {
        let (delivery, requests) = send_tls(server, ca, Duration::from_millis(300)).await;
        // Retried until the deadline (the operator may fix the certificate), never sent.
        match &delivery {
            Delivery::GaveUp(reason) => {
                assert!(reason.contains(expected), "{what}: {reason}")
            }
            other => panic!("{what}: {other:?}"),
        }
        assert_eq!(requests, 0, "{what}: a request got through");
    }
}

#[tokio::test]
async fn the_wal_queue_delivers_everything_through_a_hostile_receiver() {
    let rx = Receiver::start(vec![
        Scripted::reset(),
        Scripted::garbage(),
        Scripted::with_body(500, 1 << 30),
        Scripted::redirect(302, "http://127.0.0.1:1/".into()),
        Scripted::reset(),
    ]);
    let state = tempfile::tempdir().unwrap();
    let queue = RemoteWriteQueue::start(
        &config(
            &http(&rx),
            "queue = { max_samples_per_send = 50, batch_send_deadline = \"50ms\", min_backoff = \"10ms\", max_backoff = \"50ms\" }",
        ),
        state.path(),
    )
    .unwrap();
    for cycle in 0..4 {
        queue.push(
            (0..100)
                .map(|i| sample(&format!("m{i}"), 1.0, 1000 * cycle + 1))
                .collect(),
            &[],
        );
    }
    let endpoint = queue.endpoint().clone();
    let undelivered = queue
        .shutdown(tokio::time::Instant::now() + Duration::from_secs(20))
        .await;
    assert_eq!(undelivered, 0);
    assert_eq!(endpoint.stats.sent_total(), 400);
}

/// `sonde run` remote-writing to `url` every second, with only the cpu plugin.
fn agent_writing_to(url: &str) -> crate::agent::Daemon {
    crate::agent::Daemon::start(&format!(
        "interval = \"1s\"\n{}[[remote_write]]\nurl = \"{url}\"\nqueue = {{ batch_send_deadline = \"100ms\", min_backoff = \"50ms\", max_backoff = \"1s\" }}\n",
        crate::agent::ONLY_CPU
    ))
}

#[test]
fn sigterm_stops_within_seconds_whatever_the_receiver_does() {
    // Regression: with a receiver that refused, never answered or closed mid-request, `sonde
    // run` was still running 45-60 s after SIGTERM (the send in flight had no deadline).
    let refusing = format!(
        "http://127.0.0.1:{}/api/v1/write",
        crate::support::free_port()
    );
    let silent = Receiver::always(Scripted {
        delay: Duration::from_secs(3600),
        ..Scripted::status(200)
    });
    let resetting = Receiver::always(Scripted::reset());
    for (what, url) in [
        ("refusing connections", refusing),
        ("never answering", http(&silent)),
        ("closing mid-request", http(&resetting)),
    ] {
        let daemon = agent_writing_to(&url);
        // Two cycles collected, so a send is in flight or being retried.
        daemon.wait_for(Duration::from_secs(20), |m| {
            crate::agent::value(m, r#"sonde_plugin_cycles_total{plugin="cpu"}"#) >= 3.0
        });
        let started = std::time::Instant::now();
        let status = daemon.terminate(Duration::from_secs(30));
        let took = started.elapsed();
        assert_eq!(status.code(), Some(0), "{what}: {}", daemon.log());
        assert!(
            took < sonde::agent::SHUTDOWN_FLUSH_DEADLINE + Duration::from_secs(2),
            "{what}: SIGTERM took {took:?}"
        );
        assert!(
            daemon
                .log()
                .contains("stopping with samples left in the write-ahead log"),
            "{what}: {}",
            daemon.log()
        );
    }
}

#[test]
fn an_outage_is_logged_once_with_its_start_and_its_recovery() {
    // Regression: a receiver answering 500 produced no log line at the default level.
    let rx = Receiver::start(vec![Scripted::status(500); 8]);
    let daemon = agent_writing_to(&http(&rx));
    daemon.wait_for(Duration::from_secs(30), |m| {
        m.iter()
            .any(|(k, v)| k.starts_with("sonde_remote_write_samples_sent_total") && *v > 0.0)
    });
    let log = daemon.log();
    let lines = |needle: &str| log.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(lines("remote write failing"), 1, "{log}");
    assert!(
        log.lines().any(|l| l.contains("WARN")
            && l.contains("remote write failing")
            && l.contains("HTTP 500")),
        "{log}"
    );
    assert_eq!(lines("remote write recovered"), 1, "{log}");
    let recovered = log
        .lines()
        .find(|l| l.contains("remote write recovered"))
        .unwrap();
    assert!(
        recovered.contains("failed_attempts=8") && recovered.contains("outage="),
        "{recovered}"
    );
    // Retries themselves stay at debug level.
    assert_eq!(lines("retrying"), 0, "{log}");
}

#[tokio::test]
async fn the_log_is_synced_and_bounded_while_a_batch_is_retried() {
    // Regression: fsync and `max_age` ran only between sends, so during an outage (one batch
    // retried for as long as it lasts) nothing was synced and the log grew past max_age.
    let refusing = format!(
        "http://127.0.0.1:{}/api/v1/write",
        crate::support::free_port()
    );
    let state = tempfile::tempdir().unwrap();
    let queue = RemoteWriteQueue::start(
        &config(
            &refusing,
            "queue = { max_samples_per_send = 10, batch_send_deadline = \"10ms\", min_backoff = \"10ms\", max_backoff = \"20ms\" }\nwal = { max_age = \"1s\" }",
        ),
        state.path(),
    )
    .unwrap();
    // More than a segment (8 MiB) of samples that do not compress, so the oldest can go.
    let mut pushed = 0;
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut noise = || {
        (0..40)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                format!("{:04x}", seed >> 48)
            })
            .collect::<String>()
    };
    for _ in 0..150 {
        let now = sonde::remote_write::stats::now_ms();
        let samples: Vec<_> = (0..500)
            .map(|i| {
                let mut s = sample(&format!("m{i}"), 1.0, now);
                s.labels.push(sonde_sdk::Label {
                    name: "noise".into(),
                    value: noise(),
                });
                s
            })
            .collect();
        pushed += samples.len() as u64;
        queue.push(samples, &[]);
    }
    let figure = |name: &str| {
        queue
            .wal_families()
            .into_iter()
            .find(|f| f.name == name)
            .map(|f| f.samples[0].value)
            .unwrap()
    };
    assert!(
        figure("sonde_wal_segments") >= 2.0,
        "{} bytes",
        figure("sonde_wal_bytes")
    );
    let syncs_before = figure("sonde_wal_syncs_total");
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(
        queue.endpoint().health.is_failing(),
        "the receiver is down: the sender is retrying"
    );
    assert!(
        figure("sonde_wal_syncs_total") > syncs_before,
        "the log was synced during the outage"
    );
    let dropped = figure("sonde_wal_dropped_samples_total");
    assert!(dropped > 0.0, "segments past max_age were dropped");
    assert_eq!(figure("sonde_wal_segments"), 1.0);
    // Nothing counted twice: what is pending plus what was dropped is what was pushed.
    assert_eq!(
        figure("sonde_remote_write_samples_pending") + dropped,
        pushed as f64
    );
    queue
        .shutdown(tokio::time::Instant::now() + Duration::from_millis(100))
        .await;
}

/// A process's resident memory (kB), open sockets and CPU time (clock ticks).
fn usage(pid: u32) -> (u64, usize, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    let sockets = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let cpu = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    (rss, sockets, cpu)
}

/// Up to `n` connections to `port` that send nothing: as many as the kernel completes (past the
/// listener's backlog, a connect waits for a retransmitted SYN; this stops at the first that
/// takes more than 200 ms).
fn idle_connections(port: u16, n: usize) -> Vec<std::net::TcpStream> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    (0..n)
        .map_while(|_| {
            std::net::TcpStream::connect_timeout(&address, Duration::from_millis(200)).ok()
        })
        .collect()
}

#[test]
fn idle_connections_are_capped_closed_and_cost_no_memory() {
    // Regression: idle connections were never closed and cost ~9.6 KB each; 11,262 of them got
    // the agent OOM-killed in a 128 MiB cgroup.
    let daemon = crate::agent::Daemon::start_with(
        &format!("interval = \"1s\"\n{}", crate::agent::ONLY_CPU),
        "max_connections = 32\nheader_read_timeout = \"1s\"\n",
        None,
    );
    // Measured once the built-ins have switched to the code compiled for this CPU in the
    // background: its mapping and their fresh instances are not the connections' memory.
    daemon.wait_for_log(
        crate::agent::SWITCHED_TO_NATIVE_CODE,
        1,
        Duration::from_secs(60),
    );
    let pid = daemon.pid();
    let (rss_before, sockets_before, _) = usage(pid);
    let held = idle_connections(daemon.port, 400);
    assert!(held.len() >= 100, "only {} connections", held.len());
    std::thread::sleep(Duration::from_millis(500));
    let (rss, sockets, _) = usage(pid);
    assert!(
        sockets <= sockets_before + 32,
        "{sockets} sockets, {sockets_before} before: the cap of 32 connections does not hold"
    );
    assert!(
        rss < rss_before + 4096,
        "RSS {rss} kB with {} idle connections, {rss_before} kB before",
        held.len()
    );
    // The first ones served are closed by the header deadline.
    use std::io::Read;
    let mut first = &held[0];
    first
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(
        first.read(&mut [0; 16]).unwrap(),
        0,
        "closed after 1 s idle"
    );
    // A kept-alive connection idle after a request is closed too.
    drop(held);
    let mut scraper = std::net::TcpStream::connect(("127.0.0.1", daemon.port)).unwrap();
    use std::io::Write;
    write!(scraper, "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    scraper
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = scraper.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.ends_with("OK\n"),
        "kept alive, then closed: {answer}"
    );
    daemon.wait_for(Duration::from_secs(30), |m| m.contains_key("node_load1"));
}

#[test]
fn connections_never_take_the_plugins_descriptors_nor_spin_the_accept_loop() {
    // Regression: with the open-files limit reached, the accept loop spun at ~100 % CPU and every
    // plugin failed with "Too many open files".
    let daemon = crate::agent::Daemon::start_with(
        &format!(
            "interval = \"1s\"\n{}",
            crate::agent::ONLY_CPU.replace("[plugins.mem]\nenabled = false\n", "")
        ),
        "max_connections = 1000\n",
        Some(128),
    );
    let pid = daemon.pid();
    let cycles = |m: &std::collections::BTreeMap<String, f64>| {
        m.get(r#"sonde_plugin_cycles_total{plugin="mem"}"#)
            .copied()
            .unwrap_or(0.0)
    };
    let before = cycles(&daemon.metrics());
    let (_, _, cpu_before) = usage(pid);
    let held = idle_connections(daemon.port, 600);
    std::thread::sleep(Duration::from_secs(3));
    let (_, sockets, cpu) = usage(pid);
    assert!(
        sockets <= 16 + 4,
        "{sockets} sockets: more than 16 connections"
    );
    // 3 s at 100 ticks a second: a spinning loop would take ~300.
    assert!(
        cpu - cpu_before < 60,
        "{} ticks of CPU in 3 s",
        cpu - cpu_before
    );
    drop(held);
    let after = daemon.wait_for(Duration::from_secs(60), |m| cycles(m) >= before + 3.0);
    // A part of each of the cpu and mem plugins.
    for part in ["loadavg", "meminfo"] {
        assert_eq!(
            crate::agent::value(
                &after,
                &format!("node_scrape_collector_success{{collector=\"{part}\"}}")
            ),
            1.0,
            "{part}: {}",
            daemon.log()
        );
    }
    assert!(
        !daemon.log().contains("Too many open files"),
        "{}",
        daemon.log()
    );
}

#[tokio::test]
async fn insecure_skip_verify_accepts_an_untrusted_certificate() {
    // The same untrusted certificate is refused without it (see above).
    let (_, untrusted) = certificate(&["receiver.example.com"], Some((2020, 2021)));
    let rx = Receiver::start_tls(vec![], untrusted);
    let url = format!("https://127.0.0.1:{}/api/v1/write", rx.port);
    let endpoint = Endpoint::new(&config(&url, "tls = { insecure_skip_verify = true }")).unwrap();
    let delivery = endpoint.send_with_retry(body(), 1, far()).await;
    assert_eq!(delivery, Delivery::Sent { retries: 0 });
    assert_eq!(rx.requests().len(), 1);
}

#[tokio::test]
async fn a_receiver_that_requires_a_client_certificate_gets_it() {
    // Mutual TLS: the receiver trusts one client CA and refuses connections without a
    // certificate it signed.
    let client_key = rcgen::KeyPair::generate().unwrap();
    let client_cert = rcgen::CertificateParams::new(vec!["sonde-client".to_string()])
        .unwrap()
        .self_signed(&client_key)
        .unwrap();
    let mut client_roots = rustls::RootCertStore::empty();
    client_roots.add(client_cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        client_roots.into(),
        provider.clone(),
    )
    .build()
    .unwrap();
    // The server's own certificate, with the verifier in place of `with_no_client_auth`.
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&server_key)
        .unwrap();
    let server = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![server_cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
            )
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let ca = file("ca.pem", server_cert.pem());
    let cert = file("client.pem", client_cert.pem());
    let key = file("client-key.pem", client_key.serialize_pem());

    let rx = Receiver::start_tls(vec![], server);
    let url = format!("https://127.0.0.1:{}/api/v1/write", rx.port);
    let without = Endpoint::new(&config(&url, &format!("tls = {{ ca_file = {ca:?} }}"))).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    let refused = without.send_with_retry(body(), 1, deadline).await;
    assert!(matches!(refused, Delivery::GaveUp(_)), "{refused:?}");
    assert!(
        rx.requests().is_empty(),
        "a request got through without a certificate"
    );

    let with = Endpoint::new(&config(
        &url,
        &format!("tls = {{ ca_file = {ca:?}, cert_file = {cert:?}, key_file = {key:?} }}"),
    ))
    .unwrap();
    assert_eq!(
        with.send_with_retry(body(), 1, far()).await,
        Delivery::Sent { retries: 0 }
    );
    assert_eq!(rx.requests().len(), 1);
}
