//! Stage 7 — approve: when the tool's policy matches these arguments, the
//! built request (without its credential) is frozen into a pending action and
//! the caller gets `202 pending_approval`. Nothing is sent upstream until
//! enough distinct approvers approve (`approvals`), and then exactly the
//! frozen bytes are sent (`pipeline::replay`).
//!
//! It sits after build because the request to approve must exist to be
//! frozen, and after the rate limit so a held call spends budget like any
//! other. The `pending` record is written before the action exists, so no
//! approver can see an action the trail does not hold.

use http::StatusCode;
use serde_json::json;

use super::audit::Trail;
use super::authenticate::Agent;
use super::call::{Call, CallReply, CallRequest};
use crate::actions::{self, Action, State};
use crate::approvals::notify;
use crate::approvals::views::rfc3339;
use crate::audit::Event;
use crate::catalog::ToolBinding;
use crate::digest::DigestKey;
use crate::error::ApiError;
use crate::request::{FrozenRequest, UpstreamRequest};
use crate::store::now_ms;

/// A new action for this call, its request frozen; it keeps the front
/// door the trail names.
pub(crate) fn action(
    id: String,
    trail: &Trail<'_>,
    agent: &Agent<'_>,
    binding: &ToolBinding,
    req: &CallRequest,
    upstream_req: &UpstreamRequest,
    key: &DigestKey,
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
        args_sha256: key.json(&req.arguments),
        request: FrozenRequest::freeze(upstream_req, key),
        approvals_required: binding.approval.approvals_required,
        approvals: Vec::new(),
        denial: None,
        edits: Vec::new(),
        outcome: None,
        idempotency_key: req.idempotency_key.clone(),
        subject: agent.subject.clone(),
        dispatched: false,
        via: trail.entry().via.clone(),
        mcp_session_sha256: trail.entry().mcp_session_sha256.clone(),
        model: trail.entry().model.clone(),
        orchestrator_reason: trail.entry().orchestrator_reason.clone(),
    }
}

/// Freeze the request and wait for a person.
pub(crate) async fn hold(
    call: &mut Call<'_>,
    upstream_req: UpstreamRequest,
) -> Result<CallReply, ApiError> {
    let gw = call.gateway;
    let (Some(agent), Some(binding)) = (&call.caller, &call.binding) else {
        return Err(ApiError::internal("a call held before it was resolved"));
    };
    let id = match &call.claim {
        Some(claim) => claim.action_id.clone(),
        None => actions::new_id(),
    };
    call.trail.action(&id);
    let key = gw.digest_key().await?;
    let mut a = action(
        id,
        &call.trail,
        agent,
        binding,
        &call.request,
        &upstream_req,
        key,
    );
    a.expires_at_ms = a.created_at_ms
        + u64::try_from(binding.approval.expires_in.as_millis()).unwrap_or(u64::MAX);
    call.trail.request(&a.request.sha256);
    call.trail
        .record(Event::Pending, |e| {
            e.decision = Some("pending_approval".into())
        })
        .await?;
    actions::create(gw.store.as_ref(), &a).await?;
    if let Some(claim) = &mut call.claim {
        claim.kept = true;
    }
    tracing::info!(action_id = %a.id, tool = %a.tool, agent = %a.agent, "action pending approval");
    notify::announce(gw, agent.workflow, &a);
    Ok(CallReply::Action {
        status: StatusCode::ACCEPTED,
        body: json!({
            "call_id": a.call_id,
            "status": "pending_approval",
            "action_id": a.id,
            "expires_at": rfc3339(a.expires_at_ms),
        }),
    })
}
