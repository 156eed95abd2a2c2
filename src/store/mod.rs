//! Everything toolgate keeps between requests, behind one trait.
//!
//! The trait is a small set of atomic primitives over namespaced keys —
//! insert-if-absent, compare-and-swap on a version, delete, list, and a
//! rate-limit step — so that every backend (in memory, the embedded file
//! store, Redis) gives the same guarantees and the domain logic above it
//! (actions, idempotency keys, sessions, dead letters) never does
//! read-modify-write across two calls. Values are opaque bytes; callers
//! persist only what the redaction rules allow (no credential is ever stored
//! in plaintext).
//!
//! Owns: the trait, its outcome types, and the clock and GCRA step the
//! embedded backends share. Must never: interpret a value, answer a write
//! before it is durable (rate-limit steps excepted, see `file`), or let two
//! backends differ on the contract — one conformance suite
//! (`tests/it/store.rs`, a test per property) runs against every backend.

mod file;
mod memory;
mod redis;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

pub use file::FileStore;
pub use memory::MemoryStore;
pub use redis::{RedisStore, connect as redis_connect, redis_error_text};

/// A namespace of keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ns {
    Actions,
    /// Ids of actions not yet final (an index for sweeps and queues).
    OpenActions,
    Idempotency,
    DeadLetters,
    Sessions,
    Revocations,
    Secrets,
    /// Credential reloads asked for by an admin (a counter per credential),
    /// for replicas that missed the announcement.
    Reloads,
}

impl Ns {
    pub const ALL: [Ns; 8] = [
        Ns::Actions,
        Ns::OpenActions,
        Ns::Idempotency,
        Ns::DeadLetters,
        Ns::Sessions,
        Ns::Revocations,
        Ns::Secrets,
        Ns::Reloads,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Ns::Actions => "actions",
            Ns::OpenActions => "open_actions",
            Ns::Idempotency => "idempotency",
            Ns::DeadLetters => "dead_letters",
            Ns::Sessions => "sessions",
            Ns::Revocations => "revocations",
            Ns::Secrets => "secrets",
            Ns::Reloads => "reloads",
        }
    }
}

/// A stored value and the version it has (1 on insert, +1 on every swap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub value: Vec<u8>,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// The key was absent (or expired) and now holds the value, at version 1.
    New,
    /// The key already held this.
    Exists(Versioned),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Swapped {
    /// Replaced; the new version.
    Done(u64),
    /// The present version was not the expected one (or the key is gone).
    Conflict(Option<Versioned>),
}

/// The outcome of one rate-limit step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    Limited { retry_after: Duration },
}

#[derive(Debug, thiserror::Error)]
#[error("store unavailable: {0}")]
pub struct StoreError(pub String);

#[async_trait]
pub trait Store: Send + Sync {
    async fn get(&self, ns: Ns, key: &str) -> Result<Option<Versioned>, StoreError>;

    /// Insert when the key is absent or expired; otherwise report what is there.
    async fn insert_new(
        &self,
        ns: Ns,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Inserted, StoreError>;

    /// Replace the value only if its version is `expected`.
    async fn compare_and_swap(
        &self,
        ns: Ns,
        key: &str,
        expected: u64,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Swapped, StoreError>;

    /// Delete, if present (and, with `expected`, only at that version). True when deleted.
    async fn delete(&self, ns: Ns, key: &str, expected: Option<u64>) -> Result<bool, StoreError>;

    /// Every live key of a namespace, in key order, at most `limit`.
    async fn list(&self, ns: Ns, limit: usize) -> Result<Vec<(String, Versioned)>, StoreError>;

    /// One GCRA step for `key`: `per_minute` steady rate, `burst` at once.
    async fn rate_limit(
        &self,
        key: &str,
        per_minute: u32,
        burst: u32,
    ) -> Result<RateDecision, StoreError>;

    /// For readiness.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Whether other processes share this store (then no process may assume
    /// that work marked in progress is its own).
    fn is_shared(&self) -> bool {
        false
    }
}

/// Milliseconds since the Unix epoch (the clock TTLs and rate limits use).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub(crate) fn deadline(ttl: Option<Duration>) -> u64 {
    ttl.map(|t| now_ms().saturating_add(t.as_millis() as u64))
        .unwrap_or(0)
}

/// Nanoseconds since the Unix epoch (the rate-limit clock).
pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The GCRA step shared by the embedded backends: given the stored theoretical
/// arrival time (ns since the epoch), decide and return the new one.
pub(crate) fn gcra(
    tat_ns: Option<u64>,
    now: u64,
    per_minute: u32,
    burst: u32,
) -> (RateDecision, Option<u64>) {
    let interval = 60_000_000_000u64 / u64::from(per_minute.max(1));
    let tolerance = interval * u64::from(burst.max(1) - 1);
    let tat = tat_ns.unwrap_or(now).max(now);
    if tat - now > tolerance {
        let wait = tat - now - tolerance;
        return (
            RateDecision::Limited {
                retry_after: Duration::from_nanos(wait),
            },
            None,
        );
    }
    (RateDecision::Allowed, Some(tat + interval))
}
