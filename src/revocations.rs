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
    /// Switches turned on or off here so far: a refresh whose listing began
    /// before one of them may not hold it, so it does not replace the set.
    changes: AtomicU64,
}

pub(crate) fn agent_key(name: &str, key_sha256: &[u8; 32]) -> String {
    format!("agent/{name}/{}", crate::digest::hex_lower(key_sha256))
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
        let mut active = self.active.write().unwrap_or_else(|p| p.into_inner());
        active.insert(key.to_owned());
        self.changes.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Turn a switch off, here and in the store.
    pub(crate) async fn clear(&self, store: &dyn Store, key: &str) -> Result<(), StoreError> {
        store.delete(Ns::Revocations, key, None).await?;
        let mut active = self.active.write().unwrap_or_else(|p| p.into_inner());
        active.remove(key);
        self.changes.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Replace the in-memory set with the store's. A switch turned on or
    /// off here while the store was being read may be missing from that
    /// listing (a disabled credential briefly enabled again), so then the
    /// store is read again, a few times at most; should switches keep
    /// changing, the set is left as it is and not counted as refreshed.
    pub(crate) async fn refresh(&self, store: &dyn Store) -> Result<(), StoreError> {
        for _ in 0..3 {
            let before = self.changes.load(Ordering::Acquire);
            let keys: HashSet<String> = store
                .list(Ns::Revocations, usize::MAX)
                .await?
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            let mut active = self.active.write().unwrap_or_else(|p| p.into_inner());
            if self.changes.load(Ordering::Acquire) == before {
                *active = keys;
                self.refreshed_ms.store(now_ms(), Ordering::Release);
                return Ok(());
            }
        }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use async_trait::async_trait;
    use tokio::sync::Notify;

    use super::*;
    use crate::store::{Inserted, MemoryStore, RateDecision, Swapped, Versioned};

    /// A store whose first listing is taken, then held until the test lets
    /// it answer: a switch set meanwhile is missing from it.
    struct HeldListing {
        inner: MemoryStore,
        held: std::sync::atomic::AtomicBool,
        listed: Notify,
        answer: Notify,
    }

    #[async_trait]
    impl Store for HeldListing {
        async fn get(&self, ns: Ns, key: &str) -> Result<Option<Versioned>, StoreError> {
            self.inner.get(ns, key).await
        }
        async fn insert_new(
            &self,
            ns: Ns,
            key: &str,
            value: &[u8],
            ttl: Option<Duration>,
        ) -> Result<Inserted, StoreError> {
            self.inner.insert_new(ns, key, value, ttl).await
        }
        async fn compare_and_swap(
            &self,
            ns: Ns,
            key: &str,
            expected: u64,
            value: &[u8],
            ttl: Option<Duration>,
        ) -> Result<Swapped, StoreError> {
            self.inner
                .compare_and_swap(ns, key, expected, value, ttl)
                .await
        }
        async fn delete(
            &self,
            ns: Ns,
            key: &str,
            expected: Option<u64>,
        ) -> Result<bool, StoreError> {
            self.inner.delete(ns, key, expected).await
        }
        async fn list(&self, ns: Ns, limit: usize) -> Result<Vec<(String, Versioned)>, StoreError> {
            let listing = self.inner.list(ns, limit).await;
            if !self.held.swap(true, Ordering::SeqCst) {
                self.listed.notify_one();
                self.answer.notified().await;
            }
            listing
        }
        async fn rate_limit(
            &self,
            key: &str,
            per_minute: u32,
            burst: u32,
        ) -> Result<RateDecision, StoreError> {
            self.inner.rate_limit(key, per_minute, burst).await
        }
        async fn ping(&self) -> Result<(), StoreError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_refresh_read_before_a_switch_does_not_undo_it() {
        let store = Arc::new(HeldListing {
            inner: MemoryStore::new(),
            held: Default::default(),
            listed: Notify::new(),
            answer: Notify::new(),
        });
        let r = Arc::new(Revocations::default());
        let key = credential_key("crm");
        // A refresh lists the store (no switch yet) and is held there.
        let refresh = {
            let (r, store) = (r.clone(), store.clone());
            tokio::spawn(async move { r.refresh(store.as_ref()).await })
        };
        store.listed.notified().await;
        // Meanwhile the credential is disabled here.
        r.set(&store.inner, &key, &switch("secops", "leaked"))
            .await
            .unwrap();
        assert!(r.is_active(&key));
        // Then the stale listing answers.
        store.answer.notify_one();
        refresh.await.unwrap().unwrap();
        assert!(r.is_active(&key), "a stale listing undid the kill switch");
    }
}
