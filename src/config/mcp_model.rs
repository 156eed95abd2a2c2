//! `mcp:` as loaded: what the `/mcp` endpoint is configured with.

use std::collections::BTreeSet;
use std::time::Duration;

/// `mcp:` — the Model Context Protocol endpoint.
#[derive(Debug, Clone)]
pub struct McpConfig {
    /// Browser origins allowed to call `/mcp` (exact `scheme://host[:port]`); none by default.
    pub allowed_origins: BTreeSet<String>,
    /// An MCP session ends after this long without a request.
    pub session_ttl: Duration,
    /// How long a held `tools/call` waits for its decision before answering
    /// `pending_approval` (zero: it answers at once).
    pub approval_wait: Duration,
}

impl Default for McpConfig {
    fn default() -> McpConfig {
        McpConfig {
            allowed_origins: BTreeSet::new(),
            session_ttl: Duration::from_secs(3600),
            approval_wait: Duration::from_secs(25),
        }
    }
}
