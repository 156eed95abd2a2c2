//! A Redis client as configured: over TLS for `rediss://` (the server's
//! certificate verified against the system's roots, or against
//! `store.tls.ca`; a client certificate presented when `store.tls.cert` and
//! `key` are set — a certificate that does not verify fails the
//! connection, and there is no way to skip the check), and with the user
//! and password from `store.username` and `store.password` (a source), so
//! that neither need be written in the URL.
//!
//! The store's Redis is one server (`store.url`) or a Redis Cluster
//! (`store.cluster`, its seed nodes): [`RedisTarget`] names which, and
//! [`RedisConn`] is a self-reconnecting connection to either, so the store,
//! the audit stream and the bus run unchanged on both.

use std::path::PathBuf;

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{
    ClientTlsConfig, Cmd, IntoConnectionInfo, Pipeline, RedisFuture, TlsCertificates, Value,
};
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
    match certificates(options)? {
        None => redis::Client::open(info).map_err(failed),
        Some(certs) => redis::Client::build_with_tls(info, certs).map_err(failed),
    }
}

/// The CA and client certificate of `store.tls`, read; None when not set.
fn certificates(options: &RedisOptions) -> Result<Option<TlsCertificates>, StoreError> {
    if options.ca.is_none() && options.client.is_none() {
        return Ok(None);
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
    Ok(Some(TlsCertificates {
        client_tls,
        root_cert,
    }))
}

/// How long one Redis operation may take before the call fails closed.
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long connecting to one node may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Where the store's Redis is.
#[derive(Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// One server (or one managed endpoint): `store.url`.
    Node(String),
    /// A Redis Cluster, by some of its nodes (the rest are learned from
    /// them): `store.cluster`.
    Cluster(Vec<String>),
}

impl RedisTarget {
    /// Every URL named (one for a node; the seeds of a cluster).
    pub fn urls(&self) -> &[String] {
        match self {
            RedisTarget::Node(url) => std::slice::from_ref(url),
            RedisTarget::Cluster(urls) => urls,
        }
    }

    /// `audit verify`'s form: one URL, or a cluster's seeds joined by commas.
    pub fn parse(text: &str) -> RedisTarget {
        if text.contains(',') {
            RedisTarget::Cluster(
                text.split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )
        } else {
            RedisTarget::Node(text.to_owned())
        }
    }
}

/// Never prints a URL's password.
impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: Vec<String> = self
            .urls()
            .iter()
            .map(|url| match url::Url::parse(url) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    u.to_string()
                }
                Err(_) => "(unparsable)".to_owned(),
            })
            .collect();
        match self {
            RedisTarget::Node(_) => f.debug_tuple("Node").field(&shown[0]).finish(),
            RedisTarget::Cluster(_) => f.debug_tuple("Cluster").field(&shown).finish(),
        }
    }
}

/// A cluster client for `seeds` with `options` applied; no connection yet.
fn cluster_client(seeds: &[String], options: &RedisOptions) -> Result<ClusterClient, StoreError> {
    let failed = |e: redis::RedisError| StoreError(redis_error_text(&e));
    let mut builder = ClusterClientBuilder::new(seeds.iter().map(String::as_str))
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(RESPONSE_TIMEOUT)
        .overall_response_timeout(Some(RESPONSE_TIMEOUT))
        .retries(3)
        .min_retry_wait(50)
        .max_retry_wait(500);
    if let Some(user) = &options.username {
        builder = builder.username(user);
    }
    if let Some(password) = &options.password {
        builder = builder.password(password.expose_secret());
    }
    if let Some(certs) = certificates(options)? {
        builder = builder.certs(certs);
    }
    builder.build().map_err(failed)
}

/// A self-reconnecting connection to the store's Redis: one node's
/// [`ConnectionManager`], or a cluster connection that routes each command
/// to the master of its key's slot and follows the cluster's failovers.
#[derive(Clone)]
pub enum RedisConn {
    Node(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Open a connection to `target`, lazily: the process starts while Redis is
/// down and serves as soon as it is up.
pub fn connect(target: &RedisTarget, options: &RedisOptions) -> Result<RedisConn, StoreError> {
    match target {
        RedisTarget::Node(url) => {
            let config = ConnectionManagerConfig::new()
                .set_response_timeout(Some(RESPONSE_TIMEOUT))
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_number_of_retries(1)
                .set_min_delay(Duration::from_millis(50))
                .set_max_delay(Duration::from_millis(500));
            ConnectionManager::new_lazy_with_config(client(url, options)?, config)
                .map(RedisConn::Node)
                .map_err(|e| StoreError(redis_error_text(&e)))
        }
        RedisTarget::Cluster(seeds) => {
            let config = ClusterConfig::new()
                .set_connection_timeout(CONNECT_TIMEOUT)
                .set_response_timeout(RESPONSE_TIMEOUT);
            Ok(RedisConn::Cluster(
                cluster_client(seeds, options)?.get_pending_async_connection_with_config(config),
            ))
        }
    }
}

/// A blocking connection to `target` (for `toolgate audit verify`), or why not.
pub fn connect_blocking(
    target: &RedisTarget,
    options: &RedisOptions,
) -> Result<Box<dyn redis::ConnectionLike + Send>, StoreError> {
    let failed = |e: redis::RedisError| StoreError(redis_error_text(&e));
    match target {
        RedisTarget::Node(url) => Ok(Box::new(
            client(url, options)?
                .get_connection_with_timeout(Duration::from_secs(5))
                .map_err(failed)?,
        )),
        RedisTarget::Cluster(seeds) => {
            let config = ClusterConfig::new()
                .set_connection_timeout(Duration::from_secs(5))
                .set_response_timeout(Duration::from_secs(5));
            Ok(Box::new(
                cluster_client(seeds, options)?
                    .get_connection_with_config(config)
                    .map_err(failed)?,
            ))
        }
    }
}

impl std::fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RedisConn::Node(_) => "RedisConn::Node",
            RedisConn::Cluster(_) => "RedisConn::Cluster",
        })
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConn::Node(c) => c.req_packed_command(cmd),
            RedisConn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConn::Node(c) => c.req_packed_commands(pipeline, offset, count),
            RedisConn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConn::Node(c) => c.get_db(),
            RedisConn::Cluster(c) => c.get_db(),
        }
    }
}
