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
//! Callers pass data that is already redacted; nothing in here sees a
//! credential's value except `fingerprint`, which only keys an HMAC with it.

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
    /// An approved action or a retried dead letter went back to its queue: nothing was sent.
    Requeued,
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

#[async_trait]
pub trait AuditSink: Send + Sync {
    /// Returns only once the record is durable. An error means fail closed.
    async fn append(&self, entry: Entry) -> Result<Receipt, AuditError>;

    /// The last durable record.
    async fn head(&self) -> Result<Receipt, AuditError>;

    fn is_healthy(&self) -> bool;
}

/// Records kept in memory (tests of other parts).
#[derive(Default)]
pub struct MemorySink {
    state: tokio::sync::Mutex<(Vec<chain::Record>, chain::Chain)>,
    failing: AtomicBool,
}

impl MemorySink {
    pub fn new(key: Option<Arc<[u8]>>) -> MemorySink {
        MemorySink {
            state: tokio::sync::Mutex::new((Vec::new(), chain::Chain::new(key))),
            failing: AtomicBool::new(false),
        }
    }

    pub async fn records(&self) -> Vec<chain::Record> {
        self.state.lock().await.0.clone()
    }

    /// Make every append fail (to test failing closed).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

#[async_trait]
impl AuditSink for MemorySink {
    async fn append(&self, entry: Entry) -> Result<Receipt, AuditError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(AuditError("memory sink set to fail".into()));
        }
        let mut st = self.state.lock().await;
        let record = st.1.seal(entry);
        let receipt = Receipt {
            seq: record.seq,
            hash: record.hash.clone(),
        };
        st.0.push(record);
        Ok(receipt)
    }

    async fn head(&self) -> Result<Receipt, AuditError> {
        Ok(self.state.lock().await.1.head())
    }

    fn is_healthy(&self) -> bool {
        !self.failing.load(Ordering::SeqCst)
    }
}
