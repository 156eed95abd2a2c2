//! Credentials at run time: where their values come from, the type that holds
//! them, and how they are attached to a request.
//!
//! [`Credentials`] is the facade the rest of toolgate uses. It owns the map
//! of credential name to its `SecretSource` (`source.rs`; one module per
//! kind: `env`, `file`, `vault`, `oauth2`, `aws`, `sealed` (the store
//! source), each owning its own caches,
//! timers and tokens) and the concerns every kind shares: the subject check
//! of per-subject credentials, and the redactor's knowledge of every value
//! ever loaded (`known.rs`).
//!
//! A value lives in a `SecretString` (secrecy): `Debug` prints a marker,
//! there is no `Display` or `Serialize`, and it is zeroized on drop. Every
//! value loaded (and the forms it is sent in) is handed to the redactor
//! before it can be used, and stays known to it after a rotation. Nothing in
//! here logs a value or puts one in an error message.

mod aws;
mod build;
mod env;
mod file;
mod fingerprints;
mod known;
mod oauth2;
pub mod seal;
mod sealed;
mod source;
mod vars;
mod vault;

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{Config, CredentialDef, SourceDef};
use crate::redact::SharedRedactor;
pub(crate) use fingerprints::Fingerprints;
pub(crate) use oauth2::client::basic_authorization;
pub(crate) use oauth2::connected::ConnectedSecret;
pub use oauth2::connected::{ConnectionInfo, ExchangeError};
pub use source::Loaded;
use source::{Context, SecretSource, SharedStore};
pub use vars::{EnvSource, MapEnv, ProcessEnv};

/// Why a credential cannot be used now. Messages never hold a value.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("credential {0} is not configured")]
    Unknown(String),
    #[error("credential {name} is unavailable: {reason}")]
    Unavailable { name: String, reason: String },
    /// A per-user connection credential the caller's subject has not connected.
    #[error(
        "credential {name} is unavailable: {}",
        oauth2::connected::NOT_CONNECTED
    )]
    NotConnected { name: String },
}

/// All credentials of the process and the redactor that knows their values.
pub struct Credentials {
    sources: BTreeMap<String, Arc<dyn SecretSource>>,
    /// The per-user connection credentials among them, typed.
    connected: BTreeMap<String, Arc<ConnectedSecret>>,
    ctx: Arc<Context>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.sources.iter()).finish()
    }
}

impl Credentials {
    /// Load every local credential now; one that cannot be loaded is
    /// retried at use. Remote ones are read on first use.
    pub fn new(config: &Config, env: Arc<dyn EnvSource>, redactor: Arc<SharedRedactor>) -> Self {
        let ctx = Arc::new(Context {
            env,
            known: known::Known::new(redactor),
            shared: std::sync::OnceLock::new(),
            local: build::read_local,
            audit: std::sync::OnceLock::new(),
        });
        let mut clients = build::Clients::new(config);
        let mut connected = BTreeMap::new();
        let sources: BTreeMap<String, Arc<dyn SecretSource>> = config
            .credentials
            .iter()
            .map(|(name, def)| {
                let source: Arc<dyn SecretSource> = match build::connected(def, &mut clients, &ctx)
                {
                    Some(c) => {
                        connected.insert(name.clone(), c.clone());
                        c
                    }
                    None => build::build(def, &mut clients, &ctx),
                };
                (name.clone(), source)
            })
            .collect();
        for (name, s) in &sources {
            if let Err(e) = s.preload() {
                tracing::warn!(credential = %name, error = %e, "credential not loaded at start");
            }
        }
        Credentials {
            sources,
            connected,
            ctx,
        }
    }

    /// Keep OAuth2 tokens in `store`, sealed with `sealer`, so that other
    /// processes and later runs share them (and refresh one at a time).
    pub fn share_tokens(
        &self,
        store: Arc<dyn crate::store::Store>,
        sealer: seal::Sealer,
        environment: &str,
    ) {
        let _ = self.ctx.shared.set(SharedStore {
            store,
            sealer,
            environment: environment.to_owned(),
        });
    }

    /// Let sources record what they do on their own (a connection's refresh).
    pub(crate) fn audit_to(&self, sink: Arc<dyn crate::audit::AuditSink>) {
        let _ = self.ctx.audit.set(sink);
    }

    /// The per-user connection credential `name`, if it is one.
    pub(crate) fn connection(&self, name: &str) -> Option<&ConnectedSecret> {
        self.connected.get(name).map(Arc::as_ref)
    }

    /// Every per-user connection credential.
    pub(crate) fn connections(&self) -> impl Iterator<Item = &ConnectedSecret> {
        self.connected.values().map(Arc::as_ref)
    }

    fn source(&self, name: &str) -> Result<&Arc<dyn SecretSource>, CredentialError> {
        self.sources
            .get(name)
            .ok_or_else(|| CredentialError::Unknown(name.to_owned()))
    }

    /// Re-read a credential from its source now (an operator's "reload").
    pub async fn reload(&self, name: &str) -> Result<u64, CredentialError> {
        self.reload_since(name, crate::store::now_ms()).await
    }

