//! `/metrics` behind the exporter-toolkit web config (`[http] web_config_file`), with a test CA
//! made here: TLS verified by a client trusting only that CA; a client certificate required
//! (none, or one from another CA, refused); basic auth accepted, and refused with 401 and
//! `WWW-Authenticate: Basic` for a wrong password, an unknown user and a missing header; the
//! configured header on every answer; plain HTTP to the TLS port refused; a rotated
//! certificate served after SIGHUP, a bad file at reload keeping the running one, a bad file at
//! start exiting 2 with its line; and the same web.yml accepted by Debian's node_exporter.

use crate::agent::Daemon;
use crate::support::{KillOnDrop, free_port, http_get_status};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

/// A certificate authority made for one test.
struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

/// A certificate and its key, as PEM.
struct Issued {
    cert: String,
    key: String,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let issuer =
            rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        TestCa { issuer }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for `name` (a host name or an IP address) signed by this CA.
    fn issue(&self, name: &str) -> Issued {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        Issued {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

/// One HTTP answer: status, header lines, body; and the certificate the server presented.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
    server_cert: Vec<u8>,
}

/// `GET https://127.0.0.1:<port>/metrics` trusting only `ca`, with a client certificate and
/// basic auth credentials if given. `Err` when the TLS handshake or the connection fails.
fn https_get(
    port: u16,
    ca: &str,
    client: Option<&Issued>,
    credentials: Option<(&str, &str)>,
) -> Result<Answer, String> {
    https_get_over(port, ca, client, credentials, rustls::DEFAULT_VERSIONS)
}

/// A client certificate issued by a CA other than the test CA fails the handshake.
fn assert_refuses_another_cas_client(port: u16, setup: &Setup) {
    let stranger = TestCa::new("another CA").issue("prometheus");
    let foreign = https_get(
        port,
        &setup.ca.pem(),
        Some(&stranger),
        Some(("prometheus", PASSWORD)),
    );
    assert!(
        foreign.is_err(),
        "served to another CA's client: {foreign:?}"
    );
}

/// [`https_get`] offering only the TLS `versions` given.
fn https_get_over(
    port: u16,
    ca: &str,
    client: Option<&Issued>,
    credentials: Option<(&str, &str)>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<Answer, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some(client) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(client.cert.as_bytes())
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_slice(client.key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let server = ServerName::try_from("127.0.0.1").unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), server).unwrap();
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    let authorization = credentials.map_or(String::new(), |(user, password)| {
        use base64::Engine;
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Authorization: Basic {encoded}\r\n")
    });
    write!(
        tls,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{authorization}\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    if let Err(e) = tls.read_to_end(&mut response)
        && (response.is_empty() || e.kind() != std::io::ErrorKind::UnexpectedEof)
    {
        return Err(e.to_string());
    }
    let server_cert = tls
        .conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(|cert| cert.to_vec())
        .unwrap_or_default();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no HTTP answer: {response:?}"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad status line: {head}"))?;
    Ok(Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
        server_cert,
    })
}

/// A directory with the CA, the server's certificate and key, and a web.yml that requires a
/// client certificate from the CA and the user `prometheus` with `password`.
struct Setup {
    dir: tempfile::TempDir,
    ca: TestCa,
    client: Issued,
    web_yml: PathBuf,
}

