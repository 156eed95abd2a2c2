//! Stage 1 — authenticate: the caller must be an agent holding a valid key
//! or a live session token; revoked identities fail here. The credential
//! itself is checked from the headers by the API's gate ([`presented`]),
//! before the body is read; the stage turns it into an [`Agent`].
//!
//! Every failure gives the same `unauthenticated` answer: a caller cannot
//! tell a revoked key from a wrong one.

use std::collections::BTreeSet;
use std::sync::Arc;

use http::HeaderMap;

use crate::catalog::{ToolBinding, WorkflowTools};
use crate::config::WorkflowDef;
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::identity::{Caller, bearer};
use crate::revocations;
use crate::sessions::{self, Session, TOKEN_PREFIX};
use crate::tls::PeerCert;

/// An agent and the one workflow it acts in.
pub(crate) struct Agent<'g> {
    pub name: String,
    pub workflow: &'g WorkflowDef,
    /// The workflow's callable tools.
    pub tools: &'g WorkflowTools,
    /// A session's narrowed scopes; `None` with the agent's own key.
    pub scopes: Option<BTreeSet<String>>,
    /// The end user a session acts for.
    pub subject: Option<String>,
    /// Whether the caller used a session token.
    pub via_session: bool,
}

impl Agent<'_> {
    /// Whether this caller may use the tool (a session may narrow the workflow's grant).
    pub(crate) fn may_use(&self, b: &ToolBinding) -> bool {
        self.scopes
            .as_ref()
            .is_none_or(|s| b.tool.scopes.is_subset(s))
    }
}

fn workflow<'g>(
    gw: &'g Gateway,
    name: &str,
    agent: &str,
) -> Result<(&'g WorkflowDef, &'g WorkflowTools), ApiError> {
    let found = gw.config.workflows.get(name).zip(gw.catalog.tools(name));
    found.ok_or_else(|| {
        ApiError::internal(format!("agent {agent} names a workflow that is not loaded"))
    })
}

/// The credential in a request's headers, checked: a configured key or a
/// live session token, whose holder is not revoked. The API's gate makes
/// one before a byte of the body is read or a slot is taken; a request
/// without one never reaches a handler.
#[derive(Debug, Clone)]
pub(crate) struct Presented {
    caller: Arc<Caller>,
    key_sha256: [u8; 32],
    session: Option<Arc<Session>>,
}

impl Presented {
    /// Whoever holds the credential, whatever its role.
    pub(crate) fn caller(&self) -> &Caller {
        &self.caller
    }

    /// Refused if the holder's key has been revoked or the agent is
    /// quarantined (checked at the gate,
    /// and again when the call is served: a revocation can arrive while a
    /// body is being read).
    fn unrevoked(&self, gw: &Gateway) -> Result<(), ApiError> {
        match self.caller.as_ref() {
            Caller::Agent { name, .. }
                if gw
                    .revocations
                    .is_active(&revocations::agent_key(name, &self.key_sha256))
                    || gw.agent_quarantined(name) =>
            {
                Err(ApiError::unauthenticated())
            }
            _ => Ok(()),
        }
    }
}

/// Check the credential a request presents, from its headers and the
/// client certificate its connection showed (if any).
pub(crate) async fn presented(
    gw: &Gateway,
    headers: &HeaderMap,
    cert: Option<&PeerCert>,
) -> Result<Presented, ApiError> {
    let token = bearer(headers);
    if token.is_none() && (cert.is_none() || headers.contains_key(http::header::AUTHORIZATION)) {
        // No credential; or not a bearer token, refused rather than taken
        // for no header at all.
        return Err(ApiError::unauthenticated());
    }
    // With replicas, a switch set elsewhere must have had a chance to arrive.
    gw.revocations.check_fresh(gw.store.is_shared())?;
    let presented = if let Some(token) = token.filter(|t| t.starts_with(TOKEN_PREFIX)) {
        let session = sessions::find(gw.store.as_ref(), token)
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
        // The agent must still exist, with the key the session was minted under.
        let (caller, key_sha256) = gw
            .identities
            .agent(&session.agent)
            .ok_or_else(ApiError::unauthenticated)?;
        if hex::encode(key_sha256) != session.agent_key_sha256 {
            return Err(ApiError::unauthenticated());
        }
        Presented {
            caller,
            key_sha256,
            session: Some(Arc::new(session)),
        }
    } else {
        // A key; without one, the client certificate of an identity that has none.
        let (caller, key_sha256) = match token {
            Some(key) => gw.identities.authenticate(key),
            None => gw.identities.by_certificate(cert),
        }
        .ok_or_else(ApiError::unauthenticated)?;
        Presented {
            caller,
            key_sha256,
            session: None,
        }
    };
    // A key pinned to a certificate arrives over that certificate only, and
    // no key over a certificate pinned to someone else.
    if !gw.identities.cert_allows(&presented.caller, cert) {
        tracing::warn!(
            caller = presented.caller.name(),
            "a key arrived over a client certificate it is not pinned to; refused"
        );
        return Err(ApiError::unauthenticated());
    }
    presented.unrevoked(gw)?;
    Ok(presented)
}

/// Stage 1: the agent behind a checked credential, and its workflow.
pub(crate) fn agent<'g>(gw: &'g Gateway, presented: &Presented) -> Result<Agent<'g>, ApiError> {
    presented.unrevoked(gw)?;
    let Caller::Agent { name, workflow: wf } = presented.caller.as_ref() else {
        return Err(ApiError::forbidden(
            "only agent keys may call tools or list them; approver and admin keys never can",
        ));
    };
    let (workflow, tools) = workflow(gw, wf, name)?;
    let session = presented.session.as_deref();
    Ok(Agent {
        workflow,
        tools,
        name: name.clone(),
        scopes: session.map(|s| s.scopes.clone()),
        subject: session.and_then(|s| s.subject.clone()),
        via_session: session.is_some(),
    })
}
