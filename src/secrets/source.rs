//! The seam between [`super::Credentials`] and the kinds of secret source.
//!
//! Owns the [`SecretSource`] trait, the version history every source keeps
//! ([`Versions`]), what all sources share ([`Context`]), and the one place
//! that knows the kinds: [`build`] turns a configured source into its
//! implementation, and [`read_local`] reads a source that needs no I/O
//! beyond the process (an environment variable or a file).
//!
//! A new kind of source is one new module implementing the trait and one
//! arm in each of those two functions; nothing else matches on the kind.
//! Nothing in here logs a value or puts one in an error.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use arc_swap::ArcSwapOption;
use secrecy::{ExposeSecret, SecretString};

use super::known::Known;
use super::seal::Sealer;
use super::{EnvSource, Loaded, env, file, oauth2, vault};
use crate::config::{Config, CredentialDef, SourceDef};

/// One configured credential's source: where its value comes from, and the
/// state that takes (caches, timers, tokens, one value per subject).
///
/// Implementations must learn every value through [`Versions::install`]
/// (so the redactor knows it before it is returned), must fail closed (an
/// error, never a value they may no longer use), and must keep values out
/// of `Debug` and out of their error messages, which reach the log.
#[async_trait::async_trait]
pub(crate) trait SecretSource: std::fmt::Debug + Send + Sync {
    /// Whether each caller's session subject selects its own value. The
    /// facade then passes a validated subject to [`SecretSource::current`],
    /// and refuses a call without one.
    fn per_subject(&self) -> bool {
        false
    }

    /// Load now, at start, where that needs no waiting (local sources), so
    /// the redactor knows the value before any call. Remote sources load
    /// on first use.
    fn preload(&self) -> Result<(), String> {
        Ok(())
    }

    /// The value to use now, re-read when the source says it changed or a
    /// cache time passed. `Err` holds a reason for the log.
    async fn current(&self, subject: Option<&str>) -> Result<Arc<Loaded>, String>;

    /// Read again at once (an operator's reload asked for at `since_ms`,
    /// here or on another replica), returning the version now current.
    async fn reload(&self, since_ms: u64) -> Result<u64, String>;
}

/// What every source of the process shares.
pub(super) struct Context {
    pub(super) env: Arc<dyn EnvSource>,
    pub(super) known: Known,
    /// Where sources keep state between processes (sealed), once the store
    /// is open and `store.encryption_key` is set.
    pub(super) shared: OnceLock<SharedStore>,
}

impl Context {
    pub(super) fn read_local(&self, source: &SourceDef) -> Option<SecretString> {
        read_local(source, self.env.as_ref())
    }
}

/// The store and the key that seals what sources keep in it.
pub(super) struct SharedStore {
    pub(super) store: Arc<dyn crate::store::Store>,
    pub(super) sealer: Sealer,
    pub(super) environment: String,
}

/// One version as a source holds it: the value handed out, and what the
/// source needs to tell whether its origin changed (a file's stamp).
pub(super) struct Version<T> {
    pub(super) loaded: Arc<Loaded>,
    pub(super) tag: T,
}

/// The current version of one credential (or one subject of it) and its
/// version counter.
pub(super) struct Versions<T = ()> {
    def: Arc<CredentialDef>,
    subject: Option<String>,
    current: ArcSwapOption<Version<T>>,
    count: AtomicU64,
    install: Mutex<()>,
}

impl<T: PartialEq> Versions<T> {
    pub(super) fn new(def: Arc<CredentialDef>, subject: Option<&str>) -> Self {
        Versions {
            def,
            subject: subject.map(str::to_owned),
            current: ArcSwapOption::empty(),
            count: AtomicU64::new(0),
            install: Mutex::new(()),
        }
    }

    pub(super) fn current(&self) -> Option<Arc<Version<T>>> {
        self.current.load_full()
    }

    pub(super) fn loaded(&self) -> Option<Arc<Loaded>> {
        self.current().map(|v| v.loaded.clone())
    }

    /// Make `value` the current version, after the redactor learned it. The
    /// same value with the same tag (installed by a concurrent caller) is
    /// not a new version.
    pub(super) fn install(&self, known: &Known, value: SecretString, tag: T) -> Arc<Loaded> {
        let _one = self.install.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = self.current()
            && c.tag == tag
            && c.loaded.value.expose_secret() == value.expose_secret()
        {
            return c.loaded.clone();
        }
        known.learn(&self.def, self.subject.as_deref(), &value);
        let loaded = Arc::new(Loaded {
            value,
            version: self.count.fetch_add(1, Ordering::AcqRel) + 1,
            loaded_at: SystemTime::now(),
        });
        self.current.store(Some(Arc::new(Version {
            loaded: loaded.clone(),
            tag,
        })));
        loaded
    }
}

/// The clients remote sources share, each built on first need. A client
/// that cannot be built is logged once; its credentials are unavailable.
pub(super) struct Clients<'a> {
    config: &'a Config,
    vault: Option<Option<Arc<vault::Client>>>,
    tokens: Option<Option<Arc<oauth2::TokenClient>>>,
}

impl<'a> Clients<'a> {
    pub(super) fn new(config: &'a Config) -> Self {
        Clients {
            config,
            vault: None,
            tokens: None,
        }
    }

    fn vault(&mut self, env: &Arc<dyn EnvSource>) -> Option<Arc<vault::Client>> {
        let config = &self.config.vault;
        self.vault
            .get_or_insert_with(|| logged("Vault", || vault::Client::new(config, env.clone())))
            .clone()
    }

    fn tokens(&mut self) -> Option<Arc<oauth2::TokenClient>> {
        self.tokens
            .get_or_insert_with(|| logged("OAuth2", oauth2::TokenClient::new))
            .clone()
    }
}

fn logged<T, E: std::fmt::Display>(
    what: &str,
    build: impl FnOnce() -> Result<T, E>,
) -> Option<Arc<T>> {
    build()
        .map(Arc::new)
        .map_err(|e| tracing::error!(error = %e, "cannot build the {what} client"))
        .ok()
}

/// The implementation of a configured credential's source.
pub(super) fn build(
    def: &Arc<CredentialDef>,
    clients: &mut Clients<'_>,
    ctx: &Arc<Context>,
) -> Arc<dyn SecretSource> {
    match &def.source {
        SourceDef::Env(var) => Arc::new(env::EnvSecret::new(def.clone(), var, ctx.clone())),
        SourceDef::File(path) => Arc::new(file::FileSecret::new(def.clone(), path, ctx.clone())),
        SourceDef::Vault { path, field } => Arc::new(vault::VaultSecret::new(
            def.clone(),
            path,
            field,
            clients.vault(&ctx.env),
            ctx.clone(),
        )),
        SourceDef::OAuth2(o) => Arc::new(oauth2::OAuth2Secret::new(
            def.clone(),
            o,
            clients.tokens(),
            ctx.clone(),
        )),
    }
}

/// A source read without I/O beyond the process; `None` for a remote one
/// or when there is nothing to read (an unset or empty variable).
pub(super) fn read_local(source: &SourceDef, env: &dyn EnvSource) -> Option<SecretString> {
    match source {
        SourceDef::Env(var) => env::read(env, var),
        SourceDef::File(path) => file::read_secret_file(path).ok(),
        SourceDef::Vault { .. } | SourceDef::OAuth2(_) => None,
    }
}
