//! The web config file (`[http] web_config_file`, `--web.config.file`): the Prometheus
//! exporter-toolkit's format that node_exporter reads, so an operator reuses the file they have
//! for TLS, client certificates, basic auth and response headers on `/metrics`.
//!
//! The file is read strictly, as exporter-toolkit does (`yaml.UnmarshalStrict`): an unknown key
//! is an error, and so is a value sonde cannot honour exactly (rustls has no TLS 1.0 or 1.1, no
//! CBC or RSA-key-exchange suites, no P-521; client certificates are verified against a CA or
//! not asked for), with a message saying what to write instead, never a silent downgrade.
//! Relative paths are taken from the file's directory, as exporter-toolkit does. Errors carry
//! `file:line:col` where the YAML parser knows them.
//!
//! Basic auth checks bcrypt hashes as exporter-toolkit does (an unknown user pays the bcrypt of
//! a fixed hash, so timing does not tell users apart), one bcrypt at a time; a verified password
//! is remembered per user as a SHA-256 digest of (user, hash, password), compared in constant
//! time, so a scrape does not pay a bcrypt each time.

use base64::Engine;
use hyper::header::{HeaderName, HeaderValue};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;

/// A checked web config, ready to serve with.
pub struct WebConfig {
    /// The TLS server config; `None` serves plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Basic auth; `None` when the file names no users.
    pub auth: Option<Arc<BasicAuth>>,
    /// Headers added to every response (`http_server_config.headers`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("users", &self.auth.as_ref().map_or(0, |a| a.users.len()))
            .field("headers", &self.headers)
            .finish()
    }
}

impl WebConfig {
    /// Reads and checks the file at `path`, its certificates and keys included. The error is
    /// one line: `path:line:col: message` when the YAML parser knows where, `path: message`
    /// otherwise.
    pub fn load(path: &Path) -> Result<WebConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let file: File = if text.trim().is_empty() {
            File::default()
        } else {
            serde_yaml_ng::from_str::<Option<File>>(&text)
                .map_err(|e| located(path, &e))?
                .unwrap_or_default()
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let at = |message: String| format!("{}: {message}", path.display());
        let tls = file
            .tls_server_config
            .unwrap_or_default()
            .server_config(dir)
            .map_err(at)?;
        let headers = file
            .http_server_config
            .unwrap_or_default()
            .headers
            .into_iter()
            .map(|(name, value)| {
                let parsed = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(&value),
                );
                match parsed {
                    (Ok(name), Ok(value)) => Ok((name, value)),
                    _ => Err(at(format!(
                        "http_server_config.headers: {name}: {value:?} is not a header value"
                    ))),
                }
            })
            .collect::<Result<_, _>>()?;
        let users = file.basic_auth_users.unwrap_or_default();
        let auth = (!users.is_empty()).then(|| {
            Arc::new(BasicAuth {
                users: users.into_iter().map(|(u, h)| (u, h.0)).collect(),
                verified: Mutex::default(),
                bcrypt: tokio::sync::Semaphore::new(1),
            })
        });
        Ok(WebConfig { tls, auth, headers })
    }
}

/// `path:line:col: message` from a YAML error (its own " at line … column …" removed).
fn located(path: &Path, error: &serde_yaml_ng::Error) -> String {
    let message = error.to_string();
    match error.location() {
        Some(at) => {
            let bare = message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(m, _)| m);
            format!("{}:{}:{}: {bare}", path.display(), at.line(), at.column())
        }
        None => format!("{}: {message}", path.display()),
    }
}

/// The file as written: exporter-toolkit's `web.Config`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    tls_server_config: Option<TlsFile>,
    #[serde(default)]
    http_server_config: Option<HttpFile>,
    /// Refused with a message of its own ([`refuse_rate_limit`]).
    #[serde(default, rename = "rate_limit", deserialize_with = "refuse_rate_limit")]
    _rate_limit: (),
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, BcryptHash>>,
}

