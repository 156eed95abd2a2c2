//! The `oauth2` source with `grant: authorization_code`: each end user's own
//! tokens, obtained through a connection (`POST /v1/connections`, consent
//! at the provider, the callback) and used only for calls whose session
//! carries that subject.
//!
//! - The tokens live only in the store, sealed ([`super::record`]), read at
//!   every use: a disconnect on any replica takes effect at the next call.
//! - A token due for replacement is refreshed one at a time per subject (a
//!   mutex here, a lock key with a TTL across processes); the rotated
//!   refresh token is kept, sealed. While the provider cannot be reached the
//!   current token serves until it expires; a refresh token the provider
//!   refuses ends the connection (the subject must connect again).
//! - A subject without a connection gets [`NOT_CONNECTED`], which the
//!   facade turns into `credential_unavailable` naming the credential.
//!
//! Every token, refresh token, code and verifier is known to the redactor
//! before it is used; none is logged, audited or put in an error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;

use super::client::{Ask, TokenClient, TokenError};
use super::record::{LOCK_TTL, Read, Records, Stored};
use crate::audit::{Entry, Event};
use crate::config::{CredentialDef, OAuth2Def};
use crate::secrets::source::{Context, Loaded, SecretSource, SharedStore, Versions};
use crate::store::now_ms;

/// The reason a subject has no connection (the facade matches on it).
pub(crate) const NOT_CONNECTED: &str = "the subject has no connection for this credential";

/// A subject's connection, as listed (no token material).
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub credential: String,
    pub subject: String,
    pub connected_ms: u64,
    /// When the current access token expires (it is refreshed before).
    pub expires_ms: u64,
    /// The scopes granted (the provider's answer, else those asked for).
    pub scopes: Vec<String>,
}

/// Why a code could not be turned into a connection.
#[derive(Debug)]
pub enum ExchangeError {
    /// The provider refused the code (or the verifier, or the client).
    Refused(String),
    /// The provider or the store could not be reached.
    Unavailable(String),
}

/// One subject's current version (for the redactor and the version count)
/// and its in-process refresh lock.
struct Slot {
    versions: Versions,
    refresh: tokio::sync::Mutex<()>,
}

pub(crate) struct ConnectedSecret {
    def: Arc<CredentialDef>,
    oauth2: OAuth2Def,
    client: Option<Arc<TokenClient>>,
    ctx: Arc<Context>,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

impl std::fmt::Debug for ConnectedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectedSecret")
            .field("credential", &self.def.name)
            .field("token_url", &self.oauth2.token_url.as_str())
            .finish_non_exhaustive()
    }
}

