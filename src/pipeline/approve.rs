//! Stage 5 — approve: when the tool's policy matches these arguments, the
//! built request (without its credential) is frozen into a pending action and
//! the caller gets `202 pending_approval`. Nothing is sent upstream until
//! enough distinct approvers approve (see `approvals`).

use serde_json::json;

use super::audit::Trail;
use super::authenticate::Agent;
use super::build::UpstreamRequest;
use super::{CallReply, CallRequest};
use crate::Gateway;
use crate::actions::{self, Action, FrozenRequest, State};
use crate::approvals;
use crate::audit::Event;
use crate::catalog::ToolBinding;
use crate::error::ApiError;
use crate::store::now_ms;

fn action(
    agent: &Agent<'_>,
    binding: &ToolBinding,
    req: &CallRequest,
    id: String,
    upstream_req: &UpstreamRequest,
) -> Action {
    Action {
        id,
        state: State::PendingApproval,
        workflow: agent.workflow.name.clone(),
        agent: agent.name.clone(),
        tool: binding.tool.name.clone(),
        call_id: req.call_id.clone(),
        created_at_ms: now_ms(),
        expires_at_ms: 0,
        lease_until_ms: 0,
        arguments: req.arguments.clone(),
        args_sha256: actions::sha256_json(&req.arguments),
        request: FrozenRequest::freeze(upstream_req),
        approvals_required: binding.approval.approvals_required,
        approvals: Vec::new(),
        denial: None,
        edits: Vec::new(),
        outcome: None,
        idempotency_key: req.idempotency_key.clone(),
        subject: agent.subject.clone(),
    }
}

/// An action for a call that runs now (kept because it has an idempotency key).
pub fn executing_action(
    agent: &Agent<'_>,
    binding: &ToolBinding,
    req: &CallRequest,
    id: String,
    upstream_req: &UpstreamRequest,
) -> Action {
    let mut a = action(agent, binding, req, id, upstream_req);
    a.state = State::Executing;
    a.approvals_required = 0;
    a.lease_until_ms = actions::lease_for(binding.tool.upstream.timeout);
    a
}

/// Freeze the request and wait for a person.
pub async fn hold(
    gw: &Gateway,
    agent: &Agent<'_>,
    binding: &ToolBinding,
    req: &CallRequest,
    id: String,
    upstream_req: UpstreamRequest,
    trail: &mut Trail<'_>,
) -> Result<CallReply, ApiError> {
    let mut a = action(agent, binding, req, id, &upstream_req);
    a.expires_at_ms = a.created_at_ms + binding.approval.expires_in.as_millis() as u64;
    trail.request(&a.request.sha256);
    trail
        .record(Event::Pending, |e| {
            e.decision = Some("pending_approval".into())
        })
        .await?;
    actions::create(gw.store.as_ref(), &a)
        .await
        .map_err(super::rate_limit::store_unavailable)?;
    tracing::info!(action_id = %a.id, tool = %a.tool, agent = %a.agent, "action pending approval");
    approvals::announce(gw, agent.workflow, &a);
    Ok(CallReply::Action {
        http_status: 202,
        body: json!({
            "call_id": a.call_id,
            "status": "pending_approval",
            "action_id": a.id,
            "expires_at": approvals::rfc3339(a.expires_at_ms),
        }),
    })
}