/// `tls_server_config`: exporter-toolkit's `web.TLSConfig`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    #[serde(default)]
    cert: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    client_ca: String,
    #[serde(default)]
    cert_file: String,
    #[serde(default)]
    key_file: String,
    #[serde(default)]
    client_auth_type: ClientAuth,
    #[serde(default)]
    client_ca_file: String,
    #[serde(default)]
    cipher_suites: Vec<Cipher>,
    #[serde(default)]
    curve_preferences: Vec<Curve>,
    #[serde(default)]
    min_version: Option<TlsVersion>,
    #[serde(default)]
    max_version: Option<TlsVersion>,
    /// Accepted and without effect, as in Go since 1.17 (the server's order is used).
    #[serde(default, rename = "prefer_server_cipher_suites")]
    _prefer_server_cipher_suites: bool,
    /// Refused with a message of its own ([`refuse_allowed_sans`]).
    #[serde(
        default,
        rename = "client_allowed_sans",
        deserialize_with = "refuse_allowed_sans"
    )]
    _client_allowed_sans: (),
}

/// `http_server_config`: exporter-toolkit's `web.HTTPConfig`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpFile {
    /// Accepted whatever its value: sonde serves HTTP/1.1, which every scraper speaks.
    #[serde(default, rename = "http2")]
    _http2: bool,
    #[serde(default, deserialize_with = "allowed_headers")]
    headers: BTreeMap<String, String>,
}

fn refuse_rate_limit<'de, D: Deserializer<'de>>(_: D) -> Result<(), D::Error> {
    Err(serde::de::Error::custom(
        "rate_limit: not supported by sonde; [http] max_connections bounds the connections served at once",
    ))
}

fn refuse_allowed_sans<'de, D: Deserializer<'de>>(_: D) -> Result<(), D::Error> {
    Err(serde::de::Error::custom(
        "client_allowed_sans: not supported by sonde yet; issue client certificates from a CA of their own (client_ca_file) instead",
    ))
}

/// The headers exporter-toolkit lets a web config set, with the values it allows (`None`:
/// any value).
const ALLOWED_HEADERS: &[(&str, Option<&[&str]>)] = &[
    ("Strict-Transport-Security", None),
    ("X-Content-Type-Options", Some(&["nosniff"])),
    ("X-Frame-Options", Some(&["deny", "sameorigin"])),
    ("X-XSS-Protection", None),
    ("Content-Security-Policy", None),
];

/// `headers`, checked as exporter-toolkit's `validateHeaderConfig` does (names as written,
/// case included), with its messages.
fn allowed_headers<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let headers =
        Option::<BTreeMap<String, String>>::deserialize(deserializer)?.unwrap_or_default();
    for (name, value) in &headers {
        let Some((_, allowed)) = ALLOWED_HEADERS.iter().find(|(n, _)| n == name) else {
            return Err(serde::de::Error::custom(format!(
                "HTTP header {name:?} can not be configured"
            )));
        };
        if let Some(values) = allowed
            && !values.contains(&value.as_str())
        {
            return Err(serde::de::Error::custom(format!(
                "invalid value for {name}. Expected one of: {values:?}, but got: {value:?}"
            )));
        }
    }
    Ok(headers)
}

/// `client_auth_type`: the policies rustls implements exactly.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ClientAuth {
    /// `NoClientCert` (or unset): no certificate asked for.
    #[default]
    None,
    /// `VerifyClientCertIfGiven`: a certificate is optional, and verified when sent.
    VerifyIfGiven,
    /// `RequireAndVerifyClientCert`: a certificate from `client_ca_file` is required.
    RequireAndVerify,
}

impl<'de> Deserialize<'de> for ClientAuth {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        match name.as_str() {
            "" | "NoClientCert" => Ok(ClientAuth::None),
            "VerifyClientCertIfGiven" => Ok(ClientAuth::VerifyIfGiven),
            "RequireAndVerifyClientCert" => Ok(ClientAuth::RequireAndVerify),
            "RequestClientCert" | "RequireAnyClientCert" | "RequireClientCert" => {
                Err(serde::de::Error::custom(format!(
                    "client_auth_type {name}: accepts client certificates without verifying them, which sonde (rustls) does not do; use RequireAndVerifyClientCert or VerifyClientCertIfGiven with client_ca_file"
                )))
            }
            other => Err(serde::de::Error::custom(format!(
                "invalid ClientAuth: {other}"
            ))),
        }
    }
}

/// `min_version` and `max_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TlsVersion {
    Tls12,
    Tls13,
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        match name.as_str() {
            "TLS12" => Ok(TlsVersion::Tls12),
            "TLS13" => Ok(TlsVersion::Tls13),
            "TLS10" | "TLS11" => Err(serde::de::Error::custom(format!(
                "{name}: sonde (rustls) has no TLS 1.0 or 1.1; use TLS12 or TLS13"
            ))),
            other => Err(serde::de::Error::custom(format!(
                "unknown TLS version: {other}"
            ))),
        }
    }
}

