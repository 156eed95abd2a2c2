//! MCP sessions (the 2025 revisions): an `Mcp-Session-Id` issued on
//! `initialize`, kept in the store so it survives a restart and is known to
//! every replica, bound to the agent that made it, and ended by `DELETE`
//! or after `mcp.session_ttl_seconds` without a request. The store holds
//! only the id's SHA-256, which is also what audit records and spans carry.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{Inserted, Ns, Store, StoreError, Swapped, now_ms};

/// What the store keeps of a session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct McpSession {
    /// The agent that initialized it; nobody else may use it.
    pub agent: String,
    /// The protocol revision agreed on.
    pub protocol_version: String,
    /// The last time the idle timer was reset.
    pub touched_ms: u64,
}

/// The SHA-256 of a session id, in hex.
pub(crate) fn hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// A new session for `agent`; its id, returned once.
pub(crate) async fn open(
    store: &dyn Store,
    agent: &str,
    protocol_version: &str,
    ttl: Duration,
) -> Result<String, StoreError> {
    let session = McpSession {
        agent: agent.to_owned(),
        protocol_version: protocol_version.to_owned(),
        touched_ms: now_ms(),
    };
    let value = encode(&session)?;
    loop {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let id = URL_SAFE_NO_PAD.encode(bytes);
        if let Inserted::New = store
            .insert_new(Ns::McpSessions, &hash(&id), &value, Some(ttl))
            .await?
        {
            return Ok(id);
        }
    }
}

/// The live session `id` of `agent`, its idle timer reset; `None` when it
/// never existed, has ended, or belongs to another agent.
pub(crate) async fn find(
    store: &dyn Store,
    id: &str,
    agent: &str,
    ttl: Duration,
) -> Result<Option<McpSession>, StoreError> {
    let key = hash(id);
    let Some(v) = store.get(Ns::McpSessions, &key).await? else {
        return Ok(None);
    };
    let mut session: McpSession = serde_json::from_slice(&v.value)
        .map_err(|e| StoreError(format!("damaged MCP session: {e}")))?;
    if session.agent != agent {
        return Ok(None);
    }
    // One write per tenth of the lifetime at most: the timer is reset
    // without a store write on every request.
    let now = now_ms();
    let step = u64::try_from(ttl.as_millis() / 10)
        .unwrap_or(u64::MAX)
        .max(1000);
    if now.saturating_sub(session.touched_ms) >= step {
        session.touched_ms = now;
        match store
            .compare_and_swap(
                Ns::McpSessions,
                &key,
                v.version,
                &encode(&session)?,
                Some(ttl),
            )
            .await?
        {
            // Ended meanwhile by a DELETE.
            Swapped::Conflict(None) => return Ok(None),
            // Reset now, here or by another request: as good.
            Swapped::Done(_) | Swapped::Conflict(Some(_)) => {}
        }
    }
    Ok(Some(session))
}

/// End session `id` of `agent`. True when it was live and is now ended.
pub(crate) async fn end(store: &dyn Store, id: &str, agent: &str) -> Result<bool, StoreError> {
    let key = hash(id);
    let Some(v) = store.get(Ns::McpSessions, &key).await? else {
        return Ok(false);
    };
    let session: McpSession = serde_json::from_slice(&v.value)
        .map_err(|e| StoreError(format!("damaged MCP session: {e}")))?;
    if session.agent != agent {
        return Ok(false);
    }
    store.delete(Ns::McpSessions, &key, None).await
}

fn encode(s: &McpSession) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(s).map_err(|e| StoreError(format!("cannot encode an MCP session: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn a_session_is_its_agent_s_until_it_ends() {
        let store = MemoryStore::new();
        let ttl = Duration::from_secs(60);
        let id = open(&store, "a", "2025-06-18", ttl).await.unwrap();
        assert!(find(&store, &id, "a", ttl).await.unwrap().is_some());
        assert!(find(&store, &id, "b", ttl).await.unwrap().is_none());
        assert!(!end(&store, &id, "b").await.unwrap());
        assert!(end(&store, &id, "a").await.unwrap());
        assert!(find(&store, &id, "a", ttl).await.unwrap().is_none());
        assert!(find(&store, "made-up", "a", ttl).await.unwrap().is_none());
    }
}
