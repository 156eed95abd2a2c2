//! The gateway: everything a request needs, built once from a validated
//! config — identities, credentials, the redactor, the egress clients, the
//! store, the audit sink and the event bus — and shared by every request.
//!
//! The seams are trait objects ([`Store`], [`audit::AuditSink`], [`Bus`],
//! [`Lookup`]); [`Parts`] lets tests and benchmarks put their own in.

use std::sync::Arc;

use crate::audit;
use crate::bus::{Bus, NoBus, RedisBus};
use crate::catalog::{Catalog, Loaded, ToolBinding};
use crate::config::{self, Config};
use crate::digest::DigestKey;
use crate::identity::Identities;
use crate::pipeline::egress::{Egress, Lookup, SystemLookup};
use crate::redact::{Redactor, SharedRedactor};
use crate::revocations;
use crate::secrets::{self, Credentials, EnvSource};
use crate::store::{self, FileStore, MemoryStore, Store};

/// Seams a test or a benchmark may fill with its own implementation;
/// whatever is left `None` is built from the config.
#[derive(Default)]
pub struct Parts {
    /// Where audit records go instead of the configured trail.
    pub audit: Option<Arc<dyn audit::AuditSink>>,
    /// How upstream names are resolved (before every address is checked).
    pub lookup: Option<Arc<dyn Lookup>>,
}

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parts")
            .field("audit", &self.audit.is_some())
            .field("lookup", &self.lookup.is_some())
            .finish()
    }
}

/// Everything a request needs, built once from a validated config.
pub struct Gateway {
    pub config: Arc<Config>,
    /// Every workflow's callable tools: `catalog.binding(workflow, tool)`.
    pub catalog: Arc<Catalog>,
    pub identities: Identities,
    pub credentials: Credentials,
    pub redactor: Arc<SharedRedactor>,
    pub egress: Egress,
    pub store: Arc<dyn Store>,
    /// Announcements to and from the other replicas.
    pub bus: Arc<dyn Bus>,
    pub revocations: revocations::Revocations,
    /// What this replica already took from other replicas' announcements.
    pub events_seen: crate::bus::Seen,
    pub audit: Arc<dyn audit::AuditSink>,
    /// Keys the HMACs of masked arguments and credential fingerprints (and
    /// the chain, when configured): from `audit.hmac_key`, else random per process.
    pub audit_key: Arc<[u8]>,
    /// Credential fingerprints under `audit_key`, per loaded value.
    pub(crate) fingerprints: crate::secrets::Fingerprints,
    /// Signs audit checkpoints, when `audit.signing_key` is configured.
    pub audit_signer: Option<ed25519_dalek::SigningKey>,
    /// With `audit.chains: per_replica`, the name of this replica's chain.
    pub audit_chain: Option<String>,
    /// Woken whenever an action changes, for long-polls in this process.
    pub action_events: tokio::sync::Notify,
    /// Requests refused before they authenticated, counted until written.
    pub(crate) refusals: audit::refusals::Refusals,
    /// The slots of `limits.max_concurrency`, and what was shed.
    pub(crate) load: crate::load::Load,
    /// What `/metrics` shows.
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
    /// TLS on the listener (`tls:`), its pair re-read as the files change.
    pub(crate) tls: Option<Arc<crate::tls::ListenerTls>>,
    /// The key of every stored digest of arguments or requests: derived
    /// from a configured secret, or the deployment's, read from the store
    /// when first needed ([`crate::digest`]).
    digest: tokio::sync::OnceCell<DigestKey>,
    /// Seals the state of per-user connect URLs (`store.encryption_key`).
    pub(crate) connect_sealer: Option<secrets::seal::Sealer>,
    /// The console's single sign-on provider (`ui.oidc`).
    pub(crate) oidc: Option<crate::oidc::Provider>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("environment", &self.config.environment)
            .field("bus", &self.bus)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// Build the gateway; `redactor` is shared with the log writer so logs are scrubbed too.
    pub fn new(
        config: Loaded,
        env: Arc<dyn EnvSource>,
        redactor: Arc<SharedRedactor>,
    ) -> anyhow::Result<Arc<Gateway>> {
        Gateway::build(config, env, redactor, Parts::default())
    }

    /// A gateway whose audit records go to `sink` instead of the configured
    /// file (tests and benchmarks).
    pub fn with_audit_sink(
        config: Loaded,
        env: Arc<dyn EnvSource>,
        sink: Arc<dyn audit::AuditSink>,
    ) -> anyhow::Result<Arc<Gateway>> {
        Gateway::with_parts(
            config,
            env,
            Parts {
                audit: Some(sink),
                ..Parts::default()
            },
        )
    }

    /// A gateway with its own redactor and some seams filled in (tests, benchmarks).
    pub fn with_parts(
        config: Loaded,
        env: Arc<dyn EnvSource>,
        parts: Parts,
    ) -> anyhow::Result<Arc<Gateway>> {
        Gateway::build(
            config,
            env,
            Arc::new(SharedRedactor::new(Redactor::empty())),
            parts,
        )
    }

    /// The tool `tool` as workflow `workflow` offers it.
    /// Whether the trail's storage has less free space than
    /// `audit.min_free_bytes`: then refusals of unauthenticated requests are
    /// only counted, so what is left goes to authenticated calls.
    pub(crate) fn audit_space_low(&self) -> bool {
        let min = self.config.audit.min_free_bytes;
        min > 0 && self.audit.free_bytes().is_some_and(|free| free < min)
    }

    /// Whether `agent`'s current key is revoked, the agent is quarantined,
    /// or it is no longer configured. Its pending actions then cannot be approved, nor its
    /// dead letters retried.
    pub(crate) fn agent_revoked(&self, agent: &str) -> bool {
        self.agent_quarantined(agent)
            || self.identities.agent_key(agent).is_none_or(|key| {
                self.revocations
                    .is_active(&revocations::agent_key(agent, &key))
            })
    }

