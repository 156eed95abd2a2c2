//! The `AuditSink` trait: the contract every trail's storage keeps.

use async_trait::async_trait;

use super::checkpoint::Checkpoint;
use super::record::{AuditError, Entry, Receipt};

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

    /// Free space left for the trail, where the sink's storage can tell
    /// (a file trail: its file system's space available to the process).
    fn free_bytes(&self) -> Option<u64> {
        None
    }
}

/// Refuse a checkpoint the trail whose head is `head` cannot have vouched for.
pub(super) fn check_against_head(c: &Checkpoint, head: &Receipt) -> Result<(), AuditError> {
    if c.seq == 0 || c.seq > head.seq || (c.seq == head.seq && c.hash != head.hash) {
        return Err(AuditError(format!(
            "refusing a checkpoint at record {} that this trail (head {}) does not hold",
            c.seq, head.seq
        )));
    }
    Ok(())
}
