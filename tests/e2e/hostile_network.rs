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
