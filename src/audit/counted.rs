//! A sink that counts what it writes, for `/metrics`: every record made
//! durable, how long that took, and every one that could not be written.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use super::checkpoint::Checkpoint;
use super::{AuditError, AuditSink, Entry, Receipt};
use crate::metrics::Metrics;

pub(crate) struct Counted {
    inner: Arc<dyn AuditSink>,
    metrics: Arc<Metrics>,
}

impl Counted {
    pub(crate) fn new(inner: Arc<dyn AuditSink>, metrics: Arc<Metrics>) -> Counted {
        Counted { inner, metrics }
    }
}

#[async_trait]
impl AuditSink for Counted {
    async fn append(&self, entry: Entry) -> Result<Receipt, AuditError> {
        let started = Instant::now();
        let appended = self.inner.append(entry).await;
        self.metrics
            .audit_append(appended.is_ok(), started.elapsed());
        appended
    }

    async fn head(&self) -> Result<Receipt, AuditError> {
        self.inner.head().await
    }

    async fn checkpoint(&self, c: &Checkpoint) -> Result<(), AuditError> {
        self.inner.checkpoint(c).await
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, AuditError> {
        self.inner.checkpoints().await
    }

    fn is_healthy(&self) -> bool {
        self.inner.is_healthy()
    }

    fn free_bytes(&self) -> Option<u64> {
        self.inner.free_bytes()
    }
}
