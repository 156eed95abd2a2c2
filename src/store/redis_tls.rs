//! Connecting to Redis over TLS (`rediss://`): the server's certificate is
//! verified against the system's roots, or against `store.tls.ca` when set,
//! and a client certificate is presented when `store.tls.cert`/`key` are
//! set. A certificate that does not verify fails the connection; there is no
//! way to skip the check.

use std::path::PathBuf;

use redis::{ClientTlsConfig, TlsCertificates};

use super::contract::StoreError;

/// `store.tls`: whom to trust, and what to present (paths, read when a
/// client is made).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedisTls {
    /// CA certificates (PEM) to verify the server with, instead of the system's.
    pub ca: Option<PathBuf>,
    /// A client certificate chain and its key (PEM), for mutual TLS.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// A Redis error as text: the error's kind and detail, never the URL (which
/// may hold a password).
pub fn redis_error_text(e: &redis::RedisError) -> String {
    format!("redis: {e}")
}

/// A client for `url` (`redis://` or `rediss://`) with `tls` applied.
pub fn client(url: &str, tls: &RedisTls) -> Result<redis::Client, StoreError> {
    if *tls == RedisTls::default() {
        return redis::Client::open(url).map_err(|e| StoreError(redis_error_text(&e)));
    }
    let read = |p: &PathBuf| {
        std::fs::read(p).map_err(|e| StoreError(format!("cannot read {}: {e}", p.display())))
    };
    let root_cert = tls.ca.as_ref().map(read).transpose()?;
    let client_tls = match &tls.client {
        Some((cert, key)) => Some(ClientTlsConfig {
            client_cert: read(cert)?,
            client_key: read(key)?,
        }),
        None => None,
    };
    redis::Client::build_with_tls(
        url,
        TlsCertificates {
            client_tls,
            root_cert,
        },
    )
    .map_err(|e| StoreError(redis_error_text(&e)))
}
