//! The in-memory store: one mutex over ordered maps. For tests and `kind: memory`.
//!
//! Owns nothing beyond the process: everything is lost when it exits. Never
//! holds its lock across an await.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::clock::{deadline, gcra, now_ms, now_ns};
use super::contract::{Inserted, Ns, RateDecision, Store, StoreError, Swapped, Versioned};

#[derive(Clone)]
struct Slot {
    value: Vec<u8>,
    version: u64,
    /// ms since the epoch; 0 = never.
    expires: u64,
}

impl Slot {
    fn live(&self, now: u64) -> bool {
        self.expires == 0 || self.expires > now
    }
}

#[derive(Default)]
pub struct MemoryStore {
    maps: Mutex<HashMap<Ns, BTreeMap<String, Slot>>>,
    rates: Mutex<HashMap<String, u64>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, ns: Ns, key: &str) -> Result<Option<Versioned>, StoreError> {
        let maps = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        let now = now_ms();
        Ok(maps
            .get(&ns)
            .and_then(|m| m.get(key))
            .filter(|s| s.live(now))
            .map(|s| Versioned {
                value: s.value.clone(),
                version: s.version,
            }))
    }

    async fn insert_new(
        &self,
        ns: Ns,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Inserted, StoreError> {
        let mut maps = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        let map = maps.entry(ns).or_default();
        let now = now_ms();
        if let Some(s) = map.get(key).filter(|s| s.live(now)) {
            return Ok(Inserted::Exists(Versioned {
                value: s.value.clone(),
                version: s.version,
            }));
        }
        map.insert(
            key.to_owned(),
            Slot {
                value: value.to_vec(),
                version: 1,
                expires: deadline(ttl),
            },
        );
        Ok(Inserted::New)
    }

    async fn compare_and_swap(
        &self,
        ns: Ns,
        key: &str,
        expected: u64,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Swapped, StoreError> {
        let mut maps = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        let map = maps.entry(ns).or_default();
        let now = now_ms();
        match map.get_mut(key).filter(|s| s.live(now)) {
            Some(s) if s.version == expected => {
                s.value = value.to_vec();
                s.version += 1;
                s.expires = deadline(ttl);
                Ok(Swapped::Done(s.version))
            }
            Some(s) => Ok(Swapped::Conflict(Some(Versioned {
                value: s.value.clone(),
                version: s.version,
            }))),
            None => Ok(Swapped::Conflict(None)),
        }
    }

    async fn delete(&self, ns: Ns, key: &str, expected: Option<u64>) -> Result<bool, StoreError> {
        let mut maps = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        let map = maps.entry(ns).or_default();
        let now = now_ms();
        match map.get(key) {
            Some(s) if s.live(now) && expected.is_none_or(|e| e == s.version) => {
                map.remove(key);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn list(&self, ns: Ns, limit: usize) -> Result<Vec<(String, Versioned)>, StoreError> {
        let maps = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        let now = now_ms();
        Ok(maps
            .get(&ns)
            .map(|m| {
                m.iter()
                    .filter(|(_, s)| s.live(now))
                    .take(limit)
                    .map(|(k, s)| {
                        (
                            k.clone(),
                            Versioned {
                                value: s.value.clone(),
                                version: s.version,
                            },
                        )
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn rate_limit(
        &self,
        key: &str,
        per_minute: u32,
        burst: u32,
    ) -> Result<RateDecision, StoreError> {
        let mut rates = self.rates.lock().unwrap_or_else(|p| p.into_inner());
        let (decision, tat) = gcra(rates.get(key).copied(), now_ns(), per_minute, burst);
        if let Some(t) = tat {
            rates.insert(key.to_owned(), t);
        }
        Ok(decision)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}