    /// Whether `agent` is quarantined (a canary was seen in its work).
    pub(crate) fn agent_quarantined(&self, agent: &str) -> bool {
        self.revocations
            .is_active(&revocations::quarantine_key(agent))
    }

    /// The digest key; the first use on a deployment without a configured
    /// secret reads (or creates) it in the store, so a store that cannot
    /// be reached fails the call closed.
    pub(crate) async fn digest_key(&self) -> Result<&DigestKey, crate::error::ApiError> {
        self.digest
            .get_or_try_init(|| DigestKey::kept_in(self.store.as_ref()))
            .await
            .map_err(crate::error::ApiError::from)
    }

    pub(crate) fn binding(&self, workflow: &str, tool: &str) -> Option<&Arc<ToolBinding>> {
        self.catalog.binding(workflow, tool)
    }

    fn build(
        loaded: Loaded,
        env: Arc<dyn EnvSource>,
        redactor: Arc<SharedRedactor>,
        parts: Parts,
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
        // The store's Redis options, with the password read from its source
        // (known to the redactor, like every secret).
        let mut redis_options = config.store_redis.clone();
        if let Some(source) = &config.store_password {
            let password = credentials
                .read_extra("redis-password", source)
                .map_err(|e| anyhow::anyhow!("cannot read store.password: {e}"))?;
            redis_options.password = Some(password);
        }
        let redis = match config.store.redis() {
            Some(target) => {
                for url in target.urls() {
                    if let Some(pw) = url::Url::parse(url)
                        .ok()
                        .and_then(|u| u.password().map(str::to_owned))
                    {
                        let decoded = percent_encoding::percent_decode_str(&pw)
                            .decode_utf8_lossy()
                            .into_owned();
                        credentials.remember_extra("redis-password", &decoded.into());
                    }
                }
                Some(
                    store::redis_connect(target, &redis_options)
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
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let store: Arc<dyn Store> = Arc::new(store::Counted::new(store, metrics.clone()));
        let mut digest = configured_key
            .as_ref()
            .map(|k| DigestKey::derive(secrecy::ExposeSecret::expose_secret(k).as_bytes()));
        let mut connect_sealer = None;
        if let Some(source) = &config.store_encryption_key {
            let key = credentials
                .read_extra("store-encryption-key", source)
                .map_err(|e| anyhow::anyhow!("cannot read store.encryption_key: {e}"))?;
            if digest.is_none() {
                digest = Some(DigestKey::derive(
                    secrecy::ExposeSecret::expose_secret(&key).as_bytes(),
                ));
            }
            connect_sealer = Some(secrets::seal::Sealer::new(&key));
            credentials.share_tokens(
                store.clone(),
                secrets::seal::Sealer::new(&key),
                &config.environment,
            );
        }
        let oidc = match &config.ui.oidc {
            Some(o) => {
                let secret = credentials
                    .read_extra("ui-oidc-client-secret", &o.client_secret)
                    .map_err(|e| anyhow::anyhow!("cannot read ui.oidc.client_secret: {e}"))?;
                Some(crate::oidc::Provider::new(o.clone(), secret).map_err(anyhow::Error::msg)?)
            }
            None => None,
        };
        let bus: Arc<dyn Bus> = match (&redis, config.store.redis()) {
            (Some(conn), Some(target)) => Arc::new(
                RedisBus::new(target, &redis_options, conn.clone(), &config.environment)
                    .map_err(|e| anyhow::anyhow!("cannot use the Redis store: {e}"))?,
            ),
            _ => Arc::new(NoBus),
        };
        // This replica's own chain of a Redis trail, by its name.
        let audit_chain = if config.audit.redis && config.audit.per_replica {
            Some(audit::redis::replica_name().map_err(anyhow::Error::msg)?)
        } else {
            None
        };
        let audit: Arc<dyn audit::AuditSink> = match (parts.audit, &redis) {
            (Some(s), _) => s,
            (None, Some(conn)) if config.audit.redis => match &audit_chain {
                Some(replica) => {
                    tracing::info!(chain = %replica, "audit: this replica's own chain");
                    Arc::new(audit::RedisSink::open_replica(
                        conn.clone(),
                        &config.environment,
                        chain_key,
                        replica,
                    ))
                }
                None => Arc::new(audit::RedisSink::open(
                    conn.clone(),
                    &config.environment,
                    chain_key,
                )),
            },
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
        let load = crate::load::Load::new(config.limits.max_concurrency);
        let tls = match &config.tls {
            Some(settings) => Some(Arc::new(
                crate::tls::ListenerTls::new(settings).map_err(anyhow::Error::msg)?,
            )),
            None => None,
        };
        let audit: Arc<dyn audit::AuditSink> =
            Arc::new(audit::Counted::new(audit, metrics.clone()));
        credentials.audit_to(audit.clone());
        Ok(Arc::new(Gateway {
            identities: Identities::new(&config),
            config: Arc::new(config),
            catalog: Arc::new(catalog),
            credentials,
            redactor,
            egress: Egress::new(parts.lookup.unwrap_or_else(|| Arc::new(SystemLookup)))?,
            store,
            bus,
            revocations: revocations::Revocations::default(),
            events_seen: crate::bus::Seen::default(),
            audit,
            audit_key,
            fingerprints: Default::default(),
            audit_signer,
            audit_chain,
            action_events: tokio::sync::Notify::new(),
            refusals: audit::refusals::Refusals::default(),
            load,
            metrics,
            tls,
            digest: tokio::sync::OnceCell::new_with(digest),
            connect_sealer,
            oidc,
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
