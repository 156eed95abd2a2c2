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

mod clock;
mod contract;
mod counted;
mod file;
mod memory;
pub(crate) mod record;
mod redis;
mod redis_client;

pub(crate) use clock::now_ms;
pub use contract::{Inserted, Ns, RateDecision, Store, StoreError, Swapped, Versioned};
pub(crate) use counted::Counted;
pub use file::FileStore;
pub use memory::MemoryStore;
pub use redis::RedisStore;
pub use redis_client::{
    RedisConn, RedisOptions, RedisTarget, client as redis_client, connect as redis_connect,
    connect_blocking as redis_connect_blocking, redis_error_text,
};
