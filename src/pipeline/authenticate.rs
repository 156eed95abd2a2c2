//! Stage 1 — authenticate: the caller must be an agent holding a valid key.

use std::sync::Arc;

use http::HeaderMap;

use crate::Gateway;
use crate::config::WorkflowDef;
use crate::error::ApiError;
use crate::identity::Caller;

/// An agent and the one workflow it acts in.
pub struct Agent<'g> {
    pub caller: Arc<Caller>,
    pub name: String,
    pub workflow: &'g WorkflowDef,
}

pub fn agent<'g>(gw: &'g Gateway, headers: &HeaderMap) -> Result<Agent<'g>, ApiError> {
    let caller = gw
        .identities
        .from_headers(headers)
        .ok_or_else(ApiError::unauthenticated)?;
    let Caller::Agent { name, workflow } = caller.as_ref() else {
        return Err(ApiError::forbidden(
            "only agent keys may call tools or list them; approver and admin keys never can",
        ));
    };
    let workflow = gw.config.workflows.get(workflow).ok_or_else(|| {
        ApiError::internal(format!("agent {name} names a workflow that is not loaded"))
    })?;
    Ok(Agent {
        name: name.clone(),
        caller: caller.clone(),
        workflow,
    })
}
