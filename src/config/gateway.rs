//! Gateway settings: listener, limits, sessions, Vault connection, store and
//! audit trail. Where a setting names a place on disk, the place is checked
//! here as far as it can be without creating anything, so `toolgate check`
//! refuses what `toolgate serve` would refuse at start.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::document::FileCtx;
use super::model::{
    AuditConfig, CredentialDef, Limits, SourceDef, StoreConfig, VaultAuth, VaultConfig,
};
use super::raw::{
    RawAudit, RawAuditChains, RawAuditKind, RawConfig, RawLimits, RawStore, RawVault,
};
use super::sources::{SourceUse, source};
use crate::store::{RedisOptions, RedisTarget};

/// The database file's name when `store.path` names a directory.
pub const STORE_FILE_NAME: &str = "toolgate.redb";
/// The store directory when `store` is not set (relative to `toolgate.yaml`).
const DEFAULT_STORE_DIR: &str = "data";
/// The audit trail when `audit.path` is not set.
const DEFAULT_AUDIT_PATH: &str = "data/audit.jsonl";

/// The listen address when none is set.
const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));

/// The process-wide settings of one gateway.
pub(super) struct Settings {
    /// The default stands in when the setting is invalid (reported; the load fails).
    pub listen: SocketAddr,
    /// Where `/metrics` is served instead of the main listener, when set.
    pub metrics_listen: Option<SocketAddr>,
    pub limits: Limits,
    pub sessions_max_ttl: Duration,
    pub vault: VaultConfig,
    pub store: StoreConfig,
    pub store_redis: RedisOptions,
    pub store_password: Option<SourceDef>,
    pub store_encryption_key: Option<SourceDef>,
    pub audit: AuditConfig,
}

pub(super) fn build(raw: &RawConfig, base_dir: &Path, ctx: &mut FileCtx<'_>) -> Settings {
    let listen = match raw.listen.as_deref().map(str::parse::<SocketAddr>) {
        None => DEFAULT_LISTEN,
        Some(Ok(a)) => a,
        Some(Err(_)) => {
            ctx.error(
                "/listen",
                "listen must be host:port with an IP address, e.g. 127.0.0.1:8080",
            );
            DEFAULT_LISTEN
        }
    };
    let metrics_listen = raw.metrics.as_ref().and_then(|m| m.listen.as_deref()).and_then(|l| {
        match l.parse::<SocketAddr>() {
            Ok(a) if a == listen => {
                ctx.error(
                    "/metrics/listen",
                    "metrics.listen must differ from listen; leave it out to serve /metrics on the main listener",
                );
                None
            }
            Ok(a) => Some(a),
            Err(_) => {
                ctx.error(
                    "/metrics/listen",
                    "metrics.listen must be host:port with an IP address, e.g. 127.0.0.1:9464",
                );
                None
            }
        }
    });
    let vault = vault(raw.vault.as_ref(), base_dir, ctx);
    let sessions_max_ttl = Duration::from_secs(
        raw.sessions
            .as_ref()
            .and_then(|s| s.max_ttl_seconds)
            .unwrap_or(3600),
    );
    let store = store(raw.store.as_ref(), base_dir, ctx);
    let store_redis = store_redis(raw.store.as_ref(), base_dir, ctx);
    let store_password = match raw.store.as_ref() {
        Some(RawStore::Redis {
            password: Some(p), ..
        }) => source(p, base_dir, ctx, "/store/password", SourceUse::Setting),
        _ => None,
    };
    let store_encryption_key = raw
        .store
        .as_ref()
        .and_then(RawStore::encryption_key)
        .and_then(|r| {
            source(
                r,
                base_dir,
                ctx,
                "/store/encryption_key",
                SourceUse::Setting,
            )
        });
    let audit = audit(raw.audit.as_ref(), base_dir, ctx);
    if audit.redis && store.redis().is_none() {
        ctx.error(
            "/audit/kind",
            "`audit: {kind: redis}` writes to the store's Redis; set `store: {kind: redis, url: ...}` (or `cluster: [...]`)",
        );
    }
    Settings {
        listen,
        metrics_listen,
        limits: limits(raw.limits.as_ref()),
        sessions_max_ttl,
        vault,
        store,
        store_redis,
        store_password,
        store_encryption_key,
        audit,
    }
}

