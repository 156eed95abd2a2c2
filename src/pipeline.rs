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
pub mod audit;
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
use crate::audit::Event;
use crate::catalog::ToolBinding;
use crate::error::{ApiError, Code};
use audit::Trail;
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
    /// The audit record of the outcome.
    pub audit_id: String,
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
    audit_id: &'a str,
}

impl CallOutcome {
    fn answer(&self) -> SucceededBody<'_> {
        SucceededBody {
            call_id: &self.call_id,
            status: "succeeded",
            result: &self.result,
            upstream_status: self.upstream_status,
            headers: &self.headers,
            audit_id: &self.audit_id,
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
    let mut trail = Trail::new(gw);
    trail.call(&req.call_id, req.model.as_deref(), req.reason.as_deref());
    match stages(gw, headers, req, timing, &mut trail).await {
        Ok(reply) => Ok(reply),
        Err(e) if e.code == Code::AuditUnavailable => Err(e),
        Err(e) => {
            // Failures after `executing` were recorded by `execute`.
            if !trail.executing_written
                && let Err(unrecorded) = trail.refused(&e).await
                && e.code != Code::StoreUnavailable
            {
                // The refusal itself could not be recorded. (When the shared
                // store is down the trail usually is too; the cause is kept.)
                return Err(unrecorded);
            }
            Err(e)
        }
    }
}

async fn stages(
    gw: &Gateway,
    headers: &HeaderMap,
    req: CallRequest,
    timing: &mut Timing,
    trail: &mut Trail<'_>,
) -> Result<CallReply, ApiError> {
    let agent = authenticate::agent(gw, headers).await?;
    trail.agent(&agent.name, &agent.workflow.name);
    trail.subject = agent.subject.clone();
    trail.tool(&req.tool);
    let binding = resolve::tool(&agent, &req.tool)?;
    let args_sha256 = actions::sha256_json(&req.arguments);
    trail.arguments(&binding, &req.arguments, &args_sha256);
    validate::arguments(&binding, &req.arguments)?;
    if let Some(key) = &req.idempotency_key {
        let record = IdempotencyRecord {
            tool: binding.tool.name.clone(),
            args_sha256: args_sha256.clone(),
            action_id: actions::new_id(),
        };
        if let Some(first) =
            actions::claim_idempotency(gw.store.as_ref(), &agent.name, key, &record)
                .await
                .map_err(store_unavailable)?
        {
            return approvals::replay(gw, &first, &record).await;
        }
        trail.action(&record.action_id);
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
                record.action_id,
                upstream_req,
                trail,
            )
            .await;
        }
        // Kept as an action, so a retry finds its result.
        let action =
            approve::executing_action(&agent, &binding, &req, record.action_id, &upstream_req);
        actions::create(gw.store.as_ref(), &action)
            .await
            .map_err(store_unavailable)?;
        let result = execute(gw, &binding, &req.call_id, upstream_req, timing, trail).await;
        approvals::finish(gw, &action.id, &result).await?;
        return result.map(CallReply::Done);
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
        let id = actions::new_id();
        trail.action(&id);
        return approve::hold(gw, &agent, &binding, &req, id, upstream_req, trail).await;
    }
    Ok(CallReply::Done(
        execute(gw, &binding, &req.call_id, upstream_req, timing, trail).await?,
    ))
}

/// A call that failed on its credential is kept for repair (frozen, without
/// the credential); other failures are not.
async fn keep_dead_letter(
    gw: &Gateway,
    trail: &Trail<'_>,
    binding: &ToolBinding,
    e: &ApiError,
    frozen: &Option<crate::actions::FrozenRequest>,
) {
    let recoverable = matches!(
        e.code,
        Code::CredentialRejected | Code::CredentialUnavailable
    );
    let Some(request) = frozen.clone().filter(|_| recoverable) else {
        return;
    };
    let wf = trail.entry().workflow.clone().unwrap_or_default();
    crate::dead_letters::keep(
        gw,
        trail.entry(),
        trail.subject.clone(),
        &wf,
        &binding.tool.name,
        e.code,
        request,
    )
    .await;
}

/// Stages 7–11 for a built request: attach the credential, record
/// `executing` durably, forward (egress checked at connect), shape, record
/// the outcome. Shared by direct calls and approved actions.
pub async fn execute(
    gw: &Gateway,
    binding: &ToolBinding,
    call_id: &str,
    mut upstream_req: build::UpstreamRequest,
    timing: &mut Timing,
    trail: &mut Trail<'_>,
) -> Result<CallOutcome, ApiError> {
    // Kept, without its credential, in case the credential fails it.
    let frozen = trail
        .keep_dead_letters
        .then(|| crate::actions::FrozenRequest::freeze(&upstream_req));
    if let Err(e) = credential::attach(gw, binding, &mut upstream_req, trail).await {
        keep_dead_letter(gw, trail, binding, &e, &frozen).await;
        return Err(e);
    }
    trail.record(Event::Executing, |_| {}).await?;
    trail.executing_written = true;
    let started = std::time::Instant::now();
    let sent = async {
        let response = forward::send(&gw.egress, &binding.tool, upstream_req).await?;
        timing.upstream = Some(response.elapsed);
        let shaped = shape::response(&gw.redactor.load(), &binding.tool, &response)?;
        Ok::<_, ApiError>((response.status.as_u16(), shaped))
    }
    .await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    match sent {
        Ok((status, shaped)) => {
            let receipt = trail
                .record(Event::Executed, |e| {
                    e.decision = Some("executed".into());
                    e.upstream_status = Some(status);
                    e.latency_ms = Some((latency_ms * 1000.0).round() / 1000.0);
                    e.redactions = Some(shaped.redactions);
                })
                .await?;
            tracing::info!(
                tool = %binding.tool.name,
                call_id = %call_id,
                upstream_status = status,
                redactions = shaped.redactions,
                "call executed"
            );
            Ok(CallOutcome {
                call_id: call_id.to_owned(),
                result: shaped.result,
                upstream_status: status,
                headers: shaped.headers,
                redactions: shaped.redactions,
                audit_id: receipt.id(),
            })
        }
        Err(e) => {
            keep_dead_letter(gw, trail, binding, &e, &frozen).await;
            trail
                .record(Event::Failed, |en| {
                    en.decision = Some("failed".into());
                    en.code = Some(e.code.as_str().to_owned());
                    en.latency_ms = Some((latency_ms * 1000.0).round() / 1000.0);
                    en.upstream_status = e
                        .details
                        .first()
                        .and_then(|d| d.get("upstream_status"))
                        .and_then(Value::as_u64)
                        .map(|s| s as u16);
                })
                .await?;
            Err(e)
        }
    }
}
