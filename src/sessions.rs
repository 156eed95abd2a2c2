//! Session tokens: short-lived tokens an agent mints for one run.
//!
//! A session can only narrow the agent's scopes, carries an optional
//! `subject` (the end user the agent acts for — set by the orchestrator,
//! never by the model) and `run_id`, and dies with its TTL, with the agent's
//! revocation, or when the agent's key changes. The store holds only the
//! token's SHA-256.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{Inserted, Ns, Store, StoreError, now_ms};

pub(crate) const TOKEN_PREFIX: &str = "tg_session_";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Session {
    pub agent: String,
    /// The agent key's hash when minted: a new key ends old sessions.
    pub agent_key_sha256: String,
    pub scopes: BTreeSet<String>,
    pub subject: Option<String>,
    pub run_id: Option<String>,
    pub expires_at_ms: u64,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A subject or run id: short, printable, no path characters (it may fill a
/// Vault path segment), never `.`-led or holding `..`.
pub(crate) fn valid_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with('.')
        && !s.contains("..")
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@+-:".contains(&b))
}

/// Mint a token for `session`; the token is returned once and only its hash stored.
pub(crate) async fn mint(
    store: &dyn Store,
    session: &Session,
    ttl: Duration,
) -> Result<String, StoreError> {
    loop {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        let value = serde_json::to_vec(session)
            .map_err(|e| StoreError(format!("cannot encode a session: {e}")))?;
        if let Inserted::New = store
            .insert_new(Ns::Sessions, &hash(&token), &value, Some(ttl))
            .await?
        {
            return Ok(token);
        }
    }
}

/// The live session for a token, if any.
pub(crate) async fn find(store: &dyn Store, token: &str) -> Result<Option<Session>, StoreError> {
    let Some(v) = store.get(Ns::Sessions, &hash(token)).await? else {
        return Ok(None);
    };
    let s: Session = serde_json::from_slice(&v.value)
        .map_err(|e| StoreError(format!("damaged session: {e}")))?;
    Ok((s.expires_at_ms > now_ms()).then_some(s))
}

/// End every live session of `agent` (a quarantine). How many were ended.
pub(crate) async fn end_all(store: &dyn Store, agent: &str) -> Result<usize, StoreError> {
    let mut ended = 0;
    for (key, v) in store.list(Ns::Sessions, usize::MAX).await? {
        let Ok(s) = serde_json::from_slice::<Session>(&v.value) else {
            continue;
        };
        if s.agent == agent && store.delete(Ns::Sessions, &key, Some(v.version)).await? {
            ended += 1;
        }
    }
    Ok(ended)
}
