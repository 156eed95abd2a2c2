//! The `oauth2` secret source: access tokens from a token endpoint.
//!
//! - A token is used until shortly before it expires (a fifth of its
//!   lifetime, at most a minute), then replaced.
//! - One refresh at a time per credential: in a process, a mutex; across
//!   processes sharing the store, a lock key with a TTL ([`shared`]).
//! - The token, and the refresh token when the provider rotates it, are kept
//!   in the store sealed, so a restart or another replica continues with
//!   them; nothing is kept in plaintext.
//! - When the provider cannot be reached, the current token is used while it
//!   is still valid (a new attempt at most once a second); once it has
//!   expired the call fails with `credential_unavailable`. An expired token
//!   is never sent.
//!
//! With `grant: authorization_code` the source is [`mod@connected`]: each end
//! user's own tokens, from a connection.
//!
//! Owns the token's versions and timers, the newest refresh token, and the
//! refresh lock. Every token, refresh token and client secret is known to
//! the redactor before it is used; none is ever logged or put in an error.

pub(crate) mod client;
pub(crate) mod connected;
mod record;
mod shared;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use secrecy::{ExposeSecret, SecretString};

pub(super) use client::TokenClient;
use client::{Ask, TokenError, TokenState};
use shared::{Locked, SharedTokens};

use super::source::Loaded;
use super::source::{Context, SecretSource, Versions};
use crate::config::{CredentialDef, Grant, OAuth2Def};
use crate::store::now_ms;

/// After a failed refresh, how long before the next attempt (the current
/// token serving meanwhile, while it has not expired).
const RETRY_MS: u64 = 1000;

/// The source of a per-user connection credential (`grant: authorization_code`).
pub(super) fn connected(
    def: Arc<CredentialDef>,
    oauth2: &OAuth2Def,
    client: Option<Arc<TokenClient>>,
    ctx: Arc<Context>,
) -> connected::ConnectedSecret {
    connected::ConnectedSecret::new(def, oauth2, client, ctx)
}

/// A credential that is an OAuth2 access token.
pub(super) struct OAuth2Secret {
    name: String,
    def: OAuth2Def,
    client: Option<Arc<TokenClient>>,
    ctx: Arc<Context>,
    versions: Versions,
    /// One refresh at a time in this process.
    fetch_lock: tokio::sync::Mutex<()>,
    /// When the current token is due for replacement, and when it expires (ms).
    refresh_ms: AtomicU64,
    expires_ms: AtomicU64,
    /// After a failed refresh, the still-valid token serves without a new
    /// attempt until then (so callers do not queue behind a provider that
    /// hangs).
    retry_ms: AtomicU64,
    /// The newest refresh token, and how many were seen (for the redactor).
    refresh_token: std::sync::Mutex<Option<SecretString>>,
    refresh_tokens_seen: AtomicU64,
}

impl std::fmt::Debug for OAuth2Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth2Secret")
            .field("token_url", &self.def.token_url.as_str())
            .field("client_id", &self.def.client_id)
            .field("version", &self.versions.loaded().map(|l| l.version))
            .field("expires_ms", &self.expires_ms.load(Ordering::Acquire))
            .finish_non_exhaustive()
    }
}

impl OAuth2Secret {
    pub(super) fn new(
        def: Arc<CredentialDef>,
        oauth2: &OAuth2Def,
        client: Option<Arc<TokenClient>>,
        ctx: Arc<Context>,
    ) -> Self {
        OAuth2Secret {
            name: def.name.clone(),
            def: oauth2.clone(),
            client,
            ctx,
            versions: Versions::new(def, None),
            fetch_lock: tokio::sync::Mutex::new(()),
            refresh_ms: AtomicU64::new(0),
            expires_ms: AtomicU64::new(0),
            retry_ms: AtomicU64::new(0),
            refresh_token: std::sync::Mutex::new(None),
            refresh_tokens_seen: AtomicU64::new(0),
        }
    }

    /// The current token while it is not due (or, after a failed refresh,
    /// while it is valid and the retry pause lasts).
    fn cached(&self) -> Option<Arc<Loaded>> {
        let now = now_ms();
        self.versions.loaded().filter(|_| {
            now < self.refresh_ms.load(Ordering::Acquire)
                || (now < self.retry_ms.load(Ordering::Acquire)
                    && now < self.expires_ms.load(Ordering::Acquire))
        })
    }

