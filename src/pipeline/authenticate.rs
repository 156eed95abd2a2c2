//! Stage 1 — authenticate: the caller must be an agent holding a valid key
//! or a live session token; revoked identities fail here.
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
use crate::sessions::{self, TOKEN_PREFIX};

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

pub(crate) async fn agent<'g>(gw: &'g Gateway, headers: &HeaderMap) -> Result<Agent<'g>, ApiError> {
    let token = bearer(headers).ok_or_else(ApiError::unauthenticated)?;
    // With replicas, a switch set elsewhere must have had a chance to arrive.
    gw.revocations.check_fresh(gw.store.is_shared())?;
    if token.starts_with(TOKEN_PREFIX) {
        let session = sessions::find(gw.store.as_ref(), token)
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
        // The agent must still exist, with the key the session was minted under, unrevoked.
        let key = gw
            .identities
            .agent_key(&session.agent)
            .ok_or_else(ApiError::unauthenticated)?;
        if hex::encode(key) != session.agent_key_sha256
            || gw
                .revocations
                .is_active(&revocations::agent_key(&session.agent, &key))
        {
            return Err(ApiError::unauthenticated());
        }
        let wf = gw
            .config
            .agents
            .get(&session.agent)
            .map(|a| a.workflow.clone())
            .ok_or_else(ApiError::unauthenticated)?;
        let (workflow, tools) = workflow(gw, &wf, &session.agent)?;
        return Ok(Agent {
            workflow,
            tools,
            name: session.agent,
            scopes: Some(session.scopes),
            subject: session.subject,
            via_session: true,
        });
    }
    let (caller, key) = gw
        .identities
        .authenticate(token)
        .ok_or_else(ApiError::unauthenticated)?;
    let Caller::Agent { name, workflow: wf } = caller.as_ref() else {
        return Err(ApiError::forbidden(
            "only agent keys may call tools or list them; approver and admin keys never can",
        ));
    };
    if gw
        .revocations
        .is_active(&revocations::agent_key(name, &key))
    {
        return Err(ApiError::unauthenticated());
    }
    let (workflow, tools) = workflow(gw, wf, name)?;
    Ok(Agent {
        workflow,
        tools,
        name: name.clone(),
        scopes: None,
        subject: None,
        via_session: false,
    })
}

/// The caller, whatever its role (for approver and admin endpoints).
pub(crate) fn caller(gw: &Gateway, headers: &HeaderMap) -> Result<Arc<Caller>, ApiError> {
    gw.identities
        .caller_of(headers)
        .ok_or_else(ApiError::unauthenticated)
}
