//! toolgate: an HTTP gateway between LLM orchestrators and the APIs their
//! agents act on. It authenticates the caller, validates the tool call,
//! attaches the real credential itself, calls the upstream, and returns a
//! result scrubbed of every secret.
//!
//! Start with [`pipeline`]: the stages of a call, in order.

#![forbid(unsafe_code)]

pub mod actions;
pub mod api;
pub mod approvals;
pub mod catalog;
pub mod config;
pub mod dev;
pub mod error;
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

use config::Config;
use identity::Identities;
use pipeline::egress::Egress;
use redact::{Redactor, SharedRedactor};
use secrets::{Credentials, EnvSource};
use store::{FileStore, MemoryStore, Store};

/// Everything a request needs, built once from a validated config.
pub struct Gateway {
    pub config: Arc<Config>,
    pub identities: Identities,
    pub credentials: Credentials,
    pub redactor: Arc<SharedRedactor>,
    pub egress: Egress,
    pub store: Arc<dyn Store>,
    pub revocations: revocations::Revocations,
    /// Woken whenever an action changes, for long-polls in this process.
    pub action_events: tokio::sync::Notify,
}

impl Gateway {
    /// Build the gateway; `redactor` is shared with the log writer so logs are scrubbed too.
    pub fn new(
        config: Config,
        env: Arc<dyn EnvSource>,
        redactor: Arc<SharedRedactor>,
    ) -> anyhow::Result<Arc<Gateway>> {
        let credentials = Credentials::new(&config, env, redactor.clone());
        let store: Arc<dyn Store> = match &config.store {
            config::StoreConfig::Memory => Arc::new(MemoryStore::new()),
            config::StoreConfig::File(path) => Arc::new(FileStore::open(path).map_err(|e| {
                anyhow::anyhow!("cannot open the store at {}: {e}", path.display())
            })?),
        };
        Ok(Arc::new(Gateway {
            identities: Identities::new(&config),
            config: Arc::new(config),
            credentials,
            redactor,
            egress: Egress::new()?,
            store,
            revocations: revocations::Revocations::default(),
            action_events: tokio::sync::Notify::new(),
        }))
    }

    /// A gateway with its own redactor (tests, tools).
    pub fn standalone(config: Config, env: Arc<dyn EnvSource>) -> anyhow::Result<Arc<Gateway>> {
        Gateway::new(
            config,
            env,
            Arc::new(SharedRedactor::new(Redactor::empty())),
        )
    }
}