/// A `cipher_suites` entry: Go's name of a suite rustls has.
#[derive(Debug, Clone, Copy)]
struct Cipher(rustls::SupportedCipherSuite);

/// Go's names of the suites rustls (ring) has. Go applies `cipher_suites` to TLS 1.2 only;
/// its TLS 1.3 names are accepted and, as in Go, change nothing.
fn rustls_suite(go_name: &str) -> Option<rustls::SupportedCipherSuite> {
    use rustls::crypto::ring::cipher_suite as suite;
    Some(match go_name {
        "TLS_AES_128_GCM_SHA256" => suite::TLS13_AES_128_GCM_SHA256,
        "TLS_AES_256_GCM_SHA384" => suite::TLS13_AES_256_GCM_SHA384,
        "TLS_CHACHA20_POLY1305_SHA256" => suite::TLS13_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" => {
            suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        }
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => {
            suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        }
        _ => return None,
    })
}

/// Suites Go's `tls.CipherSuites()` names that rustls does not have (CBC, RSA key exchange).
const GO_SUITES_RUSTLS_LACKS: &[&str] = &[
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
];

impl<'de> Deserialize<'de> for Cipher {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        if let Some(suite) = rustls_suite(&name) {
            return Ok(Cipher(suite));
        }
        Err(serde::de::Error::custom(
            if GO_SUITES_RUSTLS_LACKS.contains(&name.as_str()) {
                format!(
                    "cipher {name}: sonde (rustls) has no CBC or RSA key exchange suites; use the ECDHE GCM or CHACHA20_POLY1305 ones"
                )
            } else {
                format!("unknown cipher: {name}")
            },
        ))
    }
}

/// A `curve_preferences` entry.
#[derive(Debug, Clone, Copy)]
struct Curve(&'static dyn rustls::crypto::SupportedKxGroup);

impl<'de> Deserialize<'de> for Curve {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use rustls::crypto::ring::kx_group;
        let name = String::deserialize(deserializer)?;
        match name.as_str() {
            "X25519" => Ok(Curve(kx_group::X25519)),
            "CurveP256" => Ok(Curve(kx_group::SECP256R1)),
            "CurveP384" => Ok(Curve(kx_group::SECP384R1)),
            "CurveP521" => Err(serde::de::Error::custom(
                "CurveP521: sonde (rustls) has no P-521; use X25519, CurveP256 or CurveP384",
            )),
            other => Err(serde::de::Error::custom(format!("unknown curve: {other}"))),
        }
    }
}

/// A `basic_auth_users` value: a bcrypt hash (`$2a$`, `$2b$`, `$2y$`).
#[derive(Debug)]
struct BcryptHash(String);

impl<'de> Deserialize<'de> for BcryptHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let hash = String::deserialize(deserializer)?;
        hash.parse::<bcrypt::HashParts>()
            .map_err(|e| serde::de::Error::custom(format!("not a bcrypt hash: {e}")))?;
        Ok(BcryptHash(hash))
    }
}

impl TlsFile {
    /// Whether the section configures TLS (exporter-toolkit's `IsEnabled`).
    fn is_enabled(&self) -> bool {
        !(self.cert.is_empty()
            && self.key.is_empty()
            && self.client_ca.is_empty()
            && self.cert_file.is_empty()
            && self.key_file.is_empty()
            && self.client_ca_file.is_empty()
            && self.client_auth_type == ClientAuth::None)
    }

    /// The rustls server config, files read now; `None` when TLS is not configured.
    fn server_config(self, dir: &Path) -> Result<Option<Arc<rustls::ServerConfig>>, String> {
        if !self.is_enabled() {
            return Ok(None);
        }
        let pem = |inline: &str, file: &str, key: &str| -> Result<Option<Vec<u8>>, String> {
            if file.is_empty() {
                return Ok((!inline.is_empty()).then(|| inline.as_bytes().to_vec()));
            }
            let path = joined(dir, file);
            std::fs::read(&path).map(Some).map_err(|e| {
                format!(
                    "tls_server_config.{key}: cannot read {}: {e}",
                    path.display()
                )
            })
        };
        let cert = pem(&self.cert, &self.cert_file, "cert_file")?
            .ok_or("tls_server_config: missing one of cert or cert_file")?;
        let key = pem(&self.key, &self.key_file, "key_file")?
            .ok_or("tls_server_config: missing one of key or key_file")?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("tls_server_config: the certificate: {e}"))?;
        if certs.is_empty() {
            return Err("tls_server_config: the certificate has no PEM CERTIFICATE block".into());
        }
        let key = PrivateKeyDer::from_pem_slice(&key)
            .map_err(|e| format!("tls_server_config: the key: {e}"))?;

