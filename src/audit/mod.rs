//! The audit trail: append-only records, hash-chained, durable before the
//! caller (or the upstream) hears anything.
//!
//! Each record holds what happened (event, agent, workflow, tool, ids, the
//! SHA-256 of the arguments, the arguments with sensitive fields replaced by
//! keyed HMACs, the credential's name and a keyed fingerprint of its version
//! — never a value), plus `seq`, `prev` (the previous record's hash) and
//! `hash` over the record's canonical form (SHA-256, or HMAC-SHA256 with an
//! audit key). Any edit, deletion, reordering or truncation breaks the chain;
//! `toolgate audit verify` names the first bad record.
//!
//! Signed checkpoints of the head are kept by the sink too, beside its
//! records (`AuditSink::checkpoint`), so `verify` can prove that nothing
//! before a checkpoint was truncated or rewritten.
//!
//! This module owns the record, the chain and the sinks. It must never see a
//! credential's value (callers pass data that is already redacted; only
//! `chain::fingerprint` keys an HMAC with a value and keeps nothing), never
//! answer an append before the record is durable, and never let a failed
//! write look like a success: a sink that cannot write refuses, and the
//! gateway fails closed.

pub mod chain;
pub mod checkpoint;
mod file;
pub mod redis;
pub mod verify;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use checkpoint::Checkpoint;
pub use file::FileSink;
pub use redis::RedisSink;

/// What a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    ConfigLoaded,
    CallDenied,
    Pending,
    Approved,
    Denied,
    Expired,
    Executing,
    Executed,
    Failed,
    Unknown,
    AdminReload,
    AdminDisable,
    AdminEnable,
    AdminRevoke,
    DeadLetterRetry,
    DeadLetterDiscard,
}

/// A record before the chain fields are set. Empty fields are left out.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub event: Option<Event>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_args_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_request_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redactions: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orchestrator_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_sha256: Option<String>,
}

impl Entry {
    pub fn new(event: Event) -> Entry {
        Entry {
            event: Some(event),
            ..Entry::default()
        }
    }
}

/// Where a record landed: its sequence number and hash (the "audit id").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub seq: u64,
    pub hash: String,
}

impl Receipt {
    pub fn id(&self) -> String {
        format!("{}:{}", self.seq, &self.hash[..16.min(self.hash.len())])
    }
}

#[derive(Debug, thiserror::Error)]
#[error("audit trail unavailable: {0}")]
pub struct AuditError(pub String);

/// Where a trail is kept. Every sink gives the same contract (one
/// conformance suite in `tests/it/audit/conformance.rs` runs against each):
///
/// - `append` seals the entry after the current head (`seq` one more, `prev`
///   the head's hash) and answers only once the record is durable; an error
///   means nothing is promised and the caller fails closed.
/// - Appends from many tasks at once all land, each with its own `seq`, in
///   one chain with no gap.
/// - `head` is the last durable record (`seq` 0 and `chain::GENESIS` for an
///   empty trail).
/// - `checkpoint` keeps a signed head beside the records, durably, and
///   refuses one that this trail does not have (past the head, or at the
///   head with another hash); `checkpoints` returns every one kept, oldest
///   first.
/// - While its storage fails, a sink refuses and reports unhealthy, and it
///   recovers by itself when the storage does.
#[async_trait]
pub trait AuditSink: Send + Sync {
    /// Returns only once the record is durable. An error means fail closed.
    async fn append(&self, entry: Entry) -> Result<Receipt, AuditError>;

    /// The last durable record.
    async fn head(&self) -> Result<Receipt, AuditError>;

    /// Keep a signed checkpoint of this trail; returns once it is durable.
    async fn checkpoint(&self, c: &Checkpoint) -> Result<(), AuditError>;

    /// Every checkpoint kept for this trail, oldest first.
    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, AuditError>;

    fn is_healthy(&self) -> bool;
}

/// Refuse a checkpoint the trail whose head is `head` cannot have vouched for.
fn check_against_head(c: &Checkpoint, head: &Receipt) -> Result<(), AuditError> {
    if c.seq == 0 || c.seq > head.seq || (c.seq == head.seq && c.hash != head.hash) {
        return Err(AuditError(format!(
            "refusing a checkpoint at record {} that this trail (head {}) does not hold",
            c.seq, head.seq
        )));
    }
    Ok(())
}

#[derive(Default)]
struct MemoryTrail {
    records: Vec<chain::Record>,
    chain: chain::Chain,
    checkpoints: Vec<Checkpoint>,
}

/// Records kept in memory (tests of other parts).
#[derive(Default)]
pub struct MemorySink {
    state: tokio::sync::Mutex<MemoryTrail>,
    failing: AtomicBool,
}

impl MemorySink {
    pub fn new(key: Option<Arc<[u8]>>) -> MemorySink {
        MemorySink {
            state: tokio::sync::Mutex::new(MemoryTrail {
                chain: chain::Chain::new(key),
                ..MemoryTrail::default()
            }),
            failing: AtomicBool::new(false),
        }
    }

    pub async fn records(&self) -> Vec<chain::Record> {
        self.state.lock().await.records.clone()
    }

    fn refuse_if_failing(&self) -> Result<(), AuditError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(AuditError("memory sink set to fail".into()));
        }
        Ok(())
    }

    /// Make every write fail (to test failing closed).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

#[async_trait]
impl AuditSink for MemorySink {
    async fn append(&self, entry: Entry) -> Result<Receipt, AuditError> {
        self.refuse_if_failing()?;
        let mut st = self.state.lock().await;
        let record = st.chain.seal(entry);
        let receipt = Receipt {
            seq: record.seq,
            hash: record.hash.clone(),
        };
        st.records.push(record);
        Ok(receipt)
    }

    async fn head(&self) -> Result<Receipt, AuditError> {
        Ok(self.state.lock().await.chain.head())
    }

    async fn checkpoint(&self, c: &Checkpoint) -> Result<(), AuditError> {
        self.refuse_if_failing()?;
        let mut st = self.state.lock().await;
        check_against_head(c, &st.chain.head())?;
        st.checkpoints.push(c.clone());
        Ok(())
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, AuditError> {
        Ok(self.state.lock().await.checkpoints.clone())
    }

    fn is_healthy(&self) -> bool {
        !self.failing.load(Ordering::SeqCst)
    }
}
