//! A Redis client as configured: over TLS for `rediss://` (the server's
//! certificate verified against the system's roots, or against
//! `store.tls.ca`; a client certificate presented when `store.tls.cert` and
//! `key` are set — a certificate that does not verify fails the
//! connection, and there is no way to skip the check), and with the user
//! and password from `store.username` and `store.password` (a source), so
//! that neither need be written in the URL.

use std::path::PathBuf;

use redis::{ClientTlsConfig, IntoConnectionInfo, TlsCertificates};
use secrecy::{ExposeSecret, SecretString};

use super::contract::StoreError;

/// How to reach the store's Redis beyond its URL. The TLS files are paths,
/// read when a client is made; the password was read from its source.
#[derive(Debug, Clone, Default)]
pub struct RedisOptions {
    /// CA certificates (PEM) to verify the server with, instead of the system's.
    pub ca: Option<PathBuf>,
    /// A client certificate chain and its key (PEM), for mutual TLS.
    pub client: Option<(PathBuf, PathBuf)>,
    /// An ACL user, in place of the URL's.
    pub username: Option<String>,
    /// The password, in place of the URL's (never printed).
    pub password: Option<SecretString>,
}

/// A Redis error as text: the error's kind and detail, never the URL (which
/// may hold a password).
pub fn redis_error_text(e: &redis::RedisError) -> String {
    format!("redis: {e}")
}

/// A client for `url` (`redis://` or `rediss://`) with `options` applied.
pub fn client(url: &str, options: &RedisOptions) -> Result<redis::Client, StoreError> {
    let failed = |e: redis::RedisError| StoreError(redis_error_text(&e));
    let mut info = url.into_connection_info().map_err(failed)?;
    if options.username.is_some() || options.password.is_some() {
        let mut settings = info.redis_settings().clone();
        if let Some(user) = &options.username {
            settings = settings.set_username(user);
        }
        if let Some(password) = &options.password {
            settings = settings.set_password(password.expose_secret());
        }
        info = info.set_redis_settings(settings);
    }
    if options.ca.is_none() && options.client.is_none() {
        return redis::Client::open(info).map_err(failed);
    }
    let read = |p: &PathBuf| {
        std::fs::read(p).map_err(|e| StoreError(format!("cannot read {}: {e}", p.display())))
    };
    let root_cert = options.ca.as_ref().map(read).transpose()?;
    let client_tls = match &options.client {
        Some((cert, key)) => Some(ClientTlsConfig {
            client_cert: read(cert)?,
            client_key: read(key)?,
        }),
        None => None,
    };
    redis::Client::build_with_tls(
        info,
        TlsCertificates {
            client_tls,
            root_cert,
        },
    )
    .map_err(failed)
}
