//! A store that counts its failures, for `/metrics`
//! (`toolgate_store_errors_total{op}`); everything else passes through.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::contract::{Inserted, Ns, RateDecision, Store, StoreError, Swapped, Versioned};
use crate::metrics::Metrics;

pub(crate) struct Counted {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl Counted {
    pub(crate) fn new(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> Counted {
        Counted { inner, metrics }
    }

    fn counted<T>(&self, op: &'static str, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if r.is_err() {
            self.metrics.store_error(op);
        }
        r
    }
}

#[async_trait]
impl Store for Counted {
    async fn get(&self, ns: Ns, key: &str) -> Result<Option<Versioned>, StoreError> {
        self.counted("get", self.inner.get(ns, key).await)
    }

    async fn insert_new(
        &self,
        ns: Ns,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Inserted, StoreError> {
        let r = self.inner.insert_new(ns, key, value, ttl).await;
        self.counted("insert", r)
    }

    async fn compare_and_swap(
        &self,
        ns: Ns,
        key: &str,
        expected: u64,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Swapped, StoreError> {
        let r = self
            .inner
            .compare_and_swap(ns, key, expected, value, ttl)
            .await;
        self.counted("compare_and_swap", r)
    }

    async fn delete(&self, ns: Ns, key: &str, expected: Option<u64>) -> Result<bool, StoreError> {
        self.counted("delete", self.inner.delete(ns, key, expected).await)
    }

    async fn list(&self, ns: Ns, limit: usize) -> Result<Vec<(String, Versioned)>, StoreError> {
        self.counted("list", self.inner.list(ns, limit).await)
    }

    async fn rate_limit(
        &self,
        key: &str,
        per_minute: u32,
        burst: u32,
    ) -> Result<RateDecision, StoreError> {
        let r = self.inner.rate_limit(key, per_minute, burst).await;
        self.counted("rate_limit", r)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.counted("ping", self.inner.ping().await)
    }

    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }
}
