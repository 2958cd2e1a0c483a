//! The pull endpoint: `GET /metrics` in the Prometheus text format (gzip when the scraper asks),
//! from the latest values, so Prometheus or Alloy can scrape sonde as a node_exporter drop-in;
//! `GET /-/healthy` and `GET /-/ready` for probes.

use crate::store::LatestValues;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The text format's content type, as node_exporter sends it.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Binds `listen` and serves until `shutdown` turns true. Binding errors are returned at once.
pub async fn serve(
    listen: SocketAddr,
    store: Arc<LatestValues>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("[http] listen {listen}: {e}"))?;
    tracing::info!(%listen, "serving /metrics");
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let store = store.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |request| {
                            let store = store.clone();
                            async move { Ok::<_, std::convert::Infallible>(respond(&store, &request)) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                _ = shutdown.changed() => break,
            }
        }
    }))
}

fn respond(store: &LatestValues, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
    }
    match request.uri().path() {
        "/metrics" => {
            let text = store.render();
            let gzip = request
                .headers()
                .get(ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
            let mut response = if gzip {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                let _ = encoder.write_all(text.as_bytes());
                let mut response =
                    Response::new(Full::new(Bytes::from(encoder.finish().unwrap_or_default())));
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
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