/// `store.tls` (only for a `rediss://` URL; its files are read and checked
/// here) and `store.username`. The password is a source, read at start.
fn store_redis(raw: Option<&RawStore>, base_dir: &Path, ctx: &mut FileCtx<'_>) -> RedisOptions {
    let Some(RawStore::Redis {
        url,
        cluster,
        tls,
        username,
        ..
    }) = raw
    else {
        return RedisOptions::default();
    };
    let Some(tls) = tls else {
        return RedisOptions {
            username: username.clone(),
            ..RedisOptions::default()
        };
    };
    let all_tls = match (url, cluster) {
        (Some(u), _) => u.starts_with("rediss://"),
        (None, Some(c)) => !c.is_empty() && c.iter().all(|u| u.starts_with("rediss://")),
        (None, None) => false,
    };
    if !all_tls {
        ctx.error(
            "/store/tls",
            "store.tls applies to rediss:// URLs; use rediss:// to connect over TLS",
        );
    }
    let ca = tls.ca.as_ref().map(|c| base_dir.join(c));
    if let Some(ca) = &ca
        && let Err(e) = crate::tls::load_roots(ca)
    {
        ctx.error("/store/tls/ca", e);
    }
    let client = match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            let (cert, key) = (base_dir.join(cert), base_dir.join(key));
            if let Err(e) = crate::tls::load_pair(&cert, &key) {
                ctx.error("/store/tls/cert", e.to_string());
            }
            Some((cert, key))
        }
        (None, None) => None,
        _ => {
            ctx.error(
                "/store/tls",
                "store.tls.cert and store.tls.key go together (a client certificate and its key)",
            );
            None
        }
    };
    RedisOptions {
        ca,
        client,
        username: username.clone(),
        password: None,
    }
}

/// OAuth2 tokens are kept in the store, sealed: a persistent store needs the
/// key, and per-user connections (which live only there) always do. A store
/// source is always sealed: it needs the key whatever the store.
pub(super) fn check_store_key(
    settings: &Settings,
    credentials: &BTreeMap<String, Arc<CredentialDef>>,
    ctx: &mut FileCtx<'_>,
) {
    let oauth2 = credentials
        .values()
        .any(|c| matches!(c.source, SourceDef::OAuth2(_)));
    if oauth2 && settings.store != StoreConfig::Memory && settings.store_encryption_key.is_none() {
        ctx.error(
            "/store",
            "OAuth2 credentials keep their tokens in the store, sealed: set store.encryption_key: <source> (a high-entropy secret)",
        );
    }
    let connected = credentials.values().find(|c| {
        matches!(&c.source, SourceDef::OAuth2(o) if o.grant == super::model::Grant::AuthorizationCode)
    });
    if let Some(c) = connected
        && settings.store_encryption_key.is_none()
    {
        ctx.error(
            "/store",
            format!(
                "credential {} keeps each end user's tokens in the store, sealed: set store.encryption_key: <source> (a high-entropy secret)",
                c.name
            ),
        );
    }
    if settings.store_encryption_key.is_none() {
        for c in credentials.values() {
            if let SourceDef::Store { .. } = c.source {
                ctx.error(
                    &format!("/credentials/{}/source/store", super::yaml::escape_token(&c.name)),
                    "a store source keeps its versions sealed: set store.encryption_key: <source> (a high-entropy secret)",
                );
            }
        }
    }
}

fn vault(raw: Option<&RawVault>, base_dir: &Path, ctx: &mut FileCtx<'_>) -> VaultConfig {
    let default = RawVault::default();
    let v = raw.unwrap_or(&default);
    let mut src = |key: &str, s: &super::raw::RawSource| {
        source(
            s,
            base_dir,
            ctx,
            &format!("/vault/{key}"),
            SourceUse::Setting,
        )
    };
    let auth = match &v.approle {
        Some(a) => {
            let role_id = src("approle/role_id", &a.role_id);
            let secret_id = src("approle/secret_id", &a.secret_id);
            match (role_id, secret_id) {
                (Some(role_id), Some(secret_id)) => VaultAuth::AppRole { role_id, secret_id },
                _ => VaultAuth::Token(None),
            }
        }
        None => VaultAuth::Token(v.token.as_ref().and_then(|t| src("token", t))),
    };
    VaultConfig {
        address: v.address.clone(),
        auth,
        cache: Duration::from_secs(v.cache_seconds.unwrap_or(30)),
        max_stale: Duration::from_secs(v.max_stale_seconds.unwrap_or(300)),
    }
}

