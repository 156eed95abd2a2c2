//! Credentials at run time: where their values come from, the type that holds
//! them, and how they are attached to a request.
//!
//! A value lives in a `SecretString` (secrecy): `Debug` prints a marker,
//! there is no `Display` or `Serialize`, and it is zeroized on drop. Every
//! value loaded (and the forms it is sent in) is handed to the redactor
//! before it can be used, and stays known to it after a rotation.

mod oauth2;
pub mod seal;
mod sources;
pub mod vault;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use arc_swap::ArcSwapOption;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{Config, CredentialDef, Inject, SourceDef};
use crate::redact::{RedactorBuilder, SharedRedactor};
pub use sources::{EnvSource, MapEnv, ProcessEnv};

/// How many earlier versions of each credential stay known to the redactor.
const PREVIOUS_VERSIONS_KEPT: usize = 8;

/// After a failed OAuth2 refresh, how long before the next attempt (the
/// current token serving meanwhile, while it has not expired).
const OAUTH2_RETRY_MS: u64 = 1000;

/// One loaded version of a credential.
pub struct Loaded {
    pub value: SecretString,
    pub version: u64,
    pub loaded_at: SystemTime,
    stamp: Option<sources::FileStamp>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Why a credential cannot be used now. Messages never hold a value.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("credential {0} is not configured")]
    Unknown(String),
    #[error("credential {name} is unavailable: {reason}")]
    Unavailable { name: String, reason: String },
}

struct Entry {
    def: Arc<CredentialDef>,
    current: ArcSwapOption<Loaded>,
    previous: std::sync::Mutex<Vec<SecretString>>,
    versions: AtomicU64,
    /// When a remote source (Vault) was last read successfully, ms since the epoch.
    fetched_ms: AtomicU64,
    /// One remote read at a time per credential.
    fetch_lock: tokio::sync::Mutex<()>,
    /// For a per-subject credential (`{subject}` in its Vault path): one
    /// entry per subject, each with its own value, versions and cache.
    subjects: std::sync::Mutex<BTreeMap<String, Arc<Entry>>>,
    /// OAuth2: when the current token is due for replacement, and when it expires (ms).
    token_refresh_ms: AtomicU64,
    token_expires_ms: AtomicU64,
    /// OAuth2: after a failed refresh, the still-valid token serves without
    /// a new attempt until then (so callers do not queue behind a provider
    /// that hangs).
    token_retry_ms: AtomicU64,
    /// OAuth2: the newest refresh token, and how many were seen (for the redactor).
    refresh_token: std::sync::Mutex<Option<SecretString>>,
    refresh_tokens_seen: AtomicU64,
}

impl Entry {
    fn new(def: Arc<CredentialDef>) -> Entry {
        Entry {
            def,
            current: ArcSwapOption::empty(),
            previous: std::sync::Mutex::new(Vec::new()),
            versions: AtomicU64::new(0),
            fetched_ms: AtomicU64::new(0),
            fetch_lock: tokio::sync::Mutex::new(()),
            subjects: std::sync::Mutex::new(BTreeMap::new()),
            token_refresh_ms: AtomicU64::new(0),
            token_expires_ms: AtomicU64::new(0),
            token_retry_ms: AtomicU64::new(0),
            refresh_token: std::sync::Mutex::new(None),
            refresh_tokens_seen: AtomicU64::new(0),
        }
    }

    fn per_subject(&self) -> bool {
        matches!(&self.def.source, SourceDef::Vault { path, .. } if path.contains("{subject}"))
    }

    /// The entry for one subject, made on first use.
    fn for_subject(&self, subject: &str) -> Arc<Entry> {
        let mut map = self.subjects.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(subject.to_owned())
            .or_insert_with(|| {
                let mut def = CredentialDef::clone(&self.def);
                if let SourceDef::Vault { path, .. } = &mut def.source {
                    *path = path.replace("{subject}", subject);
                }
                Arc::new(Entry::new(Arc::new(def)))
            })
            .clone()
    }
}

