//! Kill switches: disabled credentials, revoked agents and quarantined ones.
//!
//! A switch takes effect in this process at once (an in-memory set checked on
//! every call) and is persisted in the store, where every process sharing it
//! picks it up on its next refresh (each second). An agent is revoked by name
//! *and* key hash, so issuing the agent a new key in config brings it back.
//!
//! On a shared store the set is also refreshed at once when another replica
//! announces a change (see [`crate::events`]). If it cannot be refreshed for
//! [`MAX_STALE_MS`] — this replica has lost the shared store while others may
//! be revoking — calls are refused (`503 store_unavailable`) until it can.

use std::collections::HashSet;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::store::{Ns, Store, StoreError, now_ms};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Switch {
    pub by: String,
    pub reason: String,
    pub at_ms: u64,
}

/// How old the kill-switch set of a replica on a shared store may get.
pub(crate) const MAX_STALE_MS: u64 = 3000;

#[derive(Default)]
pub struct Revocations {
    active: RwLock<HashSet<String>>,
    /// When the set was last read from the store (ms since the epoch).
    refreshed_ms: AtomicU64,
}

pub(crate) fn agent_key(name: &str, key_sha256: &[u8; 32]) -> String {
    format!("agent/{name}/{}", hex::encode(key_sha256))
}

/// An agent quarantined because a canary was seen: by name, whatever its key,
/// until an admin lets it back.
pub(crate) fn quarantine_key(name: &str) -> String {
    format!("quarantine/{name}")
}

pub(crate) fn credential_key(name: &str) -> String {
    format!("credential/{name}")
}

impl Revocations {
    pub(crate) fn is_active(&self, key: &str) -> bool {
        self.active
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(key)
    }

    /// Turn a switch on, here and in the store.
    pub(crate) async fn set(
        &self,
        store: &dyn Store,
        key: &str,
        switch: &Switch,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(switch)
            .map_err(|e| StoreError(format!("cannot encode a kill switch: {e}")))?;
        store.insert_new(Ns::Revocations, key, &bytes, None).await?;
        self.active
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned());
        Ok(())
    }

    /// Turn a switch off, here and in the store.
    pub(crate) async fn clear(&self, store: &dyn Store, key: &str) -> Result<(), StoreError> {
        store.delete(Ns::Revocations, key, None).await?;
        self.active
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        Ok(())
    }

    /// Replace the in-memory set with the store's.
    pub(crate) async fn refresh(&self, store: &dyn Store) -> Result<(), StoreError> {
        let keys: HashSet<String> = store
            .list(Ns::Revocations, usize::MAX)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        *self.active.write().unwrap_or_else(|p| p.into_inner()) = keys;
        self.refreshed_ms.store(now_ms(), Ordering::Release);
        Ok(())
    }

    /// On a shared store, whether the set is recent enough to decide on.
    pub(crate) fn check_fresh(&self, shared: bool) -> Result<(), StoreError> {
        let age = now_ms().saturating_sub(self.refreshed_ms.load(Ordering::Acquire));
        if shared && age > MAX_STALE_MS {
            return Err(StoreError(
                "kill switches could not be refreshed from the shared store".into(),
            ));
        }
        Ok(())
    }
}

pub(crate) fn switch(by: &str, reason: &str) -> Switch {
    Switch {
        by: by.to_owned(),
        reason: reason.to_owned(),
        at_ms: now_ms(),
    }
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations").finish_non_exhaustive()
    }
}