        let (min, max) = (
            self.min_version.unwrap_or(TlsVersion::Tls12),
            self.max_version.unwrap_or(TlsVersion::Tls13),
        );
        if min > max {
            return Err(format!(
                "tls_server_config: min_version {min:?} is above max_version {max:?}"
            ));
        }
        let mut versions = Vec::new();
        if (min..=max).contains(&TlsVersion::Tls12) {
            versions.push(&rustls::version::TLS12);
        }
        if (min..=max).contains(&TlsVersion::Tls13) {
            versions.push(&rustls::version::TLS13);
        }

        let mut provider = rustls::crypto::ring::default_provider();
        if !self.cipher_suites.is_empty() {
            // Go applies cipher_suites to TLS 1.2 only: TLS 1.3 keeps all its suites.
            let chosen: Vec<_> = self.cipher_suites.iter().map(|c| c.0).collect();
            provider.cipher_suites.retain(|s| {
                s.version() == &rustls::version::TLS13
                    || chosen.iter().any(|c| c.suite() == s.suite())
            });
            provider.cipher_suites.sort_by_key(|s| {
                chosen
                    .iter()
                    .position(|c| c.suite() == s.suite())
                    .unwrap_or(usize::MAX)
            });
        }
        if !self.curve_preferences.is_empty() {
            provider.kx_groups = self.curve_preferences.iter().map(|c| c.0).collect();
        }
        let provider = Arc::new(provider);

        let client_ca = pem(&self.client_ca, &self.client_ca_file, "client_ca_file")?;
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| format!("tls_server_config: {e}"))?;
        let builder = match (self.client_auth_type, client_ca) {
            (ClientAuth::None, None) => builder.with_no_client_auth(),
            (ClientAuth::None, Some(_)) => {
                return Err(
                    "tls_server_config: client CA's have been configured without a Client Auth Policy"
                        .into(),
                );
            }
            (_, None) => {
                return Err(
                    "tls_server_config: client_auth_type verifies client certificates: it needs client_ca_file (or client_ca)"
                        .into(),
                );
            }
            (policy, Some(ca)) => {
                builder.with_client_cert_verifier(client_verifier(&ca, policy, provider)?)
            }
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| format!("tls_server_config: the certificate and key: {e}"))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(Arc::new(config)))
    }
}

/// A path of the file as written, relative to the web config's directory.
fn joined(dir: &Path, file: &str) -> PathBuf {
    let path = Path::new(file);
    if path.is_absolute() {
        path.to_owned()
    } else {
        dir.join(path)
    }
}

