//! TLS on toolgate's own listener (rustls): the certificate chain and key
//! from PEM files, re-read when they change, and optionally client
//! certificates required and verified against a CA (mutual TLS).
//!
//! A pair that cannot be read, or whose key does not match its certificate,
//! is refused at start with the file named (`toolgate check` reports it
//! too). At run time the files are read again every
//! [`RELOAD_EVERY`]; a new good pair serves every new connection (open
//! ones keep theirs), and a bad one leaves the old pair in place, which is
//! logged and shown on `/readyz`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

/// How often the certificate and key files are read for a change.
pub const RELOAD_EVERY: Duration = Duration::from_secs(2);

/// The lowest TLS version a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinVersion {
    Tls12,
    Tls13,
}

/// `tls:` as configured: absolute paths, and the lowest version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// With it, every client must present a certificate this CA issued.
    pub client_ca: Option<PathBuf>,
    pub min_version: MinVersion,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Why a certificate and key cannot be served; the message names the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairError {
    /// The certificate file is missing or holds no certificate.
    Cert(String),
    /// The key file is missing, holds no key, or a key of no supported kind.
    Key(String),
    /// Both are readable, but the key is not the certificate's.
    Mismatch(String),
}

impl std::fmt::Display for PairError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PairError::Cert(m) | PairError::Key(m) | PairError::Mismatch(m) => f.write_str(m),
        }
    }
}

/// Read a certificate chain and its private key, and check they belong
/// together.
pub fn load_pair(cert: &Path, key: &Path) -> Result<CertifiedKey, PairError> {
    let (cert_pem, key_pem) = read_both(cert, key)?;
    pair(cert, &cert_pem, key, &key_pem)
}

fn read_both(cert: &Path, key: &Path) -> Result<(Vec<u8>, Vec<u8>), PairError> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    Ok((
        read(cert).map_err(PairError::Cert)?,
        read(key).map_err(PairError::Key)?,
    ))
}

fn pair(
    cert: &Path,
    cert_pem: &[u8],
    key: &Path,
    key_pem: &[u8],
) -> Result<CertifiedKey, PairError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            PairError::Cert(format!(
                "{} is not a PEM certificate chain: {e}",
                cert.display()
            ))
        })?;
    if chain.is_empty() {
        return Err(PairError::Cert(format!(
            "{} holds no PEM certificate",
            cert.display()
        )));
    }
    let private = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| PairError::Key(format!("{} holds no PEM private key: {e}", key.display())))?;
    let signing = provider()
        .key_provider
        .load_private_key(private)
        .map_err(|e| PairError::Key(format!("{}: unsupported private key ({e})", key.display())))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|_| {
        PairError::Mismatch(format!(
            "the key in {} does not match the certificate in {}",
            key.display(),
            cert.display()
        ))
    })?;
    Ok(certified)
}

/// The CA certificates in a PEM file, as a trust store.
pub fn load_roots(ca: &Path) -> Result<RootCertStore, String> {
    let pem = std::fs::read(ca).map_err(|e| format!("cannot read {}: {e}", ca.display()))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("{} is not a PEM certificate: {e}", ca.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: not a usable CA certificate ({e})", ca.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("{} holds no PEM certificate", ca.display()));
    }
    Ok(roots)
}

/// The listener's TLS: what every new connection is handshaken with.
pub struct ListenerTls {
    acceptor: tokio_rustls::TlsAcceptor,
    certs: Arc<Certs>,
}

impl std::fmt::Debug for ListenerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerTls")
            .field("cert", &self.certs.cert)
            .finish_non_exhaustive()
    }
}

impl ListenerTls {
    /// Load the pair (and CA) and build the server configuration.
    pub fn new(settings: &TlsSettings) -> Result<ListenerTls, String> {
        let certs = Arc::new(Certs::load(settings).map_err(|e| e.to_string())?);
        let versions: &[&rustls::SupportedProtocolVersion] = match settings.min_version {
            MinVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
            MinVersion::Tls13 => &[&rustls::version::TLS13],
        };
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)
            .map_err(|e| format!("TLS: {e}"))?;
        let builder = match &settings.client_ca {
            Some(ca) => {
                let roots = Arc::new(load_roots(ca)?);
                let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider())
                    .build()
                    .map_err(|e| format!("{}: {e}", ca.display()))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(certs.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(ListenerTls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            certs,
        })
    }

    pub fn acceptor(&self) -> &tokio_rustls::TlsAcceptor {
        &self.acceptor
    }