impl ConnectedSecret {
    pub(super) fn new(
        def: Arc<CredentialDef>,
        oauth2: &OAuth2Def,
        client: Option<Arc<TokenClient>>,
        ctx: Arc<Context>,
    ) -> Self {
        ConnectedSecret {
            def,
            oauth2: oauth2.clone(),
            client,
            ctx,
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn shared(&self) -> Result<&SharedStore, String> {
        self.ctx
            .shared
            .get()
            .ok_or_else(|| "per-user connections need store.encryption_key".to_owned())
    }

    fn records<'a>(&'a self, shared: &'a SharedStore) -> Records<'a> {
        Records {
            shared,
            credential: &self.def.name,
        }
    }

    fn client(&self) -> Result<&TokenClient, String> {
        self.client
            .as_deref()
            .ok_or_else(|| "no OAuth2 client".into())
    }

    fn client_secret(&self) -> Result<SecretString, String> {
        let secret = self
            .ctx
            .read_local(&self.oauth2.client_secret)
            .ok_or_else(|| {
                format!(
                    "cannot read its client secret from {}",
                    self.oauth2.client_secret.describe()
                )
            })?;
        self.ctx
            .known
            .remember(&format!("oauth2/{}/client_secret", self.def.name), &secret);
        Ok(secret)
    }

    fn slot(&self, subject: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .entry(subject.to_owned())
            .or_insert_with(|| {
                Arc::new(Slot {
                    versions: Versions::new(self.def.clone(), Some(subject)),
                    refresh: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }

    /// The redactor learns the refresh token (two names per subject, so the
    /// one just replaced stays known too).
    fn learn_refresh(&self, subject: &str, stored: &Stored) {
        if let Some(rt) = stored.token.refresh_token() {
            let n = stored.token.expires_ms() % 2;
            self.ctx.known.remember(
                &format!("connection/{}/{subject}/refresh/{n}", self.def.name),
                &rt,
            );
        }
    }

    fn install(&self, slot: &Slot, subject: &str, stored: &Stored) -> Arc<Loaded> {
        self.learn_refresh(subject, stored);
        slot.versions
            .install(&self.ctx.known, stored.token.access_token(), ())
    }

    /// A record of a step of this credential's connection for `subject`.
    pub(crate) async fn audit(&self, event: Event, subject: &str, reason: Option<String>) {
        let Some(sink) = self.ctx.audit.get() else {
            return;
        };
        let mut entry = Entry::new(event);
        entry.environment = self.ctx.shared.get().map(|s| s.environment.clone());
        entry.credential = Some(self.def.name.clone());
        entry.subject = Some(subject.to_owned());
        entry.reason = reason;
        if let Err(e) = sink.append(entry).await {
            tracing::error!(credential = %self.def.name, error = %e, "cannot audit a connection's refresh");
        }
    }

    /// The subject's token: the stored one while it is not due; then one
    /// refresh at a time, here and across processes.
    async fn token(&self, subject: &str) -> Result<Arc<Loaded>, String> {
        let shared = self.shared()?;
        let records = self.records(shared);
        // A slot only for a subject that has connected (no entry per label tried).
        let read = records.read(subject).await?.ok_or(NOT_CONNECTED)?;
        let slot = self.slot(subject);
        if read.stored.token.usable(None) {
            return Ok(self.install(&slot, subject, &read.stored));
        }
        let _one = slot.refresh.lock().await;
        let holder = uuid::Uuid::new_v4().to_string();
        let deadline = now_ms() + LOCK_TTL.as_millis() as u64;
        loop {
            let read = records.read(subject).await?.ok_or(NOT_CONNECTED)?;
            if read.stored.token.usable(None) {
                return Ok(self.install(&slot, subject, &read.stored));
            }
            if records.try_lock(subject, &holder).await? {
                let result = self.refresh(&records, &slot, subject, read).await;
                records.unlock(subject).await;
                return result;
            }
            if now_ms() > deadline {
                return Err("another process holds the connection's refresh lock".into());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Refresh `read` (the lock is held).
    async fn refresh(
        &self,
        records: &Records<'_>,
        slot: &Slot,
        subject: &str,
        read: Read,
    ) -> Result<Arc<Loaded>, String> {
        let Some(rt) = read.stored.token.refresh_token() else {
            return self.expired_or(slot, subject, &read, "the provider gave no refresh token");
        };
        let secret = self.client_secret()?;
        match self
            .client()?
            .request(&self.oauth2, &secret, Ask::Refresh(&rt))
            .await
        {
            Ok(mut token) => {
                token.keep_refresh_token(&rt);
                let stored = Stored {
                    token,
                    connected_ms: read.stored.connected_ms,
                };
                // The redactor knows the new tokens before anything else sees them.
                self.learn_refresh(subject, &stored);
                if !records.update(subject, read.version, &stored).await? {
                    // Disconnected (or connected anew) meanwhile: not undone.
                    return Err(NOT_CONNECTED.into());
                }
                self.audit(Event::ConnectionRefreshed, subject, None).await;
                Ok(self.install(slot, subject, &stored))
            }
            Err(TokenError::InvalidGrant) => {
                records.delete(subject, Some(read.version)).await?;
                self.audit(
                    Event::ConnectionFailed,
                    subject,
                    Some("the provider refused the refresh token; the connection was ended and the end user must connect again".into()),
                )
                .await;
                Err(NOT_CONNECTED.into())
            }
            Err(e) => self.expired_or(slot, subject, &read, &e.to_string()),
        }
    }

    /// The current token while it has not expired; else the failure.
    fn expired_or(
        &self,
        slot: &Slot,
        subject: &str,
        read: &Read,
        reason: &str,
    ) -> Result<Arc<Loaded>, String> {
        if now_ms() < read.stored.token.expires_ms() {
            tracing::warn!(credential = %self.def.name, error = %reason, "cannot refresh a connection's token; using the current one until it expires");
            return Ok(self.install(slot, subject, &read.stored));
        }
        Err(format!(
            "the connection's token expired and cannot be refreshed: {reason}"
        ))
    }

    /// Turn an authorization code into the subject's connection.
    pub(crate) async fn exchange(
        &self,
        subject: &str,
        code: &SecretString,
        verifier: &SecretString,
        redirect_uri: &str,
    ) -> Result<ConnectionInfo, ExchangeError> {
        let known = |what: &str, v: &SecretString| {
            self.ctx
                .known
                .remember(&format!("connection/{}/{subject}/{what}", self.def.name), v);
        };
        known("code", code);
        known("verifier", verifier);
        let shared = self.shared().map_err(ExchangeError::Unavailable)?;
        let secret = self.client_secret().map_err(ExchangeError::Unavailable)?;
        let client = self.client().map_err(ExchangeError::Unavailable)?;
        let ask = Ask::Code {
            code,
            verifier,
            redirect_uri,
        };
        let token = client
            .request(&self.oauth2, &secret, ask)
            .await
            .map_err(|e| match e {
                TokenError::Unreachable(m) => ExchangeError::Unavailable(m),
                e => ExchangeError::Refused(e.to_string()),
            })?;
        let stored = Stored {
            token,
            connected_ms: now_ms(),
        };
        let slot = self.slot(subject);
        self.install(&slot, subject, &stored);
        self.records(shared)
            .put(subject, &stored)
            .await
            .map_err(ExchangeError::Unavailable)?;
        Ok(self.info(subject, &stored))
    }

    fn info(&self, subject: &str, stored: &Stored) -> ConnectionInfo {
        let scopes = match stored.token.scope() {
            Some(s) => s.split_whitespace().map(str::to_owned).collect(),
            None => self.oauth2.scopes.clone(),
        };
        ConnectionInfo {
            credential: self.def.name.clone(),
            subject: subject.to_owned(),
            connected_ms: stored.connected_ms,
            expires_ms: stored.token.expires_ms(),
            scopes,
        }
    }

    /// The subject's connection, if any (no token material).
    pub(crate) async fn connection(&self, subject: &str) -> Result<Option<ConnectionInfo>, String> {
        let shared = self.shared()?;
        Ok(self
            .records(shared)
            .read(subject)
            .await?
            .map(|r| self.info(subject, &r.stored)))
    }

    /// End the subject's connection: forgotten here, then revoked at the
    /// provider when `revocation_url` is configured. `Ok(None)`: there was
    /// none; `Ok(Some(revoked))`: ended, and whether the provider revoked
    /// it (`None` without a `revocation_url`).
    pub(crate) async fn disconnect(&self, subject: &str) -> Result<Option<Option<bool>>, String> {
        let shared = self.shared()?;
        let records = self.records(shared);
        let Some(read) = records.read(subject).await? else {
            return Ok(None);
        };
        if !records.delete(subject, Some(read.version)).await? {
            // Refreshed meanwhile: the newest version is the one to end.
            return Box::pin(self.disconnect(subject)).await;
        }
        let Some(url) = &self.oauth2.revocation_url else {
            return Ok(Some(None));
        };
        let (token, hint) = match read.stored.token.refresh_token() {
            Some(rt) => (rt, "refresh_token"),
            None => (read.stored.token.access_token(), "access_token"),
        };
        let revoked = match self.client_secret() {
            Ok(secret) => match self.client() {
                Ok(c) => c.revoke(&self.oauth2, url, &secret, &token, hint).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        if let Err(e) = &revoked {
            tracing::warn!(credential = %self.def.name, error = %e, "a disconnected connection could not be revoked at the provider");
        }
        Ok(Some(Some(revoked.is_ok())))
    }

    pub(crate) fn name(&self) -> &str {
        &self.def.name
    }

    pub(crate) fn oauth2(&self) -> &OAuth2Def {
        &self.oauth2
    }
}

#[async_trait::async_trait]
impl SecretSource for ConnectedSecret {
    fn per_subject(&self) -> bool {
        true
    }

    async fn current(&self, subject: Option<&str>) -> Result<Arc<Loaded>, String> {
        let subject = subject.ok_or("it is per subject, and the caller names no subject")?;
        self.token(subject).await
    }

    /// Each subject's token is read from the store at every use: nothing to re-read.
    async fn reload(&self, _since_ms: u64) -> Result<u64, String> {
        Ok(0)
    }
}