    /// The current token until it is due; then one refresh at a time (here,
    /// and across processes through the store). `since`: a reload asked for
    /// then, which only a token obtained since serves.
    async fn token(&self, since: Option<u64>) -> Result<Arc<Loaded>, String> {
        if since.is_none()
            && let Some(c) = self.cached()
        {
            return Ok(c);
        }
        let _one = self.fetch_lock.lock().await;
        if since.is_none()
            && let Some(c) = self.cached()
        {
            return Ok(c);
        }
        match self.obtain(since).await {
            Ok(state) => Ok(self.adopt(&state)),
            Err(reason) => match self.versions.loaded() {
                Some(c)
                    if since.is_none() && now_ms() < self.expires_ms.load(Ordering::Acquire) =>
                {
                    tracing::warn!(credential = %self.name, error = %reason, "cannot refresh the OAuth2 token; using the current one until it expires");
                    self.retry_ms.store(now_ms() + RETRY_MS, Ordering::Release);
                    Ok(c)
                }
                _ => Err(reason),
            },
        }
    }

    /// A token from the store (another process's) or from the provider.
    async fn obtain(&self, since: Option<u64>) -> Result<TokenState, String> {
        let name = &self.name;
        let secret = self
            .ctx
            .read_local(&self.def.client_secret)
            .ok_or_else(|| {
                format!(
                    "cannot read its client secret from {}",
                    self.def.client_secret.describe()
                )
            })?;
        self.ctx
            .known
            .remember(&format!("oauth2/{name}/client_secret"), &secret);
        let shared = self.ctx.shared.get().map(SharedTokens);
        let mut stored_refresh = None;
        let mut lock = None;
        if let Some(sh) = &shared {
            if let Some(state) = sh.read(name).await? {
                if state.usable(since) {
                    return Ok(state);
                }
                stored_refresh = state.refresh_token();
            }
            match sh.lock_or_token(name, since).await? {
                Locked::Token(state) => return Ok(state),
                Locked::Held(key) => lock = Some(key),
            }
            // Whoever held the lock before may have just finished.
            if let Some(state) = sh.read(name).await? {
                if state.usable(since) {
                    if let Some(key) = &lock {
                        sh.unlock(key).await;
                    }
                    return Ok(state);
                }
                stored_refresh = state.refresh_token().or(stored_refresh);
            }
        }
        let result = self.request(&secret, stored_refresh).await;
        if let (Some(sh), Ok(state)) = (&shared, &result)
            && let Err(e) = sh.write(name, state).await
        {
            tracing::error!(credential = %name, error = %e, "cannot keep the new OAuth2 token in the store; other processes will get their own");
        }
        if let (Some(sh), Some(key)) = (&shared, &lock) {
            sh.unlock(key).await;
        }
        result
    }

    /// Ask the provider. With the refresh-token grant, the newest refresh
    /// token known is tried first, then the configured one.
    async fn request(
        &self,
        secret: &SecretString,
        stored_refresh: Option<SecretString>,
    ) -> Result<TokenState, String> {
        let client = self.client.as_ref().ok_or("no OAuth2 client")?;
        if self.def.grant == Grant::ClientCredentials {
            return client
                .request(&self.def, secret, Ask::ClientCredentials)
                .await
                .map_err(|e| e.to_string());
        }
        let configured = self
            .def
            .refresh_token
            .as_ref()
            .and_then(|s| self.ctx.read_local(s));
        if let Some(c) = &configured {
            self.ctx
                .known
                .remember(&format!("oauth2/{}/refresh/configured", self.name), c);
        }
        let in_memory = self
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
            match client.request(&self.def, secret, Ask::Refresh(&rt)).await {
                Ok(mut state) => {
                    state.keep_refresh_token(&rt);
                    return Ok(state);
                }
                Err(TokenError::InvalidGrant) => tried.push(rt),
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
    fn adopt(&self, state: &TokenState) -> Arc<Loaded> {
        if let Some(rt) = state.refresh_token() {
            let n = self.refresh_tokens_seen.fetch_add(1, Ordering::AcqRel);
            self.ctx
                .known
                .remember(&format!("oauth2/{}/refresh/{}", self.name, n % 4), &rt);
            *self.refresh_token.lock().unwrap_or_else(|p| p.into_inner()) = Some(rt);
        }
        let loaded = self
            .versions
            .install(&self.ctx.known, state.access_token(), ());
        self.expires_ms.store(state.expires_ms(), Ordering::Release);
        self.refresh_ms
            .store(state.refresh_at_ms(), Ordering::Release);
        loaded
    }
}

#[async_trait::async_trait]
impl SecretSource for OAuth2Secret {
    async fn current(&self, _subject: Option<&str>) -> Result<Arc<Loaded>, String> {
        self.token(None).await
    }

    async fn reload(&self, since_ms: u64) -> Result<u64, String> {
        self.token(Some(since_ms)).await.map(|l| l.version)
    }
}