    /// Why the files on disk are not being served, when they are not.
    pub fn problem(&self) -> Option<String> {
        self.certs.problem.load_full().map(|p| (*p).clone())
    }

    /// Read the files again every [`RELOAD_EVERY`], for ever.
    pub async fn watch(self: Arc<Self>) {
        let mut tick = tokio::time::interval(RELOAD_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let certs = self.certs.clone();
            // Small files, but still blocking reads.
            let _ = tokio::task::spawn_blocking(move || certs.reload()).await;
        }
    }
}

/// The pair being served, and the files it came from.
#[derive(Debug)]
struct Certs {
    cert: PathBuf,
    key: PathBuf,
    current: ArcSwap<CertifiedKey>,
    /// What the files held, by SHA-256, to act once per change.
    seen: Mutex<Seen>,
    problem: ArcSwapOption<String>,
}

impl Certs {
    fn load(settings: &TlsSettings) -> Result<Certs, PairError> {
        let (cert_pem, key_pem) = read_both(&settings.cert, &settings.key)?;
        let pair = pair(&settings.cert, &cert_pem, &settings.key, &key_pem)?;
        Ok(Certs {
            cert: settings.cert.clone(),
            key: settings.key.clone(),
            current: ArcSwap::from_pointee(pair),
            seen: Mutex::new(Seen {
                served: digest(&cert_pem, &key_pem),
                refused: None,
            }),
            problem: ArcSwapOption::empty(),
        })
    }

    /// Take the files' pair if they changed and are good; keep the old one
    /// (and say why) if they changed and are not.
    fn reload(&self) {
        let (cert_pem, key_pem) = match read_both(&self.cert, &self.key) {
            Ok(both) => both,
            Err(e) => return self.refuse(e.to_string()),
        };
        let now = digest(&cert_pem, &key_pem);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.served == now {
            // Back to what is served (say, after a file was briefly missing).
            self.problem.store(None);
            seen.refused = None;
            return;
        }
        if seen.refused == Some(now) {
            return;
        }
        match pair(&self.cert, &cert_pem, &self.key, &key_pem) {
            Ok(pair) => {
                self.current.store(Arc::new(pair));
                self.problem.store(None);
                *seen = Seen {
                    served: now,
                    refused: None,
                };
                tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded; new connections use it");
            }
            Err(e) => {
                seen.refused = Some(now);
                self.refuse(e.to_string());
            }
        }
    }

    fn refuse(&self, why: String) {
        let already = self.problem.load().as_deref().is_some_and(|p| *p == why);
        if !already {
            tracing::warn!(problem = %why, "the TLS files on disk are not usable; still serving the previous certificate");
            self.problem.store(Some(Arc::new(why)));
        }
    }
}

/// The files' contents served, and the last ones refused.
#[derive(Debug)]
struct Seen {
    served: [u8; 32],
    refused: Option<[u8; 32]>,
}

fn digest(cert: &[u8], key: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((cert.len() as u64).to_be_bytes());
    h.update(cert);
    h.update(key);
    h.finalize().into()
}

impl ResolvesServerCert for Certs {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// The certificate a client presented on its connection (mutual TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCert {
    /// SHA-256 of the leaf certificate's DER.
    pub sha256: [u8; 32],
    /// Its URI subject alternative names (SPIFFE IDs and the like).
    pub uris: Vec<String>,
}

impl PeerCert {
    /// What a verified leaf certificate says (rustls has checked it chains
    /// to `tls.client_ca`; one it cannot parse keeps only its hash).
    pub fn of(leaf: &CertificateDer<'_>) -> PeerCert {
        let uris = x509_parser::parse_x509_certificate(leaf.as_ref())
            .ok()
            .and_then(|(_, cert)| {
                cert.subject_alternative_name().ok().flatten().map(|san| {
                    san.value
                        .general_names
                        .iter()
                        .filter_map(|n| match n {
                            x509_parser::extensions::GeneralName::URI(u) => Some((*u).to_owned()),
                            _ => None,
                        })
                        .collect()
                })
            })
            .unwrap_or_default();
        PeerCert {
            sha256: Sha256::digest(leaf.as_ref()).into(),
            uris,
        }
    }
}

/// The connection's client certificate, as the gate sees it: none over
/// plain HTTP or when the client showed none.
#[derive(Debug, Clone)]
pub struct ClientCert(pub Option<Arc<PeerCert>>);