fn store(raw: Option<&RawStore>, base_dir: &Path, ctx: &mut FileCtx<'_>) -> StoreConfig {
    match raw {
        None => StoreConfig::File(store_file(base_dir, None)),
        Some(RawStore::Memory { .. }) => StoreConfig::Memory,
        Some(RawStore::File { path, .. }) => {
            let file = store_file(base_dir, path.as_deref());
            let pointer = if path.is_some() {
                "/store/path"
            } else {
                "/store"
            };
            if let Err(why) = usable_file(&file) {
                ctx.error(
                    pointer,
                    format!("the store database {} {why}", file.display()),
                );
            }
            StoreConfig::File(file)
        }
        Some(RawStore::Redis {
            url: None,
            cluster: None,
            ..
        }) => {
            ctx.error(
                "/store",
                "`kind: redis` needs `url: redis://host:port/db`, or `cluster: [redis://host:port, ...]` for a Redis Cluster",
            );
            StoreConfig::Memory
        }
        Some(RawStore::Redis {
            url: Some(_),
            cluster: Some(_),
            ..
        }) => {
            ctx.error(
                "/store/cluster",
                "store.url and store.cluster exclude each other: give `url` for one Redis, `cluster` for a Redis Cluster",
            );
            StoreConfig::Memory
        }
        Some(RawStore::Redis {
            url: Some(url),
            cluster: None,
            ..
        }) => {
            if !redis_url_ok(url) {
                ctx.error(
                    "/store/url",
                    "not a Redis URL; expected redis://[:password@]host:port/db, or rediss:// for TLS",
                );
            }
            StoreConfig::Redis(RedisTarget::Node(url.clone()))
        }
        Some(RawStore::Redis {
            url: None,
            cluster: Some(urls),
            ..
        }) => {
            if urls.is_empty() {
                ctx.error(
                    "/store/cluster",
                    "store.cluster is empty; list some of the cluster's nodes, e.g. [redis://a:7000, redis://b:7001]",
                );
            }
            for (i, url) in urls.iter().enumerate() {
                if !redis_url_ok(url) {
                    ctx.error(
                        &format!("/store/cluster/{i}"),
                        "not a Redis URL; expected redis://host:port (or rediss:// for TLS), as for store.url",
                    );
                } else if url::Url::parse(url).is_ok_and(|u| !matches!(u.path(), "" | "/" | "/0")) {
                    ctx.error(
                        &format!("/store/cluster/{i}"),
                        "a Redis Cluster has only database 0; leave the /db out",
                    );
                }
            }
            let schemes: std::collections::BTreeSet<_> = urls
                .iter()
                .filter_map(|u| u.split_once("://").map(|(s, _)| s))
                .collect();
            if schemes.len() > 1 {
                ctx.error(
                    "/store/cluster",
                    "mixes redis:// and rediss://; a cluster's nodes are reached all over TLS or all without",
                );
            }
            StoreConfig::Redis(RedisTarget::Cluster(urls.clone()))
        }
    }
}

/// `redis://` or `rediss://` with a host.
fn redis_url_ok(url: &str) -> bool {
    matches!(url::Url::parse(url), Ok(u) if matches!(u.scheme(), "redis" | "rediss") && u.host_str().is_some())
}

/// The database file `store: {kind: file, path}` names (relative to `base_dir`).
///
/// `path` names a directory, and the database is `toolgate.redb` inside it,
/// when it ends in `/`, is an existing directory, or does not exist and does
/// not end in `.redb`. An existing file, or a new path ending in `.redb`, is
/// the database file itself. No `path` means the directory `data`.
pub fn store_file(base_dir: &Path, path: Option<&str>) -> PathBuf {
    let Some(path) = path else {
        return base_dir.join(DEFAULT_STORE_DIR).join(STORE_FILE_NAME);
    };
    let full = base_dir.join(path);
    let is_dir = if path.ends_with('/') || path.ends_with(std::path::MAIN_SEPARATOR) {
        true
    } else {
        match std::fs::metadata(&full) {
            Ok(m) => m.is_dir(),
            Err(_) => full.extension().is_none_or(|x| x != "redb"),
        }
    };
    if is_dir {
        full.join(STORE_FILE_NAME)
    } else {
        full
    }
}

/// Unauthenticated refusals are written as counts once a minute.
const DEFAULT_REFUSALS_INTERVAL_S: u64 = 60;
/// 64 MiB.
const DEFAULT_MIN_FREE_BYTES: u64 = 64 * 1024 * 1024;