/// All credentials of the process and the redactor that knows their values.
pub struct Credentials {
    entries: BTreeMap<String, Entry>,
    env: Arc<dyn EnvSource>,
    redactor: Arc<SharedRedactor>,
    rebuild: std::sync::Mutex<()>,
    /// Other secrets the process loaded (webhook signing keys, …), by name.
    extra: std::sync::Mutex<BTreeMap<String, SecretString>>,
    vault: Option<vault::Vault>,
    tokens: Option<oauth2::TokenClient>,
    /// Where OAuth2 tokens are kept between processes (sealed), once the
    /// store is open and `store.encryption_key` is set.
    shared: std::sync::OnceLock<oauth2::SharedTokens>,
}

impl Credentials {
    /// Load every credential now; one that cannot be loaded is retried at use.
    pub fn new(config: &Config, env: Arc<dyn EnvSource>, redactor: Arc<SharedRedactor>) -> Self {
        let entries = config
            .credentials
            .iter()
            .map(|(name, def)| (name.clone(), Entry::new(def.clone())))
            .collect();
        let uses = |f: fn(&SourceDef) -> bool| config.credentials.values().any(|c| f(&c.source));
        let vault = client_if(
            uses(|s| matches!(s, SourceDef::Vault { .. })),
            "Vault",
            || vault::Vault::new(&config.vault, env.clone()),
        );
        let tokens = client_if(
            uses(|s| matches!(s, SourceDef::OAuth2(_))),
            "OAuth2",
            oauth2::TokenClient::new,
        );
        let creds = Credentials {
            entries,
            env,
            redactor,
            rebuild: std::sync::Mutex::new(()),
            extra: std::sync::Mutex::new(BTreeMap::new()),
            vault,
            tokens,
            shared: std::sync::OnceLock::new(),
        };
        // Local sources are loaded now, so the redactor knows them before any
        // call; remote ones on first use.
        for (name, entry) in &creds.entries {
            if let Err(e) = creds.current_local(entry) {
                tracing::warn!(credential = %name, error = %e, "credential not loaded at start");
            }
        }
        creds
    }

    /// Keep OAuth2 tokens in `store`, sealed with `sealer`, so that other
    /// processes and later runs share them (and refresh one at a time).
    pub fn share_tokens(
        &self,
        store: Arc<dyn crate::store::Store>,
        sealer: seal::Sealer,
        environment: &str,
    ) {
        let _ = self.shared.set(oauth2::SharedTokens {
            store,
            sealer,
            environment: environment.to_owned(),
        });
    }

    /// Re-read a credential from its source now (an operator's "reload").
    pub async fn reload(&self, name: &str) -> Result<u64, CredentialError> {
        self.reload_since(name, crate::store::now_ms()).await
    }

    /// A reload asked for at `since_ms` (here or on another replica): an
    /// OAuth2 token obtained since then, by any process, serves.
    pub async fn reload_since(&self, name: &str, since_ms: u64) -> Result<u64, CredentialError> {
        let entry = self
            .entries
            .get(name)
            .ok_or_else(|| CredentialError::Unknown(name.to_owned()))?;
        if entry.per_subject() {
            // Each subject's value is read again at its next use.
            let subs: Vec<Arc<Entry>> = entry
                .subjects
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .cloned()
                .collect();
            for sub in subs {
                sub.fetched_ms.store(0, Ordering::Release);
            }
            return Ok(0);
        }
        match &entry.def.source {
            SourceDef::Vault { .. } => {
                return self.current_vault(entry, true).await.map(|l| l.version);
            }
            SourceDef::OAuth2(_) => {
                return self
                    .current_oauth2(entry, Some(since_ms))
                    .await
                    .map(|l| l.version);
            }
            _ => {}
        }
        let value = Self::read_source(&entry.def.source, self.env.as_ref()).ok_or_else(|| {
            CredentialError::Unavailable {
                name: name.to_owned(),
                reason: format!("cannot read {}", entry.def.source.describe()),
            }
        })?;
        let stamp = match &entry.def.source {
            SourceDef::File(path) => sources::FileStamp::of(path).ok(),
            _ => None,
        };
        Ok(self.install(entry, value, stamp).version)
    }

