//! One end user's connection as the store keeps it: the subject's tokens
//! and when they were connected, **sealed** under `store.encryption_key`
//! (associated data: environment, credential, subject), at
//! `connection/<credential>/<subject>` in the `secrets` namespace; and the
//! lock key that makes a subject's refreshes one at a time across replicas.
//!
//! Nothing is written in plaintext; a stored value that does not open with
//! the configured key is taken for no connection, never trusted.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::client::TokenState;
use crate::secrets::source::SharedStore;
use crate::store::{Inserted, Ns, Swapped};

/// How long a subject's cross-process refresh lock lives if its holder dies.
pub(super) const LOCK_TTL: Duration = Duration::from_secs(15);

/// What is kept for one connection.
#[derive(Serialize, Deserialize)]
pub(super) struct Stored {
    pub(super) token: TokenState,
    pub(super) connected_ms: u64,
}

/// A connection read from the store, with the version it was read at.
pub(super) struct Read {
    pub(super) stored: Stored,
    pub(super) version: u64,
}

/// The connections of one credential in the store.
pub(super) struct Records<'a> {
    pub(super) shared: &'a SharedStore,
    pub(super) credential: &'a str,
}

impl Records<'_> {
    fn key(&self, subject: &str) -> String {
        format!("connection/{}/{subject}", self.credential)
    }

    pub(super) fn lock_key(&self, subject: &str) -> String {
        format!("connection-lock/{}/{subject}", self.credential)
    }

    fn aad(&self, subject: &str) -> String {
        format!(
            "{}/connection/{}/{subject}",
            self.shared.environment, self.credential
        )
    }

    pub(super) async fn read(&self, subject: &str) -> Result<Option<Read>, String> {
        let Some(v) = self
            .shared
            .store
            .get(Ns::Secrets, &self.key(subject))
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        let Some(plain) = self.shared.sealer.open(&self.aad(subject), &v.value) else {
            tracing::warn!(credential = %self.credential, subject, "a stored connection does not open with store.encryption_key; taken for none");
            return Ok(None);
        };
        Ok(serde_json::from_slice(&plain).ok().map(|stored| Read {
            stored,
            version: v.version,
        }))
    }

    fn seal(&self, subject: &str, stored: &Stored) -> Result<Vec<u8>, String> {
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(stored).map_err(|e| format!("cannot encode the connection: {e}"))?,
        );
        Ok(self.shared.sealer.seal(&self.aad(subject), &plain))
    }

    /// Keep a new connection, replacing any the subject had.
    pub(super) async fn put(&self, subject: &str, stored: &Stored) -> Result<(), String> {
        let sealed = self.seal(subject, stored)?;
        let key = self.key(subject);
        let store = &self.shared.store;
        loop {
            let current = store
                .get(Ns::Secrets, &key)
                .await
                .map_err(|e| e.to_string())?;
            let done = match current {
                None => {
                    store
                        .insert_new(Ns::Secrets, &key, &sealed, None)
                        .await
                        .map_err(|e| e.to_string())?
                        == Inserted::New
                }
                Some(v) => matches!(
                    store
                        .compare_and_swap(Ns::Secrets, &key, v.version, &sealed, None)
                        .await
                        .map_err(|e| e.to_string())?,
                    Swapped::Done(_)
                ),
            };
            if done {
                return Ok(());
            }
        }
    }

    /// Replace the connection read at `version` (a refresh). False when it
    /// changed meanwhile (disconnected, or connected again): then nothing
    /// is written, so a disconnect is never undone.
    pub(super) async fn update(
        &self,
        subject: &str,
        version: u64,
        stored: &Stored,
    ) -> Result<bool, String> {
        let sealed = self.seal(subject, stored)?;
        let swapped = self
            .shared
            .store
            .compare_and_swap(Ns::Secrets, &self.key(subject), version, &sealed, None)
            .await
            .map_err(|e| e.to_string())?;
        Ok(matches!(swapped, Swapped::Done(_)))
    }

    /// Forget the connection (at `version`, when given). True when one was deleted.
    pub(super) async fn delete(&self, subject: &str, version: Option<u64>) -> Result<bool, String> {
        self.shared
            .store
            .delete(Ns::Secrets, &self.key(subject), version)
            .await
            .map_err(|e| e.to_string())
    }

    /// Take the subject's refresh lock; false while another process holds it.
    pub(super) async fn try_lock(&self, subject: &str, holder: &str) -> Result<bool, String> {
        let inserted = self
            .shared
            .store
            .insert_new(
                Ns::Secrets,
                &self.lock_key(subject),
                holder.as_bytes(),
                Some(LOCK_TTL),
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(inserted == Inserted::New)
    }

    pub(super) async fn unlock(&self, subject: &str) {
        if let Err(e) = self
            .shared
            .store
            .delete(Ns::Secrets, &self.lock_key(subject), Some(1))
            .await
        {
            tracing::warn!(error = %e, "cannot release a connection's refresh lock; it expires by itself");
        }
    }
}
