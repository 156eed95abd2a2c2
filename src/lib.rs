//! toolgate: an HTTP gateway between LLM orchestrators and the APIs their
//! agents act on. It authenticates the caller, validates the tool call,
//! attaches the real credential itself, calls the upstream, and returns a
//! result scrubbed of every secret.
//!
//! Start with [`pipeline`]: the stages of a call, in order. The modules,
//! from the bottom up: foundations (`error`, `redact`, `store`, `audit`,
//! `config`, `secrets`, `identity`, `bus`), the request and action records
//! (`request`, `actions`, `dead_letters::record`, `approvals::views`), the
//! [`Gateway`] that holds them, the `pipeline` and its stages, what runs on
//! top of it (`approvals`, `dead_letters::retry`, `rotation`, `connections`),
//! and the HTTP `api`.

#![forbid(unsafe_code)]

pub mod access_review;
pub mod actions;
pub(crate) mod api;
pub use api::document_text as openapi_document;
pub(crate) mod approvals;
pub mod audit;
pub mod bus;
pub mod catalog;
pub mod config;
pub(crate) mod connections;
pub(crate) mod console;
pub mod dead_letters;
pub mod dev;
pub mod digest;
pub mod error;
pub(crate) mod events;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod gateway;
pub mod identity;
pub(crate) mod listener;
pub(crate) mod load;
pub(crate) mod mcp;
pub mod mcp_stdio;
pub(crate) mod metrics;
pub(crate) mod oidc;
pub(crate) mod operator;
pub mod pipeline;
pub(crate) mod quarantine;
pub mod redact;
pub mod request;
pub mod revocations;
pub(crate) mod rotation;
pub mod secrets;
pub mod server;
pub(crate) mod sessions;
pub mod store;
pub mod telemetry;
pub mod tls;

pub use gateway::{Gateway, Parts};