const PASSWORD: &str = "correct horse";

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("sonde test CA");
        let client = ca.issue("prometheus");
        let setup = Setup {
            web_yml: dir.path().join("web.yml"),
            dir,
            ca,
            client,
        };
        setup.write("ca.crt", &setup.ca.pem());
        setup.rotate_server_certificate();
        let hash = bcrypt::hash(PASSWORD, 4).unwrap();
        setup.write(
            "web.yml",
            &format!(
                "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\nbasic_auth_users:\n  prometheus: {hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
            ),
        );
        setup
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }

    /// Issues a new server certificate and writes it (and its key) where web.yml names them;
    /// returns its DER.
    fn rotate_server_certificate(&self) -> Vec<u8> {
        let server = self.ca.issue("127.0.0.1");
        self.write("server.crt", &server.cert);
        self.write("server.key", &server.key);
        CertificateDer::from_pem_slice(server.cert.as_bytes())
            .unwrap()
            .to_vec()
    }

    /// A scrape with the client certificate and the credentials given.
    fn scrape(&self, port: u16, credentials: Option<(&str, &str)>) -> Result<Answer, String> {
        https_get(port, &self.ca.pem(), Some(&self.client), credentials)
    }

    /// Retries a good scrape until it answers 200 (the endpoint is up), or panics.
    fn wait_until_served(&self, port: u16, log: impl Fn() -> String) -> Answer {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.scrape(port, Some(("prometheus", PASSWORD))) {
                Ok(answer) if answer.status == 200 && answer.body.contains("node_") => {
                    return answer;
                }
                other => assert!(
                    Instant::now() < deadline,
                    "not served: {other:?}; log:\n{}",
                    log()
                ),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The answer is exporter-toolkit's refusal: 401 with `WWW-Authenticate: Basic`.
fn assert_unauthorized(answer: Result<Answer, String>, case: &str) {
    let answer = answer.unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(answer.status, 401, "{case}: {answer:?}");
    assert!(
        answer
            .head
            .to_ascii_lowercase()
            .contains("\r\nwww-authenticate: basic"),
        "{case}: {answer:?}"
    );
}

#[test]
fn tls_client_certificates_and_basic_auth_guard_metrics_and_reload_on_sighup() {
    let setup = Setup::new();
    let sonde = Daemon::spawn_with(
        "",
        &format!("web_config_file = {:?}\n", setup.web_yml),
        None,
    );
    let served = setup.wait_until_served(sonde.port, || sonde.log());
    assert!(
        served.head.contains("\r\nx-frame-options: deny")
            || served.head.contains("\r\nX-Frame-Options: deny"),
        "{}",
        served.head
    );

    // Client certificates: none, or one from another CA, and the handshake fails.
    let none = https_get(
        sonde.port,
        &setup.ca.pem(),
        None,
        Some(("prometheus", PASSWORD)),
    );
    assert!(
        none.is_err(),
        "served without a client certificate: {none:?}"
    );
    assert_refuses_another_cas_client(sonde.port, &setup);
    // A client that does not trust the test CA refuses the server.
    let untrusting = https_get(
        sonde.port,
        &TestCa::new("unrelated").pem(),
        Some(&setup.client),
        Some(("prometheus", PASSWORD)),
    );
    assert!(untrusting.is_err(), "{untrusting:?}");

    // Basic auth.
    assert_unauthorized(
        setup.scrape(sonde.port, Some(("prometheus", "wrong"))),
        "wrong password",
    );
    assert_unauthorized(
        setup.scrape(sonde.port, Some(("grafana", PASSWORD))),
        "unknown user",
    );
    let missing = setup.scrape(sonde.port, None);
    assert!(
        missing
            .as_ref()
            .is_ok_and(|a| a.head.contains("X-Frame-Options: deny")
                || a.head.contains("x-frame-options: deny")),
        "the header is on refusals too: {missing:?}"
    );
    assert_unauthorized(missing, "no Authorization header");

    // Plain HTTP to the TLS port gets no metrics.
    let plain = http_get_status(sonde.port, "/metrics");
    assert!(
        !matches!(&plain, Ok((200, _))),
        "plain HTTP was served: {plain:?}"
    );

    // A rotated certificate is served after SIGHUP.
    let before = served.server_cert;
    let rotated = setup.rotate_server_certificate();
    assert_ne!(before, rotated);
    sonde.signal(libc::SIGHUP);
    sonde.wait_for_log("config reloaded", 1, Duration::from_secs(30));
    let after = setup.wait_until_served(sonde.port, || sonde.log());
    assert_eq!(
        after.server_cert, rotated,
        "the old certificate is still served"
    );

    // A bad file at reload is logged and the running web config stays.
    setup.write(
        "web.yml",
        &std::fs::read_to_string(&setup.web_yml)
            .unwrap()
            .replace("cert_file:", "certfile:"),
    );
    sonde.signal(libc::SIGHUP);
    let log = sonde.wait_for_log("reload failed", 1, Duration::from_secs(30));
    assert!(log.contains("web.yml:2:3"), "{log}");
    let still = setup.wait_until_served(sonde.port, || sonde.log());
    assert_eq!(still.server_cert, rotated);
}

#[test]
fn an_optional_client_certificate_is_verified_when_given() {
    // VerifyClientCertIfGiven, TLS 1.3 only, one TLS 1.2 suite named (Go applies cipher_suites
    // to TLS 1.2 only) and a curve: served without a certificate, refused with a foreign one.
    let setup = Setup::new();
    let web = std::fs::read_to_string(&setup.web_yml).unwrap().replace(
        "RequireAndVerifyClientCert\n",
        "VerifyClientCertIfGiven\n  min_version: TLS13\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n  curve_preferences: [X25519, CurveP256]\n",
    );
    setup.write("web.yml", &web);
    let sonde = Daemon::spawn_with(
        "",
        &format!("web_config_file = {:?}\n", setup.web_yml),
        None,
    );
    setup.wait_until_served(sonde.port, || sonde.log());
    let without = https_get(
        sonde.port,
        &setup.ca.pem(),
        None,
        Some(("prometheus", PASSWORD)),
    );
    assert_eq!(without.map(|a| a.status), Ok(200));
    // min_version TLS13: a TLS 1.2 client is refused.
    let tls12 = https_get_over(
        sonde.port,
        &setup.ca.pem(),
        Some(&setup.client),
        Some(("prometheus", PASSWORD)),
        &[&rustls::version::TLS12],
    );
    assert!(
        tls12.is_err(),
        "TLS 1.2 served under min_version TLS13: {tls12:?}"
    );
    assert_refuses_another_cas_client(sonde.port, &setup);
}

#[test]
fn a_bad_web_config_at_start_exits_2_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let web_yml = dir.path().join("web.yml");
    std::fs::write(&web_yml, "tls_server_config:\n  min_version: TLS10\n").unwrap();
    let config = dir.path().join("sonde.toml");
    std::fs::write(
        &config,
        format!(
            "[http]\nlisten = \"127.0.0.1:{}\"\nweb_config_file = {web_yml:?}\n",
            free_port()
        ),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sonde"))
        .args(["run", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:2:3: tls_server_config: TLS10",
            web_yml.display()
        )),
        "{stderr}"
    );
    // The flag too, without the config key.
    std::fs::write(
        &config,
        format!("[http]\nlisten = \"127.0.0.1:{}\"\n", free_port()),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sonde"))
        .args([
            "run",
            "--config",
            config.to_str().unwrap(),
            "--web.config.file",
        ])
        .arg(&web_yml)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--web.config.file: "), "{stderr}");
    // check-config reads the web config file the config names.
    std::fs::write(
        &config,
        format!(
            "[http]\nlisten = \"127.0.0.1:{}\"\nweb_config_file = {web_yml:?}\n",
            free_port()
        ),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sonde"))
        .args(["check-config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("[http] web_config_file: "), "{stderr}");
}

#[test]
fn the_same_web_config_is_accepted_by_node_exporter() {
    if !crate::support::peer_installed(NODE_EXPORTER, "prometheus-node-exporter") {
        return;
    }
    let setup = Setup::new();
    let port = free_port();
    let log = setup.dir.path().join("node_exporter.log");
    let _exporter = KillOnDrop(
        std::process::Command::new(NODE_EXPORTER)
            .args(sonde::wasm::builtin::node_exporter_args(&format!(
                "127.0.0.1:{port}"
            )))
            .arg(format!("--web.config.file={}", setup.web_yml.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    setup.wait_until_served(port, read_log);
    assert_unauthorized(
        setup.scrape(port, Some(("prometheus", "wrong"))),
        "node_exporter, wrong password",
    );
    assert_unauthorized(
        setup.scrape(port, None),
        "node_exporter, no Authorization header",
    );
    let none = https_get(port, &setup.ca.pem(), None, Some(("prometheus", PASSWORD)));
    assert!(
        none.as_ref().is_err(),
        "node_exporter served without a client certificate: {none:?}"
    );
    // sonde accepts the very same file.
    let sonde = Daemon::spawn_with(
        "",
        &format!("web_config_file = {:?}\n", setup.web_yml),
        None,
    );
    setup.wait_until_served(sonde.port, || sonde.log());
}
