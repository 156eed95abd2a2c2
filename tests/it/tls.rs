//! TLS on toolgate's own listener, against the real binary with
//! certificates made per run: HTTPS with HTTP/2 and HTTP/1.1 by ALPN, the
//! lowest version enforced, plain HTTP refused, a bad pair refused at start
//! with the file named, the pair replaced on disk while connections stay
//! open, and client certificates required and verified (mutual TLS).

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::calls_config::{config_yaml, tools_yaml};
use crate::support::certs::{Ca, Pair};
use crate::support::process::{Proc, Serve, free_port, toolgate};
use crate::support::upstream::Upstream;
use crate::support::{Api, ConfigDir, Keys, canary};

pub(crate) struct Tls {
    proc: Proc,
    pub(crate) dir: ConfigDir,
    pub(crate) port: u16,
    _up: Upstream,
}

/// A gateway serving `server` over TLS with `extra` under `tls:` (and
/// `files` written beside the config), its client trusting `ca` and
/// presenting `identity`.
async fn start(
    ca: &Ca,
    server: &Pair,
    extra: &str,
    files: &[(&str, &str)],
    identity: Option<&str>,
) -> Tls {
    start_edited(ca, server, extra, files, identity, &Keys::new(), |c| c).await
}

/// [`start`], with the config (for `keys`) edited by `edit`.
pub(crate) async fn start_edited(
    ca: &Ca,
    server: &Pair,
    extra: &str,
    files: &[(&str, &str)],
    identity: Option<&str>,
    keys: &Keys,
    edit: impl Fn(String) -> String,
) -> Tls {
    let up = Upstream::start().await;
    let dir = ConfigDir::new();
    for (rel, text) in tools_yaml(&up.base()) {
        dir.write(&rel, &text);
    }
    dir.write("tls/server.crt", &server.cert);
    dir.write("tls/server.key", &server.key);
    for (rel, text) in files {
        dir.write(rel, text);
    }
    let tls = format!(
        "tls: {{ cert: tls/server.crt, key: tls/server.key{extra} }}\n\
         limits: {{ max_body_bytes: 65536, max_concurrency: 64, header_read_timeout_ms: 30000 }}\n"
    );
    let config = config_yaml(keys, &tls).replacen(
        "limits: { max_body_bytes: 65536, max_concurrency: 64 }\n",
        "",
        1,
    );
    dir.write("toolgate.yaml", &edit(config));
    let port = free_port();
    let proc = Serve::new(&dir.config_path(), port)
        .envs(&[
            ("TEST_API_KEY", &canary("api-")),
            ("TEST_BASIC", &canary("basic-")),
            ("TEST_QUERY", &canary("query-")),
        ])
        .stderr_to(&dir.path().join("toolgate.log"))
        .https(&ca.pem, identity)
        .start()
        .await;
    Tls {
        proc,
        dir,
        port,
        _up: up,
    }
}

/// `toolgate check` on `config` written into `dir`: whether it passed,
/// and everything it printed.
fn check_config(dir: &ConfigDir, config: &str) -> (bool, String) {
    dir.write("toolgate.yaml", config);
    let out = toolgate()
        .args(["check", "--config"])
        .arg(dir.config_path())
        .output()
        .expect("toolgate check runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn client(ca: &Ca) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap())
}

#[tokio::test]
async fn https_is_served_to_clients_that_trust_its_ca_and_to_no_one_else() {
    let ca = Ca::new("toolgate test CA");
    let t = start(&ca, &ca.server(), ", min_version: \"1.3\"", &[], None).await;
    let url = format!("https://localhost:{}/healthz", t.port);

    // HTTP/2 by ALPN, and HTTP/1.1 for clients that offer only that.
    let r = client(&ca).build().unwrap().get(&url).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.version()),
        (200, reqwest::Version::HTTP_2)
    );
    let h1 = client(&ca).http1_only().build().unwrap();
    let r = h1.get(&url).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.version()),
        (200, reqwest::Version::HTTP_11)
    );

    // A client that does not trust the CA, one limited to TLS 1.2 (the
    // listener asks for 1.3), and plain HTTP: no answer.
    let stranger = Ca::new("another CA");
    assert!(
        client(&stranger)
            .build()
            .unwrap()
            .get(&url)
            .send()
            .await
            .is_err()
    );
    let old = client(&ca)
        .max_tls_version(reqwest::tls::Version::TLS_1_2)
        .build()
        .unwrap();
    assert!(old.get(&url).send().await.is_err(), "TLS 1.2 was accepted");
    let plain = reqwest::Client::builder().no_proxy().build().unwrap();
    let answered = plain
        .get(format!("http://127.0.0.1:{}/healthz", t.port))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success());
    assert!(!answered, "plain HTTP was served");

    // /readyz says the listener's pair is fine (its status is another
    // matter: the shared config has a credential that is never set).
    let (_, ready) = t.proc.api.get(None, "/readyz").await;
    assert_eq!(ready["checks"]["tls"]["reload_failed"], false, "{ready}");
}

