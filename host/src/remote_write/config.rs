//! `[[remote_write]]`: one receiver and how samples are queued and sent to it, with Prometheus'
//! `remote_write` / `queue_config` defaults.

use crate::units::{ByteSize, ConfigDuration};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// One remote-write endpoint.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RemoteWriteConfig {
    /// The receiver's URL, e.g. `http://127.0.0.1:38086/api/v1/prometheus` (DeepFlow Agent) or
    /// `http://prometheus:9090/api/v1/write`.
    pub url: String,
    /// A name for logs and self-metrics (default: the URL).
    #[serde(default)]
    pub name: Option<String>,
    /// Timeout of one HTTP request (default 30s).
    #[serde(default = "default_timeout")]
    pub remote_timeout: ConfigDuration,
    /// Extra HTTP headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// HTTP basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// A bearer token sent as `Authorization: Bearer …`.
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// A file holding the bearer token (read at start).
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// TLS settings for `https://` URLs.
    #[serde(default)]
    pub tls: TlsConfig,
    /// Labels added to every sample sent to this endpoint (a sample's own label wins).
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    /// Also send HELP and TYPE as remote-write metadata (default off).
    #[serde(default)]
    pub send_metadata: bool,
    /// Queue and retry settings.
    #[serde(default)]
    pub queue: QueueConfig,
    /// The write-ahead log every sample goes through before it is sent.
    #[serde(default)]
    pub wal: WalConfig,
}

/// `wal = { … }`: bounds and durability of the endpoint's write-ahead log.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WalConfig {
    /// The most disk the log may use; past it the oldest segments are dropped (default 512MiB).
    pub max_size: ByteSize,
    /// Samples older than this are dropped with their segment (default 2h; Prometheus refuses
    /// samples much older than its head block anyway).
    pub max_age: ConfigDuration,
    /// `interval` (default): fsync once a second, so a power failure loses at most a second of
    /// samples (a crash of sonde alone loses nothing); `batch`: fsync every append.
    pub sync: WalSync,
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            max_size: ByteSize(512 << 20),
            max_age: ConfigDuration(Duration::from_secs(2 * 3600)),
            sync: WalSync::Interval,
        }
    }
}

/// When the write-ahead log is flushed to disk.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WalSync {
    /// Once a second.
    #[default]
    Interval,
    /// After every append.
    Batch,
}

fn default_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(30))
}

/// `basic_auth = { username = "…", password = "…" }` (or `password_file`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// The password.
    #[serde(default)]
    pub password: Option<String>,
    /// A file holding the password (read at start).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// `tls = { … }`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of CA certificates to trust (in addition to the system's).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for mutual TLS.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub key_file: Option<PathBuf>,
    /// Accept any server certificate. For tests only: it disables authentication of the receiver.
    pub insecure_skip_verify: bool,
}

/// `queue = { … }`, with Prometheus' `queue_config` defaults.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// Samples per request (default 2000).
    pub max_samples_per_send: usize,
    /// Send a partial batch after this long (default 5s).
    pub batch_send_deadline: ConfigDuration,
    /// Parallel senders, each with its own log; a series always goes to the same one, so its
    /// samples stay in order (default 1).
    pub shards: usize,
    /// While a backlog drains after an outage, send at most this many samples per second per
    /// shard (0, the default: as fast as the receiver takes them).
    pub max_samples_per_second: u64,
    /// First retry delay (default 30ms), doubled on each retry.
    pub min_backoff: ConfigDuration,
    /// Longest retry delay (default 5s).
    pub max_backoff: ConfigDuration,
    /// Retry on HTTP 429, honouring `Retry-After` (default on).
    pub retry_on_http_429: bool,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_samples_per_send: 2000,
            batch_send_deadline: ConfigDuration(Duration::from_secs(5)),
            shards: 1,
            max_samples_per_second: 0,
            min_backoff: ConfigDuration(Duration::from_millis(30)),
            max_backoff: ConfigDuration(Duration::from_secs(5)),
            retry_on_http_429: true,
        }
    }
}

impl RemoteWriteConfig {
    /// The name used in logs and self-metrics.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.url)
    }

    /// Checks what serde cannot: the URL, exclusive auth settings, sane queue numbers. The error
    /// names the key.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let url = reqwest::Url::parse(&self.url)
            .map_err(|e| ("url", format!("invalid URL {:?}: {e}", self.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err((
                "url",
                format!("{:?}: only http and https are supported", self.url),
            ));
        }
        if self.bearer_token.is_some() && self.bearer_token_file.is_some() {
            return Err((
                "bearer_token",
                "set bearer_token or bearer_token_file, not both".into(),
            ));
        }
        if (self.bearer_token.is_some() || self.bearer_token_file.is_some())
            && self.basic_auth.is_some()
        {
            return Err((
                "basic_auth",
                "set basic_auth or a bearer token, not both".into(),
            ));
        }
        if let Some(auth) = &self.basic_auth
            && auth.password.is_some()
            && auth.password_file.is_some()
        {
            return Err((
                "basic_auth",
                "set password or password_file, not both".into(),
            ));
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            return Err(("tls", "cert_file and key_file go together".into()));
        }
        if self.queue.max_samples_per_send == 0 || self.queue.shards == 0 {
            return Err((
                "queue",
                "max_samples_per_send and shards must be at least 1".into(),
            ));
        }
        if self.queue.shards > 64 {
            return Err(("queue", "at most 64 shards".into()));
        }
        if self.wal.max_size.0 < 2 * crate::remote_write::wal::SEGMENT_BYTES {
            return Err((
                "wal",
                "max_size must be at least 16MiB (two segments)".into(),
            ));
        }
        if self.queue.min_backoff.0 > self.queue.max_backoff.0 {
            return Err(("queue", "min_backoff is longer than max_backoff".into()));
        }
        for name in self.external_labels.keys() {
            sonde_sdk::metrics::check_label_name(name)
                .map_err(|e| ("external_labels", e.to_string()))?;
        }
        Ok(())
    }
}
