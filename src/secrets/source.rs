//! The seam between [`super::Credentials`] and the kinds of secret source.
//!
//! Owns the [`SecretSource`] trait, the version history every source keeps
//! ([`Versions`]) and what all sources share ([`Context`]). The one place
//! that knows the kinds is [`super::build`]: it turns a configured source
//! into its implementation and reads a source that needs no I/O beyond the
//! process (an environment variable or a file).
//!
//! A new kind of source is one new module implementing the trait and one
//! arm in each of the builder's two functions; nothing else matches on the kind.
//! Nothing in here logs a value or puts one in an error.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use arc_swap::ArcSwapOption;
use secrecy::{ExposeSecret, SecretString};

use super::known::Known;
use super::seal::Sealer;
use super::vars::EnvSource;
use crate::config::{CredentialDef, SourceDef};

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

    /// Whether the caller's agent selects the value (an AWS secret id with
    /// `{agent}`). The facade then passes the agent to
    /// [`SecretSource::current_as`].
    fn per_agent(&self) -> bool {
        false
    }

    /// The value for a caller: its agent and its session's subject. Sources
    /// that do not depend on the agent answer [`SecretSource::current`].
    async fn current_as(
        &self,
        agent: Option<&str>,
        subject: Option<&str>,
    ) -> Result<Arc<Loaded>, String> {
        let _ = agent;
        self.current(subject).await
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

    /// The number of the source's newest version (a writable source).
    async fn head(&self) -> Result<u64, String> {
        Err("toolgate cannot write this source".into())
    }

    /// The value of version `version` (a writable source).
    async fn read_at(&self, version: u64) -> Result<SecretString, String> {
        let _ = version;
        Err("toolgate cannot write this source".into())
    }

    /// Write `value` as the version after `after`, only if `after` is
    /// still the newest (check-and-set). The redactor knows the value
    /// before it is sent. The new version's number.
    async fn write(&self, value: &SecretString, after: u64) -> Result<u64, String> {
        let _ = (value, after);
        Err("toolgate cannot write this source".into())
    }
}

/// One loaded version of a credential.
pub struct Loaded {
    pub value: SecretString,
    pub version: u64,
    pub loaded_at: SystemTime,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// What every source of the process shares.
pub(super) struct Context {
    pub(super) env: Arc<dyn EnvSource>,
    pub(super) known: Known,
    /// Where sources keep state between processes (sealed), once the store
    /// is open and `store.encryption_key` is set.
    pub(super) shared: OnceLock<SharedStore>,
    /// Reads a source that needs no I/O beyond the process (env, file);
    /// handed in by the builder, which knows every kind.
    pub(super) local: fn(&SourceDef, &dyn EnvSource) -> Option<SecretString>,
    /// Where sources record what they do on their own (a connection's
    /// refresh), once the trail is open.
    pub(super) audit: OnceLock<Arc<dyn crate::audit::AuditSink>>,
}

impl Context {
    pub(super) fn read_local(&self, source: &SourceDef) -> Option<SecretString> {
        (self.local)(source, self.env.as_ref())
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
