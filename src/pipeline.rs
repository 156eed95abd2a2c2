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
//!     idempotency    a repeated idempotency key replays the first call's action
//!                    (before the rate limit: a replay costs no budget)
//!  4. rate_limit     per agent and tool, in the store
//!  6. build          the upstream request from the template, without credential
//!  5. approve        if the policy matches, freeze the built request and answer
//!                    202; a person's approval later runs stages 7–10 on exactly
//!                    that request (see `approvals`)
//!  7. credential     the slot's credential, read from its source and attached
//!  8. egress         host fixed by the manifest; addresses checked at connect
//!  9. forward        with a timeout and a response size cap
//! 10. shape          redact, keep allowed headers, project `fields`
//! 11. audit          (the audit trail)
//! 12. respond        result, with Server-Timing split gateway / upstream
//! ```
//!
//! Build runs before the approval decision because the request to approve
//! must exist to be frozen; nothing leaves toolgate before stage 9.

pub mod approve;
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
use crate::actions::{self, IdempotencyRecord};
use crate::approvals;
use crate::config::ToolBinding;
use crate::error::ApiError;
use rate_limit::store_unavailable;

/// A tool call as the orchestrator posted it, in toolgate's own terms.
#[derive(Debug, Clone)]
pub struct CallRequest {
    pub tool: String,
    pub arguments: Value,
    pub call_id: String,
    pub idempotency_key: Option<String>,
    pub model: Option<String>,
    pub reason: Option<String>,
}

/// A successful call.
#[derive(Debug)]
pub struct CallOutcome {
    pub call_id: String,
    pub result: shape::ResultBody,
    pub upstream_status: u16,
    pub headers: Map<String, Value>,
    pub redactions: usize,
}

/// The 200 answer's body, serialized without copying the result.
#[derive(serde::Serialize)]
struct SucceededBody<'a> {
    call_id: &'a str,
    status: &'static str,
    result: &'a shape::ResultBody,
    upstream_status: u16,
    #[serde(skip_serializing_if = "Map::is_empty")]
    headers: &'a Map<String, Value>,
}

impl CallOutcome {
    fn answer(&self) -> SucceededBody<'_> {
        SucceededBody {
            call_id: &self.call_id,
            status: "succeeded",
            result: &self.result,
            upstream_status: self.upstream_status,
            headers: &self.headers,
        }
    }

    /// The 200 answer's body, as bytes (the hot path).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.answer()).unwrap_or_default()
    }

    /// The 200 answer's body, as a value (to keep with an action).
    pub fn body(&self) -> Value {
        serde_json::to_value(self.answer()).unwrap_or(Value::Null)
    }
}

/// How a call was answered.
#[derive(Debug)]
pub enum CallReply {
    /// Executed now.
    Done(CallOutcome),
    /// Kept as an action: an answer with this status and body (202 pending,
    /// or a replay of an earlier call with the same idempotency key).
    Action { http_status: u16, body: Value },
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
) -> Result<CallReply, ApiError> {
    let agent = authenticate::agent(gw, headers).await?;
    let binding = resolve::tool(&agent, &req.tool)?;
    validate::arguments(&binding, &req.arguments)?;
    let args_sha256 = actions::sha256_json(&req.arguments);
    let action_id = actions::new_id();
    if let Some(key) = &req.idempotency_key {
        let record = IdempotencyRecord {
            tool: binding.tool.name.clone(),
            args_sha256: args_sha256.clone(),
            action_id: action_id.clone(),
        };
        if let Some(first) =
            actions::claim_idempotency(gw.store.as_ref(), &agent.name, key, &record)
                .await
                .map_err(store_unavailable)?
        {
            return approvals::replay(gw, &first, &record).await;
        }
    }
    rate_limit::check(
        gw.store.as_ref(),
        &agent.name,
        &binding.tool.name,
        binding.rate_limit,
    )
    .await?;
    let upstream_req = build::request(&binding, &req.arguments)?;
    if binding.approval.applies(&req.arguments) {
        return approve::hold(
            gw,
            &agent,
            &binding,
            &req,
            action_id,
            args_sha256,
            upstream_req,
        )
        .await;
    }
    if req.idempotency_key.is_none() {
        return Ok(CallReply::Done(
            execute(gw, &binding, &req.call_id, upstream_req, timing).await?,
        ));
    }
    // With an idempotency key the call is kept as an action, so a retry finds its result.
    let action = approve::executing_action(
        &agent,
        &binding,
        &req,
        action_id,
        args_sha256,
        &upstream_req,
    );
    actions::create(gw.store.as_ref(), &action)
        .await
        .map_err(store_unavailable)?;
    let result = execute(gw, &binding, &req.call_id, upstream_req, timing).await;
    approvals::finish(gw, &action.id, &result).await?;
    result.map(CallReply::Done)
}

/// Stages 7–10 for a built request: attach the credential, check egress,
/// forward, shape. Shared by direct calls and approved actions.
pub async fn execute(
    gw: &Gateway,
    binding: &ToolBinding,
    call_id: &str,
    mut upstream_req: build::UpstreamRequest,
    timing: &mut Timing,
) -> Result<CallOutcome, ApiError> {
    let _credential = credential::attach(gw, binding, &mut upstream_req)?;
    let response = forward::send(&gw.egress, &binding.tool, upstream_req).await?;
    timing.upstream = Some(response.elapsed);
    let shaped = shape::response(&gw.redactor.load(), &binding.tool, &response)?;
    tracing::info!(
        tool = %binding.tool.name,
        call_id = %call_id,
        upstream_status = response.status.as_u16(),
        redactions = shaped.redactions,
        "call executed"
    );
    Ok(CallOutcome {
        call_id: call_id.to_owned(),
        result: shaped.result,
        upstream_status: response.status.as_u16(),
        headers: shaped.headers,
        redactions: shaped.redactions,
    })
}