#[tokio::test]
async fn a_bad_pair_is_refused_at_start_naming_the_file() {
    let ca = Ca::new("toolgate test CA");
    let (a, b) = (ca.server(), ca.server());
    let up = Upstream::start().await;
    let dir = ConfigDir::new();
    for (rel, text) in tools_yaml(&up.base()) {
        dir.write(&rel, &text);
    }
    dir.write("tls/server.crt", &a.cert);
    dir.write("tls/other.key", &b.key);
    dir.write("tls/empty.pem", "");
    let keys = Keys::new();
    let check = |tls: &str| check_config(&dir, &config_yaml(&keys, tls));
    let (ok, out) = check("tls: { cert: tls/server.crt, key: tls/other.key }\n");
    assert!(!ok, "{out}");
    assert!(
        out.contains("does not match") && out.contains("other.key"),
        "{out}"
    );
    let (ok, out) = check("tls: { cert: tls/missing.crt, key: tls/other.key }\n");
    assert!(!ok && out.contains("missing.crt"), "{out}");
    let (ok, out) = check("tls: { cert: tls/server.crt, key: tls/empty.pem }\n");
    assert!(!ok && out.contains("empty.pem"), "{out}");
    let (ok, out) =
        check("tls: { cert: tls/server.crt, key: tls/other.key, client_ca: tls/empty.pem }\n");
    assert!(!ok && out.contains("empty.pem"), "{out}");
    let (ok, out) =
        check("tls: { cert: tls/server.crt, key: tls/other.key, min_version: \"1.1\" }\n");
    assert!(!ok && out.contains("min_version"), "{out}");
    // Nothing secret in what is printed: no key material.
    assert!(!out.contains("PRIVATE KEY"), "{out}");
}

/// One TLS connection kept open, speaking HTTP/1.1 by hand.
struct Held {
    stream: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
}

impl Held {
    async fn open(port: u16, cas: &[&Ca]) -> Held {
        let mut roots = rustls::RootCertStore::empty();
        for ca in cas {
            for c in CertificateDer::pem_slice_iter(ca.pem.as_bytes()) {
                roots.add(c.unwrap()).unwrap();
            }
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .expect("handshake");
        Held { stream }
    }

    /// The SHA-256 of the certificate the server presented on this connection.
    fn served(&self) -> String {
        use sha2::Digest as _;
        let certs = self.stream.get_ref().1.peer_certificates().unwrap();
        hex::encode(sha2::Sha256::digest(&certs[0]))
    }

    /// `GET /healthz` on this same connection; its status.
    async fn healthz(&mut self) -> u16 {
        self.stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let n = self.stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the connection closed");
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if got.len() >= end + 4 + length {
                    return text[9..12].parse().unwrap();
                }
            }
        }
    }
}

