//! `connections:` as loaded (checked by [`super::mcp`]): where a per-user
//! connection may send the browser back to, and how long a connect URL lasts.
//! A type only, so the model can hold it without importing the loaders.

use std::collections::BTreeSet;
use std::time::Duration;

/// `connections:` — per-user OAuth connections.
#[derive(Debug, Clone)]
pub struct ConnectionsConfig {
    /// Origins (`scheme://host[:port]`) a connect request's `return_to` may
    /// point at; none by default (then `return_to` is refused).
    pub return_to_origins: BTreeSet<String>,
    /// How long a connect URL's `state` stays usable.
    pub state_ttl: Duration,
}

impl Default for ConnectionsConfig {
    fn default() -> ConnectionsConfig {
        ConnectionsConfig {
            return_to_origins: BTreeSet::new(),
            state_ttl: Duration::from_secs(600),
        }
    }
}