fn audit(raw: Option<&RawAudit>, base_dir: &Path, ctx: &mut FileCtx<'_>) -> AuditConfig {
    let Some(a) = raw else {
        let path = base_dir.join(DEFAULT_AUDIT_PATH);
        if let Err(why) = usable_file(&path) {
            ctx.error("", format!("the audit trail {} {why}", path.display()));
        }
        return AuditConfig {
            path,
            redis: false,
            per_replica: false,
            hmac_key: None,
            signing_key: None,
            max_file_bytes: None,
            checkpoint_interval: Duration::from_secs(60),
            refusals_interval: Duration::from_secs(DEFAULT_REFUSALS_INTERVAL_S),
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
        };
    };
    let redis = a.kind == RawAuditKind::Redis;
    let per_replica = a.chains == Some(RawAuditChains::PerReplica);
    if per_replica && !redis {
        ctx.error(
            "/audit/chains",
            "per-replica chains are for the Redis trail (`kind: redis`); a file trail is one chain per gateway",
        );
    }
    let path = base_dir.join(a.path.as_deref().unwrap_or(DEFAULT_AUDIT_PATH));
    // A Redis trail and its checkpoints live in Redis; only a file trail is on disk.
    if !redis {
        let pointer = if a.path.is_some() {
            "/audit/path"
        } else {
            "/audit"
        };
        if let Err(why) = usable_file(&path) {
            ctx.error(pointer, format!("the audit trail {} {why}", path.display()));
        }
    }
    let key = |ctx: &mut FileCtx<'_>, k: &str, s: Option<&super::raw::RawSource>| {
        s.and_then(|s| source(s, base_dir, ctx, &format!("/audit/{k}"), SourceUse::Setting))
    };
    AuditConfig {
        hmac_key: key(ctx, "hmac_key", a.hmac_key.as_ref()),
        signing_key: key(ctx, "signing_key", a.signing_key.as_ref()),
        path,
        redis,
        per_replica,
        max_file_bytes: a.max_file_bytes,
        checkpoint_interval: Duration::from_secs(a.checkpoint_interval_seconds.unwrap_or(60)),
        refusals_interval: Duration::from_secs(
            a.refusals_interval_seconds
                .unwrap_or(DEFAULT_REFUSALS_INTERVAL_S),
        ),
        min_free_bytes: a.min_free_bytes.unwrap_or(DEFAULT_MIN_FREE_BYTES),
    }
}

/// Whether a file can be opened (or created, with its directories) at `path`
/// as far as can be told without creating anything; `Err` says why not.
fn usable_file(path: &Path) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => return Ok(()),
        Ok(m) if m.is_dir() => return Err("is a directory, not a file".into()),
        Ok(_) => return Err("is not a regular file".into()),
        Err(_) => {}
    }
    // Nothing there yet: the nearest existing ancestor must be a directory.
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d.as_os_str().is_empty() {
            return Ok(());
        }
        match std::fs::metadata(d) {
            Ok(m) if m.is_dir() => return Ok(()),
            Ok(_) => {
                return Err(format!(
                    "cannot be created: {} is not a directory",
                    d.display()
                ));
            }
            Err(_) => dir = d.parent(),
        }
    }
    Ok(())
}

fn limits(raw: Option<&RawLimits>) -> Limits {
    let d = Limits::default();
    match raw {
        None => d,
        Some(l) => Limits {
            max_body_bytes: l.max_body_bytes.unwrap_or(d.max_body_bytes),
            max_concurrency: l.max_concurrency.unwrap_or(d.max_concurrency),
            request_timeout: l
                .request_timeout_ms
                .map(Duration::from_millis)
                .unwrap_or(d.request_timeout),
            shutdown_grace: l
                .shutdown_grace_ms
                .map(Duration::from_millis)
                .unwrap_or(d.shutdown_grace),
            header_read_timeout: l
                .header_read_timeout_ms
                .map(Duration::from_millis)
                .unwrap_or(d.header_read_timeout),
            max_header_bytes: l.max_header_bytes.unwrap_or(d.max_header_bytes),
            max_headers: l.max_headers.unwrap_or(d.max_headers),
            max_connections: l.max_connections.unwrap_or(d.max_connections),
            max_connections_per_client: l
                .max_connections_per_client
                .unwrap_or(d.max_connections_per_client),
            max_streams_per_connection: l
                .max_streams_per_connection
                .unwrap_or(d.max_streams_per_connection),
            body_read_timeout: l
                .body_read_timeout_ms
                .map(Duration::from_millis)
                .unwrap_or(d.body_read_timeout),
            min_body_bytes_per_sec: l.min_body_bytes_per_sec.unwrap_or(d.min_body_bytes_per_sec),
        },
    }
}
