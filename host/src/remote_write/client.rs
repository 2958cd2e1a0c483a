//! The HTTP side of remote write: one [`Endpoint`] per `[[remote_write]]`, sending snappy
//! protobuf bodies with the headers of the 1.0 protocol, and [`Endpoint::send_with_retry`], which retries
//! what Prometheus retries (network errors, 5xx, 429 honouring `Retry-After`) with exponential
//! backoff and gives up on other 4xx.

use super::config::{RemoteWriteConfig, TlsConfig};
use super::health::Health;
use super::stats::EndpointStats;
use anyhow::Context;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("sonde/", env!("CARGO_PKG_VERSION"));

/// A configured receiver.
pub struct Endpoint {
    /// Name for logs and metrics.
    pub name: String,
    url: reqwest::Url,
    client: reqwest::Client,
    headers: HeaderMap,
    basic_auth: Option<(String, String)>,
    min_backoff: Duration,
    max_backoff: Duration,
    retry_on_429: bool,
    /// Counters of what was sent, retried, failed.
    pub stats: Arc<EndpointStats>,
    /// Whether the receiver takes what is sent; logs outages and recoveries.
    pub health: Health,
}

/// What one attempt came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt {
    /// 2xx: the receiver accepted the batch.
    Accepted,
    /// A network error, a timeout, 5xx or 429: try again (after `retry_after` if the receiver
    /// said so).
    Retry {
        /// Why.
        reason: String,
        /// The receiver's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// Another 4xx: the receiver will never take this batch (e.g. samples too old).
    Rejected {
        /// Status and the start of the receiver's message.
        reason: String,
    },
}

/// How a batch ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Accepted after this many retries.
    Sent {
        /// Retries it took.
        retries: u32,
    },
    /// Rejected for good by the receiver.
    Rejected(String),
    /// Still failing when the caller's deadline passed.
    GaveUp(String),
}

