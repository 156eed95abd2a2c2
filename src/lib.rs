//! toolgate: an HTTP gateway between LLM orchestrators and the APIs their
//! agents act on. It authenticates the caller, validates the tool call,
//! attaches the real credential itself, calls the upstream, and returns a
//! result scrubbed of every secret.
//!
//! Start with [`pipeline`]: the stages of a call, in order.

#![forbid(unsafe_code)]

pub mod access_review;
pub mod actions;
pub mod api;
pub mod approvals;
pub mod audit;
pub mod catalog;
pub mod config;
pub mod dead_letters;
pub mod dev;
pub mod error;
pub mod events;
pub mod identity;
pub mod pipeline;
pub mod redact;
pub mod revocations;
pub mod secrets;
pub mod server;
pub mod sessions;
pub mod store;
pub mod telemetry;

use std::sync::Arc;

use catalog::{Catalog, Loaded};
use identity::Identities;
use pipeline::egress::Egress;
use redact::{Redactor, SharedRedactor};
use secrets::{Credentials, EnvSource};
use store::{FileStore, MemoryStore, Store};

/// Everything a request needs, built once from a validated config.
pub struct Gateway {
    pub config: Arc<config::Config>,
    /// Every workflow's callable tools: `catalog.binding(workflow, tool)`.
    pub catalog: Arc<Catalog>,
    pub identities: Identities,
    pub credentials: Credentials,
    pub redactor: Arc<SharedRedactor>,
    pub egress: Egress,
    pub store: Arc<dyn Store>,
    /// The shared Redis, when the store is on one (audit stream, events).
    pub redis: Option<redis::aio::ConnectionManager>,
    pub revocations: revocations::Revocations,
    /// What this replica already took from other replicas' announcements.
    pub events_seen: events::Seen,
    pub audit: Arc<dyn audit::AuditSink>,
    /// Keys the HMACs of masked arguments and credential fingerprints (and
    /// the chain, when configured): from `audit.hmac_key`, else random per process.
    pub audit_key: Arc<[u8]>,
    /// Signs audit checkpoints, when `audit.signing_key` is configured.
    pub audit_signer: Option<ed25519_dalek::SigningKey>,
    /// Woken whenever an action changes, for long-polls in this process.
    pub action_events: tokio::sync::Notify,
}

impl Gateway {
    /// Build the gateway; `redactor` is shared with the log writer so logs are scrubbed too.
    pub fn new(
        config: Loaded,
        env: Arc<dyn EnvSource>,
        redactor: Arc<SharedRedactor>,
    ) -> anyhow::Result<Arc<Gateway>> {
        Gateway::build(config, env, redactor, None)
    }

    /// A gateway whose audit records go to `sink` instead of the configured
    /// file (tests and benchmarks).
    pub fn with_audit_sink(
        config: Loaded,
        env: Arc<dyn EnvSource>,
        sink: Arc<dyn audit::AuditSink>,
    ) -> anyhow::Result<Arc<Gateway>> {
        Gateway::build(
            config,
            env,
            Arc::new(SharedRedactor::new(Redactor::empty())),
            Some(sink),
        )
    }

    /// The tool `tool` as workflow `workflow` offers it.
    pub fn binding(&self, workflow: &str, tool: &str) -> Option<&Arc<catalog::ToolBinding>> {
        self.catalog.binding(workflow, tool)
    }

    fn build(
        loaded: Loaded,
        env: Arc<dyn EnvSource>,
        redactor: Arc<SharedRedactor>,
        sink: Option<Arc<dyn audit::AuditSink>>,
    ) -> anyhow::Result<Arc<Gateway>> {
        let Loaded { config, catalog } = loaded;
        let credentials = Credentials::new(&config, env, redactor.clone());
        let configured_key = match &config.audit.hmac_key {
            Some(source) => Some(
                credentials
                    .read_extra("audit-hmac-key", source)
                    .map_err(|e| anyhow::anyhow!("cannot read the audit HMAC key: {e}"))?,
            ),
            None => None,
        };
        let audit_key: Arc<[u8]> = match &configured_key {
            Some(k) => Arc::from(secrecy::ExposeSecret::expose_secret(k).as_bytes()),
            None => {
                let mut k = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rng(), &mut k);
                Arc::from(&k[..])
            }
        };
        let chain_key = configured_key.as_ref().map(|_| audit_key.clone());
        let audit_signer = match &config.audit.signing_key {
            Some(source) => Some(audit::checkpoint::signing_key(
                secrecy::ExposeSecret::expose_secret(
                    &credentials
                        .read_extra("audit-signing-key", source)
                        .map_err(|e| anyhow::anyhow!("cannot read the audit signing key: {e}"))?,
                )
                .as_bytes(),
            )),
            None => None,
        };
        let redis = match config.store.redis_url() {
            Some(url) => {
                if let Some(pw) = url::Url::parse(url)
                    .ok()
                    .and_then(|u| u.password().map(str::to_owned))
                {
                    let decoded = percent_encoding::percent_decode_str(&pw)
                        .decode_utf8_lossy()
                        .into_owned();
                    credentials.remember_extra("redis-password", &decoded.into());
                }
                Some(
                    store::redis_connect(url)
                        .map_err(|e| anyhow::anyhow!("cannot use the Redis store: {e}"))?,
                )
            }
            None => None,
        };
        let store: Arc<dyn Store> = match (&config.store, &redis) {
            (config::StoreConfig::Redis(_), Some(conn)) => {
                Arc::new(store::RedisStore::new(conn.clone(), &config.environment))
            }
            (config::StoreConfig::File(path), _) => {
                Arc::new(FileStore::open(path).map_err(|e| {
                    anyhow::anyhow!("cannot open the store at {}: {e}", path.display())
                })?)
            }
            _ => Arc::new(MemoryStore::new()),
        };
        if let Some(source) = &config.store_encryption_key {
            let key = credentials
                .read_extra("store-encryption-key", source)
                .map_err(|e| anyhow::anyhow!("cannot read store.encryption_key: {e}"))?;
            credentials.share_tokens(
                store.clone(),
                secrets::seal::Sealer::new(&key),
                &config.environment,
            );
        }
        let audit: Arc<dyn audit::AuditSink> = match (sink, &redis) {
            (Some(s), _) => s,
            (None, Some(conn)) if config.audit.redis => Arc::new(audit::RedisSink::open(
                conn.clone(),
                &config.environment,
                chain_key,
            )),
            (None, _) => Arc::new(
                audit::FileSink::open(&config.audit.path, chain_key, config.audit.max_file_bytes)
                    .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot open the audit trail at {}: {e}",
                        config.audit.path.display()
                    )
                })?,
            ),
        };
        Ok(Arc::new(Gateway {
            identities: Identities::new(&config),
            config: Arc::new(config),
            catalog: Arc::new(catalog),
            credentials,
            redactor,
            egress: Egress::new()?,
            store,
            redis,
            revocations: revocations::Revocations::default(),
            events_seen: events::Seen::default(),
            audit,
            audit_key,
            audit_signer,
            action_events: tokio::sync::Notify::new(),
        }))
    }

    /// A gateway with its own redactor (tests, tools).
    pub fn standalone(config: Loaded, env: Arc<dyn EnvSource>) -> anyhow::Result<Arc<Gateway>> {
        Gateway::new(
            config,
            env,
            Arc::new(SharedRedactor::new(Redactor::empty())),
        )
    }
}