#[tokio::test]
async fn a_pair_replaced_on_disk_serves_new_connections_and_open_ones_stay() {
    let (ca, next_ca) = (Ca::new("first CA"), Ca::new("next CA"));
    let (first, next) = (ca.server(), next_ca.server());
    let t = start(&ca, &first, "", &[], None).await;
    let mut held = Held::open(t.port, &[&ca]).await;
    assert_eq!(held.served(), first.sha256);
    assert_eq!(held.healthz().await, 200);

    // The files are replaced (key first, as a careless rotation would):
    // new connections get the new pair once both are in place.
    t.dir.write("tls/server.key", &next.key);
    t.dir.write("tls/server.crt", &next.cert);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let fresh = Held::open(t.port, &[&ca, &next_ca]).await;
        if fresh.served() == next.sha256 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new pair was not taken"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The connection opened before still serves, with the pair it began with.
    assert_eq!(held.healthz().await, 200);
    assert_eq!(held.served(), first.sha256);
    let trusting_next = Api::https(t.port, &next_ca.pem, None);
    let (_, ready) = trusting_next.get(None, "/readyz").await;
    assert_eq!(
        ready["checks"]["tls"]["reload_failed"],
        Value::Bool(false),
        "{ready}"
    );

    // A pair that does not match: the previous one stays, and /readyz says so.
    t.dir.write("tls/server.key", &first.key);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, ready) = trusting_next.get(None, "/readyz").await;
        if ready["checks"]["tls"]["reload_failed"] == true {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the bad pair was not reported"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        Held::open(t.port, &[&ca, &next_ca]).await.served(),
        next.sha256
    );
    let log = std::fs::read_to_string(t.dir.path().join("toolgate.log")).unwrap();
    assert!(log.contains("does not match"), "{log}");
    // Put right again: no longer reported.
    t.dir.write("tls/server.key", &next.key);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, ready) = trusting_next.get(None, "/readyz").await;
        if ready["checks"]["tls"]["reload_failed"] == false {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still reported after the fix"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn with_a_client_ca_only_clients_it_issued_get_in() {
    let ca = Ca::new("server CA");
    let clients = Ca::new("client CA");
    let member = clients.client(
        "lead-router",
        Some("spiffe://example.test/agent/lead-router"),
    );
    let t = start(
        &ca,
        &ca.server(),
        ", client_ca: tls/clients.pem",
        &[("tls/clients.pem", &clients.pem)],
        Some(&member.identity_pem()),
    )
    .await;
    let url = format!("https://localhost:{}/healthz", t.port);
    // A certificate the client CA issued: served.
    let r = t.proc.api.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // No certificate, or one another CA issued: refused at the handshake.
    assert!(client(&ca).build().unwrap().get(&url).send().await.is_err());
    let outsider = Ca::new("outside CA").client("intruder", None);
    let with_outsider = client(&ca)
        .identity(reqwest::Identity::from_pem(outsider.identity_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    assert!(with_outsider.get(&url).send().await.is_err());
}

#[tokio::test]
async fn store_redis_is_checked_at_load() {
    let ca = Ca::new("redis CA");
    let client = ca.client("toolgate", None);
    let up = Upstream::start().await;
    let dir = ConfigDir::new();
    for (rel, text) in tools_yaml(&up.base()) {
        dir.write(&rel, &text);
    }
    dir.write("tls/ca.pem", &ca.pem);
    dir.write("tls/client.crt", &client.cert);
    dir.write("tls/client.key", &client.key);
    dir.write("tls/empty.pem", "");
    let keys = Keys::new();
    let check = |store: &str| check_config(&dir, &config_yaml(&keys, store));
    let good = "store: { kind: redis, url: \"rediss://localhost:6380/0\", tls: { ca: tls/ca.pem, cert: tls/client.crt, key: tls/client.key } }\n";
    let (ok, out) = check(good);
    assert!(ok, "{out}");
    for (bad, says) in [
        (
            "store: { kind: redis, url: \"redis://localhost:6379/0\", tls: { ca: tls/ca.pem } }\n",
            "rediss://",
        ),
        (
            "store: { kind: redis, url: \"rediss://localhost:6380/0\", tls: { cert: tls/client.crt } }\n",
            "go together",
        ),
        (
            "store: { kind: redis, url: \"rediss://localhost:6380/0\", tls: { ca: tls/empty.pem } }\n",
            "empty.pem",
        ),
        ("store: { kind: file, tls: { ca: tls/ca.pem } }\n", "tls"),
    ] {
        let (ok, out) = check(bad);
        assert!(!ok && out.contains(says), "{bad}: {out}");
    }
}

#[tokio::test]
async fn a_key_pinned_to_a_certificate_is_taken_over_that_certificate_only() {
    let ca = Ca::new("server CA");
    let clients = Ca::new("client CA");
    let alice_uri = "spiffe://example.test/approver/alice";
    let agent_cert = clients.client("test-agent", None);
    let alice_cert = clients.client("alice", Some(alice_uri));
    let plain_cert = clients.client("someone", Some("spiffe://example.test/other"));
    let keys = Keys::new();
    let t = start_edited(
        &ca,
        &ca.server(),
        ", client_ca: tls/clients.pem",
        &[("tls/clients.pem", &clients.pem)],
        Some(&agent_cert.identity_pem()),
        &keys,
        |c| {
            c.replacen(
                "test-agent: { workflow: main,",
                &format!(
                    "test-agent: {{ workflow: main, cert_sha256: \"{}\",",
                    agent_cert.sha256
                ),
                1,
            )
            .replacen(
                "alice: {",
                &format!("alice: {{ cert_uri: \"{alice_uri}\","),
                1,
            )
        },
    )
    .await;
    let over = |pair: &Pair| Api::https(t.port, &ca.pem, Some(&pair.identity_pem()));
    let status = |api: Api, key: String, path: &'static str| async move {
        api.get(Some(&key), path).await.0
    };
    let (agent, other, approver) = (&keys.agent, &keys.other_agent, &keys.approver);
    // Each pinned key over its own certificate.
    assert_eq!(
        status(over(&agent_cert), agent.clone(), "/v1/tools").await,
        200
    );
    assert_eq!(
        status(over(&alice_cert), approver.clone(), "/v1/pending-actions").await,
        200
    );
    // A pinned key over any other certificate: refused.
    assert_eq!(
        status(over(&plain_cert), agent.clone(), "/v1/tools").await,
        401
    );
    assert_eq!(
        status(over(&alice_cert), agent.clone(), "/v1/tools").await,
        401
    );
    assert_eq!(
        status(over(&agent_cert), approver.clone(), "/v1/pending-actions").await,
        401
    );
    assert_eq!(
        status(over(&plain_cert), approver.clone(), "/v1/pending-actions").await,
        401
    );
    // An unpinned key: over an unpinned certificate yes, over one pinned
    // to another identity no.
    assert_eq!(
        status(over(&plain_cert), other.clone(), "/v1/tools").await,
        200
    );
    assert_eq!(
        status(over(&agent_cert), other.clone(), "/v1/tools").await,
        401
    );
    assert_eq!(
        status(over(&alice_cert), other.clone(), "/v1/tools").await,
        401
    );
    let log = std::fs::read_to_string(t.dir.path().join("toolgate.log")).unwrap();
    assert!(log.contains("not pinned to"), "{log}");
    assert!(!log.contains(agent.as_str()), "a key is in the log");
}

#[tokio::test]
async fn a_pin_without_client_certificates_or_shared_by_two_is_a_config_error() {
    let ca = Ca::new("server CA");
    let server = ca.server();
    let up = Upstream::start().await;
    let dir = ConfigDir::new();
    for (rel, text) in tools_yaml(&up.base()) {
        dir.write(&rel, &text);
    }
    dir.write("tls/server.crt", &server.cert);
    dir.write("tls/server.key", &server.key);
    dir.write("tls/clients.pem", &ca.pem);
    let keys = Keys::new();
    let pin = "cert_sha256: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",";
    let check = |tls: &str, both: bool| {
        let mut config = config_yaml(&keys, tls).replacen(
            "test-agent: { workflow: main,",
            &format!("test-agent: {{ workflow: main, {pin}"),
            1,
        );
        if both {
            config = config.replacen(
                "other-agent: { workflow: other,",
                &format!("other-agent: {{ workflow: other, {pin}"),
                1,
            );
        }
        check_config(&dir, &config)
    };
    let (ok, out) = check("", false);
    assert!(!ok && out.contains("need tls.client_ca"), "{out}");
    let mtls = "tls: { cert: tls/server.crt, key: tls/server.key, client_ca: tls/clients.pem }\n";
    let (ok, out) = check(mtls, false);
    assert!(ok, "{out}");
    let (ok, out) = check(mtls, true);
    assert!(!ok && out.contains("pins the same cert_sha256"), "{out}");
}
