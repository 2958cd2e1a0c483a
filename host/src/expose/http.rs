//! The pull endpoint: `GET /metrics` in the Prometheus text format (gzip when the scraper asks),
//! from the latest values, so Prometheus or Alloy can scrape sonde as a node_exporter drop-in;
//! `GET /-/healthy` and `GET /-/ready` for probes; over TLS and behind basic auth when a web
//! config file says so ([`crate::expose::web_config`]).

use crate::expose::SelfMetrics;
use crate::expose::collect_filter::select;
use crate::expose::store::LatestValues;
use crate::expose::web_config::WebConfig;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{
    ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE,
};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The text format's content type, as node_exporter sends it.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Limits of the endpoint against clients that hold connections (anyone who can reach the port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections served at once; more wait in the kernel's backlog, holding no descriptor.
    pub max_connections: usize,
    /// A request's header must arrive within this from when the connection waits for it: the
    /// first request's, and the next one's on a kept-alive connection (so it is also the idle
    /// keep-alive deadline).
    pub header_read_timeout: Duration,
}

/// Read buffer of a connection: requests to /metrics are a few hundred bytes.
const MAX_REQUEST_BUFFER: usize = 16 << 10;

/// Binds `listen` and serves until `shutdown` turns true. Binding errors are returned at once.
/// Each connection is served under the web config `web` holds when it is accepted (TLS, basic
/// auth, headers; plain HTTP when it holds none).
///
/// At most `limits.max_connections` connections are open at once, and never more than an eighth
/// of the descriptor limit, so that the plugins' files (a quarter, [`crate::sandbox::kept_files::Budget`])
/// and the agent's own (the write-ahead log, remote-write connections) always have theirs.
/// Accept errors (such as the descriptor limit) back off from 5 ms to 1 s instead of spinning.
pub async fn serve(
    listen: SocketAddr,
    store: Arc<LatestValues>,
    self_metrics: Arc<dyn SelfMetrics>,
    limits: ConnectionLimits,
    web: watch::Receiver<Option<Arc<WebConfig>>>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("[http] listen {listen}: {e}"))?;
    let max_connections = limits
        .max_connections
        .min(crate::sandbox::kept_files::descriptor_limit() / 8)
        .max(1);
    tracing::info!(%listen, max_connections, "serving /metrics");
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
    Ok(tokio::spawn(async move {
        let mut backoff = AcceptBackoff::default();
        loop {
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                _ = shutdown.changed() => break,
            };
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => { backoff.succeeded(); stream }
                    Err(e) => { backoff.failed(&e).await; continue; }
                },
                _ = shutdown.changed() => break,
            };
            let (store, self_metrics) = (store.clone(), self_metrics.clone());
            // The web config of the moment: a SIGHUP that replaces it applies to the next
            // connections.
            let web = web.borrow().clone();
            tokio::spawn(async move {
                let _slot = slot;
                let tls = web.as_ref().and_then(|w| w.tls.clone());
                let service = hyper::service::service_fn(move |request| {
                    let (store, self_metrics, web) =
                        (store.clone(), self_metrics.clone(), web.clone());
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            respond_as_configured(&store, &*self_metrics, request, web).await,
                        )
                    }
                });
                let Some(tls) = tls else {
                    serve_connection(TokioIo::new(stream), service, limits).await;
                    return;
                };
                // The handshake is bounded as a request's header is: a client that connects
                // and sends nothing holds no slot for long.
                let acceptor = tokio_rustls::TlsAcceptor::from(tls);
                match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream))
                    .await
                {
                    Ok(Ok(stream)) => serve_connection(TokioIo::new(stream), service, limits).await,
                    Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                }
            });
        }
    }))
}

/// Serves HTTP/1.1 requests on one connection, plain or TLS.
async fn serve_connection<I, S>(io: I, service: S, limits: ConnectionLimits)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = Full<Bytes>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_REQUEST_BUFFER)
        .serve_connection(io, service)
        .await;
}

/// The answer to `request` under the web config: 401 without valid basic auth credentials
/// (with `WWW-Authenticate: Basic`, as exporter-toolkit answers), the configured headers on
/// every answer.
async fn respond_as_configured(
    store: &LatestValues,
    self_metrics: &dyn SelfMetrics,
    request: Request<Incoming>,
    web: Option<Arc<WebConfig>>,
) -> Response<Full<Bytes>> {
    let Some(web) = web else {
        return respond(store, self_metrics, &request);
    };
    let allowed = match &web.auth {
        None => true,
        Some(auth) => {
            auth.allows(request.headers().get(AUTHORIZATION).cloned())
                .await
        }
    };
    let mut response = if allowed {
        respond(store, self_metrics, &request)
    } else {
        let mut response = plain(StatusCode::UNAUTHORIZED, "Unauthorized\n");
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
        response
    };
    for (name, value) in &web.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// Waits after failed accepts, doubling from 5 ms to 1 s (as Go's net/http does), and logs the
/// first failure of a run and then at most once a minute.
#[derive(Default)]
struct AcceptBackoff {
    delay: Duration,
    last_logged: Option<std::time::Instant>,
    failures: u64,
}

impl AcceptBackoff {
    async fn failed(&mut self, error: &std::io::Error) {
        self.delay = (self.delay * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
        self.failures += 1;
        if self
            .last_logged
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(60))
        {
            self.last_logged = Some(std::time::Instant::now());
            tracing::warn!(%error, failures = self.failures, retry_in = ?self.delay, "cannot accept a connection on [http] listen");
        }
        tokio::time::sleep(self.delay).await;
    }

    fn succeeded(&mut self) {
        self.delay = Duration::ZERO;
    }
}

fn respond(
    store: &LatestValues,
    self_metrics: &dyn SelfMetrics,
    request: &Request<Incoming>,
) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
    }
    match request.uri().path() {
        "/metrics" => {
            let selection = match select(request.uri().query(), self_metrics.collectors()) {
                Ok(selection) => selection,
                Err(message) => return text_response(StatusCode::BAD_REQUEST, message),
            };
            let text = store.render_selected(self_metrics.families(), selection.as_ref());
            let gzip = request
                .headers()
                .get(ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
            let mut response = if gzip {
                let mut response = Response::new(Full::new(Bytes::from(
                    crate::expose::gzip::encode(text.as_bytes()),
                )));
                response
                    .headers_mut()
                    .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                response
            } else {
                Response::new(Full::new(Bytes::from(text)))
            };
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT));
            response
        }
        "/-/healthy" => plain(StatusCode::OK, "OK\n"),
        "/-/ready" if store.is_ready() => plain(StatusCode::OK, "Ready\n"),
        "/-/ready" => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "Not ready: no cycle finished yet\n",
        ),
        "/" => plain(
            StatusCode::OK,
            "sonde: metrics at /metrics, probes at /-/healthy and /-/ready\n",
        ),
        _ => plain(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    text_response(status, text)
}

fn text_response(status: StatusCode, text: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(text.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
