//! The `Store` trait and the values it speaks in: namespaces, versioned
//! values, and the outcomes of its atomic steps. Types only; no backend and
//! no clock.

use std::time::Duration;

use async_trait::async_trait;

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
    /// MCP sessions (`/mcp`), by the SHA-256 of their id.
    McpSessions,
    /// Rotations toolgate performs: one state record per credential.
    Rotations,
    /// Console sign-ins (`/ui`), by the SHA-256 of their cookie.
    UiSessions,
    /// Single sign-on attempts under way (`/ui/oidc`), by the SHA-256 of
    /// their `state`.
    UiSignIns,
}

impl Ns {
    pub(crate) const ALL: [Ns; 12] = [
        Ns::Actions,
        Ns::OpenActions,
        Ns::Idempotency,
        Ns::DeadLetters,
        Ns::Sessions,
        Ns::Revocations,
        Ns::Secrets,
        Ns::Reloads,
        Ns::McpSessions,
        Ns::Rotations,
        Ns::UiSessions,
        Ns::UiSignIns,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Ns::Actions => "actions",
            Ns::OpenActions => "open_actions",
            Ns::Idempotency => "idempotency",
            Ns::DeadLetters => "dead_letters",
            Ns::Sessions => "sessions",
            Ns::Revocations => "revocations",
            Ns::Secrets => "secrets",
            Ns::Reloads => "reloads",
            Ns::McpSessions => "mcp_sessions",
            Ns::Rotations => "rotations",
            Ns::UiSessions => "ui_sessions",
            Ns::UiSignIns => "ui_sign_ins",
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
