//! OAuth2 tokens shared between processes: kept in the store **sealed**
//! (see [`crate::secrets::seal`]) under the credential's name, and a lock
//! key with a TTL that makes refreshes one at a time across processes.
//! Whoever waits for the lock watches the store and takes the token the
//! holder put there.
//!
//! Nothing is written in plaintext; a stored value that does not open with
//! the configured key is ignored, never trusted.

use std::time::Duration;

use super::client::TokenState;
use crate::secrets::source::SharedStore;
use crate::store::{Inserted, Ns, now_ms};

/// How long the cross-process refresh lock lives if its holder dies.
const LOCK_TTL: Duration = Duration::from_secs(15);

/// Tokens kept in the store, sealed, and the lock that makes refreshes one
/// at a time across processes.
pub(super) struct SharedTokens<'a>(pub(super) &'a SharedStore);

impl SharedTokens<'_> {
    fn key(name: &str) -> String {
        format!("oauth2/{name}")
    }

    fn aad(&self, name: &str) -> String {
        format!("{}/oauth2-token/{name}", self.0.environment)
    }

    /// The token another process (or an earlier run) left, if it opens.
    pub(super) async fn read(&self, name: &str) -> Result<Option<TokenState>, String> {
        let Some(v) = self
            .0
            .store
            .get(Ns::Secrets, &Self::key(name))
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        let Some(plain) = self.0.sealer.open(&self.aad(name), &v.value) else {
            tracing::warn!(credential = %name, "a stored OAuth2 token does not open with store.encryption_key; ignoring it");
            return Ok(None);
        };
        Ok(serde_json::from_slice(&plain).ok())
    }

    pub(super) async fn write(&self, name: &str, state: &TokenState) -> Result<(), String> {
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(state).map_err(|e| format!("cannot encode the token state: {e}"))?,
        );
        let sealed = self.0.sealer.seal(&self.aad(name), &plain);
        let key = Self::key(name);
        loop {
            let current = self
                .0
                .store
                .get(Ns::Secrets, &key)
                .await
                .map_err(|e| e.to_string())?;
            let done = match current {
                None => {
                    self.0
                        .store
                        .insert_new(Ns::Secrets, &key, &sealed, None)
                        .await
                        .map_err(|e| e.to_string())?
                        == Inserted::New
                }
                Some(v) => matches!(
                    self.0
                        .store
                        .compare_and_swap(Ns::Secrets, &key, v.version, &sealed, None)
                        .await
                        .map_err(|e| e.to_string())?,
                    crate::store::Swapped::Done(_)
                ),
            };
            if done {
                return Ok(());
            }
        }
    }

    /// Take the refresh lock of `name`, or — while another process holds
    /// it — the token it leaves in the store. Gives up after the lock's TTL.
    pub(super) async fn lock_or_token(
        &self,
        name: &str,
        since: Option<u64>,
    ) -> Result<Locked, String> {
        let key = format!("oauth2-lock/{name}");
        let holder = uuid::Uuid::new_v4().to_string();
        let deadline = now_ms() + LOCK_TTL.as_millis() as u64;
        loop {
            match self
                .0
                .store
                .insert_new(Ns::Secrets, &key, holder.as_bytes(), Some(LOCK_TTL))
                .await
                .map_err(|e| e.to_string())?
            {
                Inserted::New => return Ok(Locked::Held(key)),
                Inserted::Exists(_) => {
                    if let Some(state) = self.read(name).await?
                        && state.usable(since)
                    {
                        return Ok(Locked::Token(state));
                    }
                    if now_ms() > deadline {
                        return Err("another process holds the token refresh lock".into());
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
            }
        }
    }

    pub(super) async fn unlock(&self, key: &str) {
        if let Err(e) = self.0.store.delete(Ns::Secrets, key, Some(1)).await {
            tracing::warn!(error = %e, "cannot release the token refresh lock; it expires by itself");
        }
    }
}

pub(super) enum Locked {
    /// This process holds the lock (release with `unlock`).
    Held(String),
    /// Another process refreshed meanwhile: its token.
    Token(TokenState),
}