/// The client certificate verifier of `policy` with the CAs of `ca` (PEM).
fn client_verifier(
    ca: &[u8],
    policy: ClientAuth,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca) {
        let cert = cert.map_err(|e| format!("tls_server_config: the client CA: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("tls_server_config: the client CA: {e}"))?;
    }
    if roots.is_empty() {
        return Err("tls_server_config: the client CA has no PEM CERTIFICATE block".into());
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = match policy {
        ClientAuth::VerifyIfGiven => builder.allow_unauthenticated(),
        _ => builder,
    };
    builder
        .build()
        .map_err(|e| format!("tls_server_config: the client CA: {e}"))
}

/// `basic_auth_users`: who may scrape, checked per request.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    /// Per user, the digest of the credentials last verified with bcrypt.
    verified: Mutex<HashMap<String, [u8; 32]>>,
    /// One bcrypt at a time (each takes tens of milliseconds of CPU).
    bcrypt: tokio::sync::Semaphore,
}

/// exporter-toolkit's hash of "fakepassword", checked for unknown users so that the time of an
/// answer does not tell whether a user exists.
const UNKNOWN_USER_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

impl BasicAuth {
    /// Whether the `Authorization` header (if any) names a user with its password. Credentials
    /// verified before are answered at once; the others wait for their turn at bcrypt, which
    /// runs on the blocking pool, one check at a time (so a flood of wrong passwords takes one
    /// thread, and scrapes with verified credentials never wait behind it).
    pub async fn allows(self: &Arc<Self>, authorization: Option<HeaderValue>) -> bool {
        let Some(presented) = authorization.as_ref().and_then(credentials) else {
            return false;
        };
        let presented = self.presented(presented);
        if self.verified_before(&presented) {
            return true;
        }
        let Ok(_turn) = self.bcrypt.acquire().await else {
            return false;
        };
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.verify(presented))
            .await
            .unwrap_or(false)
    }

    /// The presented credentials with the hash they are checked against and their digest.
    fn presented(&self, (user, password): (String, Vec<u8>)) -> Presented {
        let (known, hash) = match self.users.get(&user) {
            Some(hash) => (true, hash.clone()),
            None => (false, UNKNOWN_USER_HASH.to_owned()),
        };
        let digest: [u8; 32] = Sha256::new()
            .chain_update((user.len() as u64).to_le_bytes())
            .chain_update(user.as_bytes())
            .chain_update(hash.as_bytes())
            .chain_update(&password)
            .finalize()
            .into();
        Presented {
            user,
            password,
            known,
            hash,
            digest,
        }
    }

    /// Whether these credentials were verified with bcrypt before (a constant-time comparison).
    fn verified_before(&self, presented: &Presented) -> bool {
        presented.known
            && self
                .verified
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&presented.user)
                .is_some_and(|cached| bool::from(cached.ct_eq(&presented.digest)))
    }

    /// The bcrypt check (tens of milliseconds); a success is remembered for the user.
    fn verify(&self, presented: Presented) -> bool {
        let matches = bcrypt::verify(&presented.password, &presented.hash).unwrap_or(false);
        let allowed = presented.known && matches;
        if allowed {
            self.verified
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(presented.user, presented.digest);
        }
        allowed
    }
}

/// Credentials from a request, with the hash they are checked against (exporter-toolkit's fixed
/// one for an unknown user) and the digest of (user, hash, password).
struct Presented {
    user: String,
    password: Vec<u8>,
    known: bool,
    hash: String,
    digest: [u8; 32],
}

