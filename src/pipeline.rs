//! The call pipeline of SPEC §4 — the file to read first.
//!
//! Every tool call runs these stages in this order. The order is the
//! security argument: nothing is built before the caller is known and the
//! arguments are valid; the credential is fetched only for a request that
//! is fully built and allowed; nothing reaches the caller unredacted.
//!
//! ```text
//!  1. authenticate   the caller is an agent with a valid key
//!  2. resolve        the tool exists in the agent's workflow (same answer if not)
//!  3. validate       arguments satisfy the tool schema and the workflow overlay
//!  4. rate_limit     per agent and tool
//!  5. approve        approval policies other than `never` are refused at config
//!                    load in this version, so every call reaching here proceeds
//!  6. build          the upstream request from the template, without credential
//!  7. credential     the slot's credential, read from its source and attached
//!  8. egress         host fixed by the manifest; addresses checked at connect
//!  9. forward        with a timeout and a response size cap
//! 10. shape          redact, keep allowed headers, project `fields`
//! 11. audit          (the audit trail)
//! 12. respond        result, with Server-Timing split gateway / upstream
//! ```

pub mod authenticate;
pub mod build;
pub mod credential;
pub mod egress;
pub mod forward;
pub mod rate_limit;
pub mod resolve;
pub mod shape;
pub mod validate;

use std::time::Duration;

use http::HeaderMap;
use serde_json::{Map, Value};

use crate::Gateway;
use crate::error::ApiError;

/// A tool call as the orchestrator posted it, in toolgate's own terms.
#[derive(Debug, Clone)]
pub struct CallRequest {
    pub tool: String,
    pub arguments: Value,
    pub call_id: String,
    pub model: Option<String>,
    pub reason: Option<String>,
}

/// A successful call.
#[derive(Debug)]
pub struct CallOutcome {
    pub call_id: String,
    pub result: Value,
    pub upstream_status: u16,
    pub headers: Map<String, Value>,
    pub redactions: usize,
}

/// Time spent upstream, for the Server-Timing header.
#[derive(Debug, Default, Clone, Copy)]
pub struct Timing {
    pub upstream: Option<Duration>,
}

pub async fn call(
    gw: &Gateway,
    headers: &HeaderMap,
    req: CallRequest,
    timing: &mut Timing,
) -> Result<CallOutcome, ApiError> {
    let agent = authenticate::agent(gw, headers)?;
    let binding = resolve::tool(agent.workflow, &req.tool)?;
    validate::arguments(&binding, &req.arguments)?;
    rate_limit::check(
        gw.store.as_ref(),
        &agent.name,
        &binding.tool.name,
        binding.rate_limit,
    )
    .await?;
    let mut upstream_req = build::request(&binding, &req.arguments)?;
    let _credential = credential::attach(gw, &binding, &mut upstream_req)?;
    let response = forward::send(&gw.egress, &binding.tool, upstream_req).await?;
    timing.upstream = Some(response.elapsed);
    let shaped = shape::response(&gw.redactor.load(), &binding.tool, &response)?;
    tracing::info!(
        agent = %agent.name,
        workflow = %agent.workflow.name,
        tool = %binding.tool.name,
        call_id = %req.call_id,
        upstream_status = response.status.as_u16(),
        redactions = shaped.redactions,
        "call executed"
    );
    Ok(CallOutcome {
        call_id: req.call_id,
        result: shaped.result,
        upstream_status: response.status.as_u16(),
        headers: shaped.headers,
        redactions: shaped.redactions,
    })
}