    pub fn exists(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// The credential's current value, re-read from its source when it
    /// changed (a file) or its cache time passed (Vault).
    ///
    /// A per-subject credential needs the caller's session `subject` (set by
    /// the orchestrator when it minted the session): each subject has its own
    /// value, and one subject can never reach another's.
    pub async fn current(
        &self,
        name: &str,
        subject: Option<&str>,
    ) -> Result<Arc<Loaded>, CredentialError> {
        let entry = self
            .entries
            .get(name)
            .ok_or_else(|| CredentialError::Unknown(name.to_owned()))?;
        if entry.per_subject() {
            let subject = subject
                .filter(|s| crate::sessions::valid_label(s))
                .ok_or_else(|| CredentialError::Unavailable {
                    name: name.to_owned(),
                    reason: "it is per subject, and the caller's session names no subject".into(),
                })?;
            let sub = entry.for_subject(subject);
            return self.current_vault(&sub, false).await;
        }
        match &entry.def.source {
            SourceDef::Vault { .. } => self.current_vault(entry, false).await,
            SourceDef::OAuth2(_) => self.current_oauth2(entry, None).await,
            _ => self.current_local(entry),
        }
    }

    /// An OAuth2 credential: the current token until it is due; then one
    /// refresh at a time (here, and across processes through the store).
    /// With the provider unreachable the current token serves until it
    /// expires — never after.
    async fn current_oauth2(
        &self,
        entry: &Entry,
        since: Option<u64>,
    ) -> Result<Arc<Loaded>, CredentialError> {
        let name = &entry.def.name;
        let unavailable = |reason: String| CredentialError::Unavailable {
            name: name.clone(),
            reason,
        };
        let SourceDef::OAuth2(def) = &entry.def.source else {
            return Err(unavailable("not an OAuth2 credential".into()));
        };
        let cached = |e: &Entry| {
            let now = crate::store::now_ms();
            e.current.load_full().filter(|_| {
                now < e.token_refresh_ms.load(Ordering::Acquire)
                    || (now < e.token_retry_ms.load(Ordering::Acquire)
                        && now < e.token_expires_ms.load(Ordering::Acquire))
            })
        };
        if since.is_none()
            && let Some(c) = cached(entry)
        {
            return Ok(c);
        }
        let _one = entry.fetch_lock.lock().await;
        if since.is_none()
            && let Some(c) = cached(entry)
        {
            return Ok(c);
        }
        match self.obtain_token(entry, def, since).await {
            Ok(state) => Ok(self.adopt_token(entry, state)),
            Err(reason) => match entry.current.load_full() {
                Some(c)
                    if since.is_none()
                        && crate::store::now_ms()
                            < entry.token_expires_ms.load(Ordering::Acquire) =>
                {
                    tracing::warn!(credential = %name, error = %reason, "cannot refresh the OAuth2 token; using the current one until it expires");
                    entry
                        .token_retry_ms
                        .store(crate::store::now_ms() + OAUTH2_RETRY_MS, Ordering::Release);
                    Ok(c)
                }
                _ => Err(unavailable(reason)),
            },
        }
    }

    /// A token from the store (another process's) or from the provider.
    async fn obtain_token(
        &self,
        entry: &Entry,
        def: &crate::config::OAuth2Def,
        since: Option<u64>,
    ) -> Result<oauth2::TokenState, String> {
        let name = &entry.def.name;
        let secret = Self::read_source(&def.client_secret, self.env.as_ref()).ok_or_else(|| {
            format!(
                "cannot read its client secret from {}",
                def.client_secret.describe()
            )
        })?;
        self.remember_extra(&format!("oauth2/{name}/client_secret"), &secret);
        let shared = self.shared.get();
        let mut stored_refresh = None;
        let mut lock = None;
        if let Some(sh) = shared {
            if let Some(state) = sh.read(name).await? {
                if oauth2::usable(&state, since) {
                    return Ok(state);
                }
                stored_refresh = state.refresh_token();
            }
            match sh.lock_or_token(name, since).await? {
                oauth2::Locked::Token(state) => return Ok(state),
                oauth2::Locked::Held(key) => lock = Some(key),
            }
            // Whoever held the lock before may have just finished.
            if let Some(state) = sh.read(name).await? {
                if oauth2::usable(&state, since) {
                    if let Some(key) = &lock {
                        sh.unlock(key).await;
                    }
                    return Ok(state);
                }
                stored_refresh = state.refresh_token().or(stored_refresh);
            }
        }
        let result = self
            .request_token(entry, def, &secret, stored_refresh)
            .await;
        if let (Some(sh), Ok(state)) = (shared, &result)
            && let Err(e) = sh.write(name, state).await
        {
            tracing::error!(credential = %name, error = %e, "cannot keep the new OAuth2 token in the store; other processes will get their own");
        }
        if let (Some(sh), Some(key)) = (shared, &lock) {
            sh.unlock(key).await;
        }
        result
    }

    /// Ask the provider. With the refresh-token grant, the newest refresh
    /// token known is tried first, then the configured one.
    async fn request_token(
        &self,
        entry: &Entry,
        def: &crate::config::OAuth2Def,
        secret: &SecretString,
        stored_refresh: Option<SecretString>,
    ) -> Result<oauth2::TokenState, String> {
        let client = self
            .tokens
            .as_ref()
            .ok_or_else(|| "no OAuth2 client".to_owned())?;
        if def.grant == crate::config::Grant::ClientCredentials {
            return client
                .request(def, secret, None)
                .await
                .map_err(|e| e.to_string());
        }
        let configured = def
            .refresh_token
            .as_ref()
            .and_then(|s| Self::read_source(s, self.env.as_ref()));
        if let Some(c) = &configured {
            self.remember_extra(&format!("oauth2/{}/refresh/configured", entry.def.name), c);
        }
        let in_memory = entry
            .refresh_token
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut tried: Vec<SecretString> = Vec::new();
        for rt in [stored_refresh, in_memory, configured]
            .into_iter()
            .flatten()
        {
            if tried
                .iter()
                .any(|t| t.expose_secret() == rt.expose_secret())
            {
                continue;
            }
            match client.request(def, secret, Some(&rt)).await {
                Ok(mut state) => {
                    state.keep_refresh_token(&rt);
                    return Ok(state);
                }
                Err(oauth2::TokenError::InvalidGrant) => tried.push(rt),
                Err(e) => return Err(e.to_string()),
            }
        }
        Err(if tried.is_empty() {
            "no refresh token: set one where refresh_token points".into()
        } else {
            "the provider refused every refresh token toolgate holds; put a new one where refresh_token points and reload".into()
        })
    }

    /// Make a token current: the redactor learns it (and its refresh token) first.
    fn adopt_token(&self, entry: &Entry, state: oauth2::TokenState) -> Arc<Loaded> {
        if let Some(rt) = state.refresh_token() {
            let n = entry.refresh_tokens_seen.fetch_add(1, Ordering::AcqRel);
            self.remember_extra(&format!("oauth2/{}/refresh/{}", entry.def.name, n % 4), &rt);
            *entry
                .refresh_token
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(rt);
        }
        let loaded = self.install(entry, state.access_token(), None);
        entry
            .token_expires_ms
            .store(state.expires_ms(), Ordering::Release);
        entry
            .token_refresh_ms
            .store(state.refresh_at_ms(), Ordering::Release);
        loaded
    }

    /// A Vault credential: the cached value while fresh; otherwise read
    /// (one read at a time), installing a new version; while Vault is down,
    /// the last value for at most `max_stale`, then fail closed.
    async fn current_vault(
        &self,
        entry: &Entry,
        force: bool,
    ) -> Result<Arc<Loaded>, CredentialError> {
        let name = &entry.def.name;
        let unavailable = |reason: String| CredentialError::Unavailable {
            name: name.clone(),
            reason,
        };
        let (SourceDef::Vault { path, field }, Some(vault)) = (&entry.def.source, &self.vault)
        else {
            return Err(unavailable("no Vault client".into()));
        };
        let age =
            |e: &Entry| crate::store::now_ms().saturating_sub(e.fetched_ms.load(Ordering::Acquire));
        let fresh = |e: &Entry| {
            e.current
                .load_full()
                .filter(|_| age(e) < vault.cache().as_millis() as u64)
        };
        if !force && let Some(c) = fresh(entry) {
            return Ok(c);
        }
        let _one = entry.fetch_lock.lock().await;
        if !force && let Some(c) = fresh(entry) {
            return Ok(c);
        }
        match vault.read(path, field).await {
            Ok(read) => {
                let loaded = self.install(entry, read.value, None);
                entry
                    .fetched_ms
                    .store(crate::store::now_ms(), Ordering::Release);
                Ok(loaded)
            }
            Err(e) => match entry.current.load_full() {
                Some(c) if age(entry) < (vault.cache() + vault.max_stale()).as_millis() as u64 => {
                    tracing::warn!(credential = %name, error = %e, "Vault unreachable; using the last value read");
                    Ok(c)
                }
                _ => Err(unavailable(e)),
            },
        }
    }

    /// An environment or file credential.
    fn current_local(&self, entry: &Entry) -> Result<Arc<Loaded>, CredentialError> {
        let name = &entry.def.name;
        let cached = entry.current.load_full();
        let unavailable = |reason: String| CredentialError::Unavailable {
            name: name.clone(),
            reason,
        };
        match &entry.def.source {
            SourceDef::Env(var) => {
                if let Some(c) = cached {
                    return Ok(c);
                }
                let value =
                    self.env.var(var).filter(|v| !v.is_empty()).ok_or_else(|| {
                        unavailable(format!("environment variable {var} is not set"))
                    })?;
                Ok(self.install(entry, SecretString::from(value), None))
            }
            SourceDef::File(path) => {
                let stamp = sources::FileStamp::of(path)
                    .map_err(|e| unavailable(format!("cannot read its file: {e}")))?;
                if let Some(c) = cached
                    && c.stamp.as_ref() == Some(&stamp)
                {
                    return Ok(c);
                }
                let value = sources::read_secret_file(path)
                    .map_err(|e| unavailable(format!("cannot read its file: {e}")))?;
                if value.expose_secret().is_empty() {
                    return Err(unavailable("its file is empty".into()));
                }
                Ok(self.install(entry, value, Some(stamp)))
            }
            SourceDef::Vault { .. } | SourceDef::OAuth2(_) => Err(unavailable(
                "a remote credential is read asynchronously".into(),
            )),
        }
    }

    /// Make `value` the current version, after teaching the redactor every form of it.
    fn install(
        &self,
        entry: &Entry,
        value: SecretString,
        stamp: Option<sources::FileStamp>,
    ) -> Arc<Loaded> {
        let _guard = self.rebuild.lock().unwrap_or_else(|p| p.into_inner());
        // Another caller may have installed this same version meanwhile.
        if let Some(c) = entry.current.load_full()
            && c.stamp == stamp
            && c.value.expose_secret() == value.expose_secret()
        {
            return c;
        }
        if let Some(old) = entry.current.load_full() {
            let mut prev = entry.previous.lock().unwrap_or_else(|p| p.into_inner());
            prev.push(old.value.clone());
            if prev.len() > PREVIOUS_VERSIONS_KEPT {
                prev.remove(0);
            }
        }
        let loaded = Arc::new(Loaded {
            value,
            version: entry.versions.fetch_add(1, Ordering::AcqRel) + 1,
            loaded_at: SystemTime::now(),
            stamp,
        });
        // The redactor learns the new value before anyone can send it.
        self.redactor
            .replace(self.build_redactor(Some((&entry.def.name, &loaded))));
        entry.current.store(Some(loaded.clone()));
        loaded
    }
    /// Make a secret toolgate holds for itself (not a credential) known to
    /// the redactor under `name`, replacing the value it had.
    pub fn remember_extra(&self, name: &str, value: &SecretString) {
        let known = {
            let extra = self.extra.lock().unwrap_or_else(|p| p.into_inner());
            extra
                .get(name)
                .is_some_and(|v| v.expose_secret() == value.expose_secret())
        };
        if !known {
            let _guard = self.rebuild.lock().unwrap_or_else(|p| p.into_inner());
            self.extra
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(name.to_owned(), value.clone());
            self.redactor.replace(self.build_redactor(None));
        }
    }

    /// A secret that is not a credential (a webhook signing key, …): read from
    /// its source each time, and known to the redactor from its first read.
    pub fn read_extra(
        &self,
        name: &str,
        source: &SourceDef,
    ) -> Result<SecretString, CredentialError> {
        let value = Self::read_source(source, self.env.as_ref()).ok_or_else(|| {
            CredentialError::Unavailable {
                name: name.to_owned(),
                reason: format!("cannot read {}", source.describe()),
            }
        })?;
        self.remember_extra(name, &value);
        Ok(value)
    }

    pub(crate) fn read_source(source: &SourceDef, env: &dyn EnvSource) -> Option<SecretString> {
        match source {
            SourceDef::Env(var) => env
                .var(var)
                .filter(|v| !v.is_empty())
                .map(SecretString::from),
            SourceDef::File(path) => sources::read_secret_file(path).ok(),
            SourceDef::Vault { .. } | SourceDef::OAuth2(_) => None,
        }
    }

    fn build_redactor(&self, incoming: Option<(&str, &Arc<Loaded>)>) -> crate::redact::Redactor {
        let mut b = RedactorBuilder::new();
        for (name, v) in self.extra.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            b.known_secret(name, v.expose_secret());
        }
        for (name, entry) in &self.entries {
            let subs: Vec<Arc<Entry>> = entry
                .subjects
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .cloned()
                .collect();
            let mut add = |v: &SecretString| add_forms(&mut b, &entry.def, v);
            for e in std::iter::once(entry).chain(subs.iter().map(|s| s.as_ref())) {
                if let Some(c) = e.current.load_full() {
                    add(&c.value);
                }
                for v in e.previous.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                    add(v);
                }
            }
            if let Some((n, l)) = incoming
                && n == name
            {
                add(&l.value);
            }
        }
        b.build()
    }

    /// Names of credentials that cannot be loaded now (for `/readyz`).
    pub async fn unavailable(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (n, e) in &self.entries {
            if e.per_subject() {
                // Read per caller; nothing to check without one.
                continue;
            }
            if matches!(
                self.current(n, None).await,
                Err(CredentialError::Unavailable { .. })
            ) {
                out.push(n.clone());
            }
        }
        out
    }

    /// Peek at a source without installing it (for `toolgate check`'s lints).
    pub fn probe(def: &CredentialDef, env: &dyn EnvSource) -> Option<SecretString> {
        Self::read_source(&def.source, env)
    }
}

/// A client for remote sources, built only when a credential needs it (a
/// failure is logged; those credentials are then unavailable).
fn client_if<T, E: std::fmt::Display>(
    needed: bool,
    what: &str,
    build: impl FnOnce() -> Result<T, E>,
) -> Option<T> {
    if !needed {
        return None;
    }
    build()
        .map_err(|e| tracing::error!(error = %e, "cannot build the {what} client"))
        .ok()
}

/// Every form in which a credential's value is sent, for the redactor.
fn add_forms(b: &mut RedactorBuilder, def: &CredentialDef, value: &SecretString) {
    let v = value.expose_secret();
    b.known_secret(&def.name, v);
    match &def.inject {
        Inject::Header { prefix, suffix, .. } => {
            if !prefix.is_empty() || !suffix.is_empty() {
                b.composed(&def.name, &format!("{prefix}{v}{suffix}"));
            }
        }
        Inject::Basic { username } => {
            b.basic_pair(&def.name, username, v);
        }
        Inject::Query { .. } => {}
    }
}

/// The `Authorization` value for Basic auth; held as a secret.
pub fn basic_header(username: &str, password: &SecretString) -> SecretString {
    let pair = format!("{username}:{}", password.expose_secret());
    SecretString::from(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
}