impl Endpoint {
    /// Builds the HTTP client: TLS (system roots plus `ca_file`, client certificate,
    /// `insecure_skip_verify`), timeout, auth and custom headers.
    pub fn new(config: &RemoteWriteConfig) -> anyhow::Result<Endpoint> {
        let url = reqwest::Url::parse(&config.url)
            .with_context(|| format!("remote_write url {:?}", config.url))?;
        let mut headers = HeaderMap::new();
        headers.insert("Content-Encoding", HeaderValue::from_static("snappy"));
        headers.insert(
            "Content-Type",
            HeaderValue::from_static("application/x-protobuf"),
        );
        headers.insert(
            "X-Prometheus-Remote-Write-Version",
            HeaderValue::from_static("0.1.0"),
        );
        for (name, value) in &config.headers {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes())
                    .with_context(|| format!("header name {name:?}"))?,
                HeaderValue::from_str(value)
                    .with_context(|| format!("value of header {name:?}"))?,
            );
        }
        let token = match (&config.bearer_token, &config.bearer_token_file) {
            (Some(token), _) => Some(token.clone()),
            (None, Some(file)) => Some(
                std::fs::read_to_string(file)
                    .with_context(|| format!("reading bearer_token_file {}", file.display()))?
                    .trim()
                    .to_owned(),
            ),
            (None, None) => None,
        };
        if let Some(token) = token {
            headers.insert(
                "Authorization",
                HeaderValue::from_str(&format!("Bearer {token}")).context("bearer token")?,
            );
        }
        let mut basic_auth = None;
        if let Some(auth) = &config.basic_auth {
            let password = match (&auth.password, &auth.password_file) {
                (Some(p), _) => p.clone(),
                (None, Some(file)) => std::fs::read_to_string(file)
                    .with_context(|| format!("reading password_file {}", file.display()))?
                    .trim_end_matches(['\n', '\r'])
                    .to_owned(),
                (None, None) => String::new(),
            };
            basic_auth = Some((auth.username.clone(), password));
        }
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(config.remote_timeout.0)
            .connect_timeout(config.remote_timeout.0.min(Duration::from_secs(10)))
            .redirect(redirect_policy())
            .use_preconfigured_tls(tls_config(&config.tls)?)
            .build()
            .context("building the HTTP client")?;
        let name = config.display_name().to_owned();
        Ok(Endpoint {
            stats: Arc::new(EndpointStats::new(&name)),
            health: Health::new(&name),
            name,
            url,
            client,
            headers,
            basic_auth,
            min_backoff: config.queue.min_backoff.0,
            max_backoff: config.queue.max_backoff.0,
            retry_on_429: config.queue.retry_on_http_429,
        })
    }

    /// One POST of an encoded body.
    pub async fn attempt(&self, body: Vec<u8>) -> Attempt {
        let mut request = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .body(body);
        if let Some((user, password)) = &self.basic_auth {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await;
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    reason: error_chain(&e),
                    retry_after: None,
                };
            }
        };
        let status = response.status();
        if status.is_success() {
            // The body of a 2xx is not read: a receiver answering with an endless body costs
            // nothing.
            return Attempt::Accepted;
        }
        if status.is_redirection() {
            // Only 307/308 are followed (they keep the method and body); a 301/302/303 would
            // turn the POST into a GET and lose the batch, so it is retried instead.
            let location = response
                .headers()
                .get("Location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            return Attempt::Retry {
                reason: format!("HTTP {status} redirect to {location:?} not followed"),
                retry_after: None,
            };
        }
        let retry_after = response
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        // Read the start of the body: receivers explain rejections there. Never more than
        // ERROR_BODY_BYTES, however much the receiver sends.
        let mut response = response;
        let mut start = Vec::new();
        while start.len() < ERROR_BODY_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => start.extend_from_slice(&chunk),
                _ => break,
            }
        }
        start.truncate(ERROR_BODY_BYTES);
        let text = String::from_utf8_lossy(&start).trim().to_owned();
        let reason = format!("HTTP {status}: {text}");
        if status.is_server_error() || (status.as_u16() == 429 && self.retry_on_429) {
            Attempt::Retry {
                reason,
                retry_after,
            }
        } else {
            Attempt::Rejected { reason }
        }
    }

    /// Sends a body until it is accepted, rejected, or `deadline` passes; retries back off
    /// exponentially from `min_backoff` to `max_backoff`, or wait what `Retry-After` says.
    pub async fn send_with_retry(
        &self,
        body: Vec<u8>,
        samples: usize,
        deadline: Instant,
    ) -> Delivery {
        self.send(
            body,
            samples,
            Retrying {
                deadline,
                shutdown: None,
                abandoned: &|| false,
                backlog: &|| samples as u64,
            },
        )
        .await
    }

    /// Sends a body until it is accepted or rejected, or `retrying` ends it (see [`Retrying`]).
    /// Failures and the recovery are reported to [`Self::health`].
    pub async fn send(&self, body: Vec<u8>, samples: usize, retrying: Retrying<'_>) -> Delivery {
        let Retrying {
            deadline,
            shutdown,
            abandoned,
            backlog,
        } = retrying;
        // Only a shutdown cuts an attempt in flight; otherwise `remote_timeout` bounds it.
        let cut = async {
            match shutdown.clone() {
                Some(shutdown) => shutdown_deadline(shutdown).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(cut);
        // Once a shutdown is asked for, its deadline is the last moment to retry.
        let deadline = || {
            shutdown
                .as_ref()
                .and_then(|s| *s.borrow())
                .map_or(deadline, |stop| stop.min(deadline))
        };
        let mut backoff = self.min_backoff;
        let mut retries = 0;
        let mut last_failure = String::new();
        let bytes = body.len();
        loop {
            let attempt = tokio::select! {
                attempt = self.attempt(body.clone()) => attempt,
                () = cut.as_mut() => {
                    return Delivery::GaveUp(format!("stopped while sending{}", if last_failure.is_empty() { String::new() } else { format!(" (last failure: {last_failure})") }));
                }
            };
            let (reason, retry_after) = match attempt {
                Attempt::Accepted => {
                    self.stats.sent(samples, bytes);
                    self.health
                        .delivered(backlog().saturating_sub(samples as u64));
                    return Delivery::Sent { retries };
                }
                Attempt::Rejected { reason } => {
                    self.stats.failed(samples);
                    self.health
                        .delivered(backlog().saturating_sub(samples as u64));
                    tracing::warn!(endpoint = %self.name, samples, %reason, "receiver rejected a batch; dropped");
                    return Delivery::Rejected(reason);
                }
                Attempt::Retry {
                    reason,
                    retry_after,
                } => (reason, retry_after),
            };
            self.health.failed(&reason, backlog());
            let wait = retry_after.unwrap_or(backoff).min(MAX_RETRY_WAIT);
            if abandoned() || Instant::now() + wait > deadline() {
                return Delivery::GaveUp(reason);
            }
            retries += 1;
            self.stats.retried(samples);
            tracing::debug!(endpoint = %self.name, %reason, ?wait, "send failed; retrying");
            // A shutdown asked for during the wait may leave no time for the retry.
            let until = Instant::now() + wait;
            let stop_asked = async {
                match shutdown.clone() {
                    Some(mut shutdown) => {
                        let _ = shutdown.wait_for(Option::is_some).await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep_until(until) => {}
                () = stop_asked => {
                    if until > deadline() {
                        return Delivery::GaveUp(reason);
                    }
                    tokio::time::sleep_until(until).await;
                }
            }
            if abandoned() {
                return Delivery::GaveUp(reason);
            }
            last_failure = reason;
            backoff = (backoff * 2).min(self.max_backoff);
        }
    }
}

/// What ends the retries of one send (see [`Endpoint::send`]).
pub struct Retrying<'a> {
    /// No retry starts after this (an attempt itself is bounded by `remote_timeout`).
    pub deadline: Instant,
    /// A queue's shutdown: once it holds a deadline, no retry starts after that deadline and the
    /// attempt in flight is abandoned at it.
    pub shutdown: Option<watch::Receiver<Option<Instant>>>,
    /// Asked before and after each wait for a retry: true when the batch no longer needs sending
    /// (the write-ahead log dropped it).
    pub abandoned: &'a (dyn Fn() -> bool + Sync),
    /// The samples waiting to be sent, this batch included (for logs).
    pub backlog: &'a (dyn Fn() -> u64 + Sync),
}

/// Resolves once a shutdown has been asked for and its deadline has passed.
pub async fn shutdown_deadline(mut shutdown: watch::Receiver<Option<Instant>>) {
    let asked = shutdown.wait_for(Option::is_some).await.map(|d| *d);
    match asked {
        Ok(deadline) => tokio::time::sleep_until(deadline.expect("waited for Some")).await,
        // The queue is gone: nothing will ask for a shutdown.
        Err(_) => std::future::pending().await,
    }
}

/// The longest wait between two attempts, whatever `Retry-After` asks for.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(300);

/// How much of an error response's body is read and logged.
const ERROR_BODY_BYTES: usize = 512;

/// Follows up to 3 redirects that keep the method and body (307, 308); any other redirect is
/// returned as it is (and retried by [`Endpoint::attempt`]).
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > 3 {
            attempt.error("more than 3 redirects")
        } else if matches!(attempt.status().as_u16(), 307 | 308) {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// The TLS client config: ring as the crypto provider, system roots plus `ca_file`, optional
/// client certificate, or no verification at all with `insecure_skip_verify`.
fn tls_config(tls: &TlsConfig) -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(insecure::AcceptAnyCertificate(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if let Some(ca_file) = &tls.ca_file {
            use rustls_pki_types::pem::PemObject;
            let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(ca_file)
                .with_context(|| format!("reading tls.ca_file {}", ca_file.display()))?
                .collect::<Result<_, _>>()
                .with_context(|| format!("parsing tls.ca_file {}", ca_file.display()))?;
            anyhow::ensure!(
                !certs.is_empty(),
                "tls.ca_file {} holds no certificate",
                ca_file.display()
            );
            for cert in certs {
                roots
                    .add(cert)
                    .with_context(|| format!("tls.ca_file {}", ca_file.display()))?;
            }
        }
        builder.with_root_certificates(roots)
    };
    Ok(match (&tls.cert_file, &tls.key_file) {
        (Some(cert_file), Some(key_file)) => {
            use rustls_pki_types::pem::PemObject;
            let certs = rustls_pki_types::CertificateDer::pem_file_iter(cert_file)
                .with_context(|| format!("reading tls.cert_file {}", cert_file.display()))?
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("parsing tls.cert_file {}", cert_file.display()))?;
            let key = rustls_pki_types::PrivateKeyDer::from_pem_file(key_file)
                .with_context(|| format!("reading tls.key_file {}", key_file.display()))?;
            builder
                .with_client_auth_cert(certs, key)
                .context("tls client certificate")?
        }
        _ => builder.with_no_client_auth(),
    })
}

mod insecure {
    //! The verifier behind `insecure_skip_verify`: accepts every certificate, still checks
    //! signatures of the handshake itself.
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::CryptoProvider;
    use rustls::{DigitallySignedStruct, Error, SignatureScheme};
    use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
    use std::sync::Arc;

    #[derive(Debug)]
    pub struct AcceptAnyCertificate(pub Arc<CryptoProvider>);

    impl ServerCertVerifier for AcceptAnyCertificate {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

/// `Retry-After`: delay-seconds, or an HTTP-date (RFC 9110 allows both; Prometheus honours both):
/// the time until that date, zero if it is past.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// An error with its causes, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_or_an_http_date() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        // A date in the past: retry at once.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let in_a_minute =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(61));
        let wait = parse_retry_after(&in_a_minute).unwrap();
        assert!(
            (Duration::from_secs(59)..=Duration::from_secs(61)).contains(&wait),
            "{wait:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
