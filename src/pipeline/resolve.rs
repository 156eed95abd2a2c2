//! Stage 2 — resolve the tool within the agent's workflow.
//!
//! A tool that does not exist and a tool the workflow does not grant get the
//! same answer, so a caller learns nothing about other tools.

use std::sync::Arc;

use super::authenticate::Agent;
use crate::catalog::ToolBinding;
use crate::error::{ApiError, Code};

pub(crate) fn tool(agent: &Agent<'_>, name: &str) -> Result<Arc<ToolBinding>, ApiError> {
    let found = agent.tools.get(name).filter(|b| agent.may_use(b));
    found.cloned().ok_or_else(|| {
        ApiError::new(
            Code::UnknownTool,
            "no tool by that name is available to this agent; list them with GET /v1/tools",
        )
    })
}