    /// A reload asked for at `since_ms` (here or on another replica): an
    /// OAuth2 token obtained since then, by any process, serves. A
    /// per-subject credential answers version 0: each subject's value is
    /// read again at its next use.
    pub(crate) async fn reload_since(
        &self,
        name: &str,
        since_ms: u64,
    ) -> Result<u64, CredentialError> {
        self.source(name)?
            .reload(since_ms)
            .await
            .map_err(|reason| unavailable(name, reason))
    }

    /// The number of the newest version in `name`'s (writable) source.
    pub(crate) async fn source_head(&self, name: &str) -> Result<u64, CredentialError> {
        self.source(name)?
            .head()
            .await
            .map_err(|reason| unavailable(name, reason))
    }

    /// The value of version `version` in `name`'s (writable) source, known
    /// to the redactor before it is returned.
    pub(crate) async fn source_read_at(
        &self,
        name: &str,
        version: u64,
    ) -> Result<SecretString, CredentialError> {
        self.source(name)?
            .read_at(version)
            .await
            .map_err(|reason| unavailable(name, reason))
    }

    /// Write `value` as the version after `after` of `name`'s source
    /// (check-and-set); the new version's number. The redactor knows the
    /// value before it leaves.
    pub(crate) async fn source_write(
        &self,
        name: &str,
        value: &SecretString,
        after: u64,
    ) -> Result<u64, CredentialError> {
        self.source(name)?
            .write(value, after)
            .await
            .map_err(|reason| unavailable(name, reason))
    }

    pub(crate) fn exists(&self, name: &str) -> bool {
        self.sources.contains_key(name)
    }

    /// The credential's current value, re-read from its source when it
    /// changed (a file) or its cache time passed (Vault, OAuth2).
    ///
    /// A per-subject credential needs the caller's session `subject` (set by
    /// the orchestrator when it minted the session): each subject has its own
    /// value, and one subject can never reach another's.
    pub async fn current(
        &self,
        name: &str,
        subject: Option<&str>,
    ) -> Result<Arc<Loaded>, CredentialError> {
        self.current_for(name, None, subject).await
    }

    /// [`Credentials::current`] for a caller known by its agent too: a
    /// credential whose source names the agent (an AWS secret id with
    /// `{agent}`) needs it, and each agent has its own value.
    pub async fn current_for(
        &self,
        name: &str,
        agent: Option<&str>,
        subject: Option<&str>,
    ) -> Result<Arc<Loaded>, CredentialError> {
        let source = self.source(name)?;
        if source.per_agent() && agent.is_none() {
            return Err(unavailable(
                name,
                "it is per agent, and the caller is no agent".into(),
            ));
        }
        let subject = if source.per_subject() {
            let valid = subject
                .filter(|s| crate::sessions::valid_label(s))
                .ok_or_else(|| {
                    unavailable(
                        name,
                        "it is per subject, and the caller's session names no subject".into(),
                    )
                })?;
            Some(valid)
        } else {
            None
        };
        source.current_as(agent, subject).await.map_err(|reason| {
            if reason == oauth2::connected::NOT_CONNECTED {
                CredentialError::NotConnected {
                    name: name.to_owned(),
                }
            } else {
                unavailable(name, reason)
            }
        })
    }

    /// Make a secret toolgate holds for itself (not a credential) known to
    /// the redactor under `name`, replacing the value it had.
    pub(crate) fn remember_extra(&self, name: &str, value: &SecretString) {
        self.ctx.known.remember(name, value);
    }

    /// A secret that is not a credential (a webhook signing key, …): read from
    /// its source each time, and known to the redactor from its first read.
    pub(crate) fn read_extra(
        &self,
        name: &str,
        source: &SourceDef,
    ) -> Result<SecretString, CredentialError> {
        let value = self
            .ctx
            .read_local(source)
            .ok_or_else(|| unavailable(name, format!("cannot read {}", source.describe())))?;
        self.remember_extra(name, &value);
        Ok(value)
    }

    /// A local source's value (environment or file), `None` for a remote one.
    pub(crate) fn read_source(source: &SourceDef, env: &dyn EnvSource) -> Option<SecretString> {
        build::read_local(source, env)
    }

    /// Names of credentials that cannot be loaded now (for `/readyz`).
    pub async fn unavailable(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (n, s) in &self.sources {
            if s.per_subject() || s.per_agent() {
                // Read per caller; nothing to check without one.
                continue;
            }
            if s.current(None).await.is_err() {
                out.push(n.clone());
            }
        }
        out
    }

    /// Peek at a source without installing it (for `toolgate check`'s lints).
    pub(crate) fn probe(def: &CredentialDef, env: &dyn EnvSource) -> Option<SecretString> {
        Self::read_source(&def.source, env)
    }
}

fn unavailable(name: &str, reason: String) -> CredentialError {
    CredentialError::Unavailable {
        name: name.to_owned(),
        reason,
    }
}

/// The `Authorization` value for Basic auth; held as a secret.
pub(crate) fn basic_header(username: &str, password: &SecretString) -> SecretString {
    let pair = format!("{username}:{}", password.expose_secret());
    SecretString::from(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
}
