//! Dead letters: calls that failed because of their credential — rejected by
//! the upstream (401/403, `credential_rejected`) or not available
//! (`credential_unavailable`) — kept so an admin can retry them once the
//! credential is repaired.
//!
//! `record` (the letter and its store operations) sits below the pipeline,
//! which keeps letters; `retry` (an admin's retry or discard) sits above it.

pub(crate) mod purge;
pub mod record;
pub(crate) mod retry;