/// The user and password of a `Basic` authorization (Go's `Request.BasicAuth`).
fn credentials(header: &HeaderValue) -> Option<(String, Vec<u8>)> {
    let value = header.to_str().ok()?;
    let (scheme, encoded) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case("Basic ") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Result<WebConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, yaml).unwrap();
        WebConfig::load(&path).map_err(|e| e.replace(&dir.path().display().to_string(), "DIR"))
    }

    /// A key pair and a self-signed certificate for `localhost`, as PEM.
    fn self_signed() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn indented(pem: &str) -> String {
        pem.lines().map(|l| format!("    {l}\n")).collect()
    }

    #[test]
    fn an_empty_file_serves_plain_http_without_auth() {
        for text in [
            "",
            "\n",
            "---\n",
            "tls_server_config:\nhttp_server_config:\n",
        ] {
            let config = load(text).unwrap();
            assert!(config.tls.is_none() && config.auth.is_none() && config.headers.is_empty());
        }
    }

    #[test]
    fn unknown_keys_and_values_are_refused_with_where_and_why() {
        let mut wrong = Vec::new();
        for (yaml, expected) in [
            (
                "tls_server_config:\n  certfile: a\n",
                "DIR/web.yml:2:3: tls_server_config: unknown field `certfile`",
            ),
            ("junk: 1\n", "DIR/web.yml:1:1: unknown field `junk`"),
            (
                "tls_server_config:\n  min_version: TLS10\n",
                "DIR/web.yml:2:3: tls_server_config: TLS10: sonde (rustls) has no TLS 1.0 or 1.1; use TLS12 or TLS13",
            ),
            (
                "tls_server_config:\n  max_version: TLS14\n",
                "unknown TLS version: TLS14",
            ),
            (
                "tls_server_config:\n  client_auth_type: RequireAnyClientCert\n",
                "accepts client certificates without verifying them",
            ),
            (
                "tls_server_config:\n  client_auth_type: Sometimes\n",
                "invalid ClientAuth: Sometimes",
            ),
            (
                "tls_server_config:\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]\n",
                "has no CBC or RSA key exchange suites",
            ),
            (
                "tls_server_config:\n  cipher_suites: [TLS_FOO]\n",
                "unknown cipher: TLS_FOO",
            ),
            (
                "tls_server_config:\n  curve_preferences: [CurveP521]\n",
                "has no P-521",
            ),
            (
                "tls_server_config:\n  client_allowed_sans: [a]\n",
                "client_allowed_sans: not supported",
            ),
            (
                "rate_limit:\n  burst: 1\n  interval: 1s\n",
                "rate_limit: not supported",
            ),
            (
                "http_server_config:\n  headers:\n    Server: x\n",
                "HTTP header \"Server\" can not be configured",
            ),
            (
                "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
                "invalid value for X-Frame-Options. Expected one of: [\"deny\", \"sameorigin\"], but got: \"allow\"",
            ),
            (
                "basic_auth_users:\n  alice: plaintext\n",
                "DIR/web.yml:2:3: basic_auth_users: not a bcrypt hash",
            ),
            (
                "tls_server_config:\n  key_file: k\n",
                "DIR/web.yml: tls_server_config: missing one of cert or cert_file",
            ),
            (
                "tls_server_config:\n  cert_file: nothere.crt\n  key_file: k\n",
                "DIR/web.yml: tls_server_config.cert_file: cannot read DIR/nothere.crt",
            ),
        ] {
            let error = load(yaml).unwrap_err();
            if !error.contains(expected) {
                wrong.push(format!("{yaml:?}: {error}"));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn tls_is_built_from_relative_files_or_inline_pem() {
        let (cert, key) = self_signed();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.crt"), &cert).unwrap();
        std::fs::write(dir.path().join("s.key"), &key).unwrap();
        std::fs::write(dir.path().join("ca.crt"), &cert).unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(
            &path,
            "tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  min_version: TLS13\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n  curve_preferences: [X25519]\n  prefer_server_cipher_suites: true\n",
        )
        .unwrap();
        let config = WebConfig::load(&path).unwrap();
        let tls = config.tls.unwrap();
        assert_eq!(tls.alpn_protocols, [b"http/1.1".to_vec()]);

        let inline = format!(
            "tls_server_config:\n  cert: |\n{}  key: |\n{}",
            indented(&cert),
            indented(&key)
        );
        assert!(load(&inline).unwrap().tls.is_some());
        // Client CAs without a policy that asks for certificates, and the reverse.
        let error = load(&format!("{inline}  client_ca: |\n{}", indented(&cert))).unwrap_err();
        assert!(error.contains("without a Client Auth Policy"), "{error}");
        let error = load(&format!(
            "{inline}  client_auth_type: VerifyClientCertIfGiven\n"
        ))
        .unwrap_err();
        assert!(error.contains("it needs client_ca_file"), "{error}");
        let error = load(&format!(
            "{inline}  min_version: TLS13\n  max_version: TLS12\n"
        ))
        .unwrap_err();
        assert!(
            error.contains("min_version Tls13 is above max_version Tls12"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn basic_auth_accepts_the_right_password_only_and_caches_it() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let config = load(&format!(
            "basic_auth_users:\n  alice: {hash}\nhttp_server_config:\n  http2: true\n  headers:\n    X-Frame-Options: deny\n"
        ))
        .unwrap();
        assert_eq!(config.headers.len(), 1);
        let auth = config.auth.unwrap();
        let header = |user: &str, password: &str| {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
        };
        assert!(!auth.allows(None).await);
        assert!(!auth.allows(Some(header("alice", "wrong"))).await);
        assert!(!auth.allows(Some(header("bob", "s3cret"))).await);
        assert!(
            !auth
                .allows(Some(HeaderValue::from_static("Bearer abc")))
                .await
        );
        let right = header("alice", "s3cret");
        assert!(!auth.verified_before(&auth.presented(credentials(&right).unwrap())));
        assert!(auth.allows(Some(right.clone())).await);
        assert!(auth.verified_before(&auth.presented(credentials(&right).unwrap())));
        // The scheme is case-insensitive, as in Go.
        let lower = right.to_str().unwrap().replace("Basic", "basic");
        assert!(
            auth.allows(Some(HeaderValue::from_str(&lower).unwrap()))
                .await
        );
        assert_eq!(auth.verified.lock().unwrap().len(), 1);
        // A wrong password after a right one is still refused.
        assert!(!auth.allows(Some(header("alice", "s3cret "))).await);
    }
}
