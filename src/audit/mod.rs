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
pub mod command;
mod counted;
mod file;
mod memory;
mod record;
pub mod redis;
pub mod redis_read;
pub(crate) mod refusals;
mod sink;
pub mod verify;

pub(crate) use counted::Counted;
pub use file::FileSink;
pub use memory::MemorySink;
pub use record::{AuditError, Entry, Event, Receipt};
pub use redis::RedisSink;
pub use sink::AuditSink;
