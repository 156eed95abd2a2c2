//! The approval queue: what approvers see and do, what agents poll, and the
//! execution of an approved action — exactly once.
//!
//! Rules held here: an approver sees and acts only on actions of workflows
//! they are listed for (others look like they do not exist); the identity
//! that requested an action never approves it; `approvals_required` counts
//! distinct approvers; an edit of the arguments is validated again, frozen
//! and hashed again, and resets earlier approvals (they approved another
//! request); an expired action is `expired`, never `denied`; only the
//! approval whose compare-and-swap moved the action to `executing` sends it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::Gateway;
use crate::actions::{
    self, Action, Decision, Edit, FrozenRequest, IdempotencyRecord, Outcome, State, Step,
};
use crate::audit::Event;
use crate::catalog::ToolBinding;
use crate::config::WorkflowDef;
use crate::error::{ApiError, Code};
use crate::pipeline::audit::Trail;
use crate::pipeline::rate_limit::store_unavailable;
use crate::pipeline::{CallOutcome, CallReply, Timing, build, validate};
use crate::redact::JsonOptions;
use crate::store::now_ms;

/// Longest a caller may long-poll in one request.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// How often waiters re-read the store (changes made by another replica).
const POLL: Duration = Duration::from_millis(250);

pub fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

fn not_found() -> ApiError {
    ApiError::new(Code::NotFound, "no such action")
}

fn conflict(a: &Action) -> ApiError {
    match a.state {
        State::Expired => ApiError::new(
            Code::ApprovalExpired,
            "this action expired before it was approved",
        ),
        s => ApiError::new(
            Code::Conflict,
            format!("this action is {}; it can no longer be decided", s.as_str()),
        ),
    }
}

/// The answer a call gets for its action, as `POST /v1/calls` answers.
pub fn call_answer(a: &Action) -> (u16, Value) {
    match a.state {
        State::PendingApproval => (
            202,
            json!({
                "call_id": a.call_id, "status": "pending_approval", "action_id": a.id,
                "expires_at": rfc3339(a.expires_at_ms),
            }),
        ),
        State::Executing => (
            202,
            json!({"call_id": a.call_id, "status": "executing", "action_id": a.id}),
        ),
        State::Succeeded | State::Failed => match &a.outcome {
            Some(o) => {
                let mut body = o.body.clone();
                if let Some(m) = body.as_object_mut() {
                    m.insert("action_id".into(), json!(a.id));
                }
                (o.http_status, body)
            }
            None => (
                500,
                ApiError::internal("finished action without outcome").body(),
            ),
        },
        State::Denied => {
            let reason = a.denial.as_ref().map(|d| d.reason.as_str()).unwrap_or("");
            let mut body = ApiError::new(
                Code::ApprovalDenied,
                format!("an approver denied this action: {reason}"),
            )
            .body();
            body["action_id"] = json!(a.id);
            (403, body)
        }
        State::Expired => {
            let mut body = ApiError::new(
                Code::ApprovalExpired,
                "nobody approved this action in time; it was not sent",
            )
            .body();
            body["action_id"] = json!(a.id);
            (410, body)
        }
        State::Unknown => {
            let mut body = ApiError::new(
                Code::Conflict,
                "toolgate stopped while sending this action; it may or may not have taken effect upstream and will not be re-sent; an operator must check",
            )
            .body();
            body["action_id"] = json!(a.id);
            body["status"] = json!("unknown");
            (409, body)
        }
    }
}

/// `GET /v1/calls/{id}`: the action's state and, when final, its result or error.
pub fn agent_view(a: &Action) -> Value {
    let mut v = json!({
        "action_id": a.id,
        "call_id": a.call_id,
        "tool": a.tool,
        "status": a.state.as_str(),
        "created_at": rfc3339(a.created_at_ms),
        "approvals": a.approvals.len(),
        "approvals_required": a.approvals_required,
    });
    if a.expires_at_ms != 0 {
        v["expires_at"] = json!(rfc3339(a.expires_at_ms));
    }
    if a.state.is_final() {
        let (_, body) = call_answer(a);
        for k in ["result", "upstream_status", "headers", "error"] {
            if let Some(x) = body.get(k) {
                v[k] = x.clone();
            }
        }
    }
    v
}

/// What an approver sees: the frozen request exactly, redacted.
pub fn approver_view(gw: &Gateway, a: &Action) -> Value {
    let r = gw.redactor.load();
    let opts = JsonOptions::default();
    let mut args = a.arguments.clone();
    r.redact_json(&mut args, &opts);
    let mut body = a.request.body_json();
    r.redact_json(&mut body, &opts);
    let headers: Vec<Value> = a
        .request
        .headers
        .iter()
        .map(|(k, v)| json!([k, r.redact_str(v).0]))
        .collect();
    json!({
        "action_id": a.id,
        "status": a.state.as_str(),
        "workflow": a.workflow,
        "agent": a.agent,
        "tool": a.tool,
        "call_id": a.call_id,
        "created_at": rfc3339(a.created_at_ms),
        "expires_at": if a.expires_at_ms != 0 { json!(rfc3339(a.expires_at_ms)) } else { Value::Null },
        "approvals_required": a.approvals_required,
        "approvals": a.approvals.iter().map(|d| json!({"by": d.by, "reason": d.reason, "at": rfc3339(d.at_ms)})).collect::<Vec<_>>(),
        "denial": a.denial.as_ref().map(|d| json!({"by": d.by, "reason": d.reason, "at": rfc3339(d.at_ms)})),
        "edits": a.edits,
        "arguments": args,
        "args_sha256": a.args_sha256,
        "request": {
            "method": a.request.method,
            "url": r.redact_str(&a.request.url).0,
            "headers": headers,
            "body": body,
            "sha256": a.request.sha256,
        },
    })
}

/// A repeated idempotency key: the first call's action, or 409 if this call differs.
pub async fn replay(
    gw: &Gateway,
    first: &IdempotencyRecord,
    this: &IdempotencyRecord,
) -> Result<CallReply, ApiError> {
    if first.tool != this.tool || first.args_sha256 != this.args_sha256 {
        return Err(ApiError::new(
            Code::Conflict,
            "this idempotency key was used for a different call; use a new key for new arguments",
        ));
    }
    match actions::load(gw.store.as_ref(), &first.action_id)
        .await
        .map_err(store_unavailable)?
    {
        Some(a) => {
            let (http_status, body) = call_answer(&a);
            Ok(CallReply::Action { http_status, body })
        }
        None => Err(ApiError::new(
            Code::Conflict,
            "an earlier call with this idempotency key was interrupted before it started; use a new key",
        )),
    }
}

/// Record how an executing action ended.
pub async fn finish(
    gw: &Gateway,
    id: &str,
    result: &Result<CallOutcome, ApiError>,
) -> Result<(), ApiError> {
    let outcome = match result {
        Ok(o) => Outcome {
            http_status: 200,
            body: o.body(),
        },
        Err(e) => Outcome {
            http_status: e.code.status().as_u16(),
            body: e.body(),
        },
    };
    let state = if result.is_ok() {
        State::Succeeded
    } else {
        State::Failed
    };
    actions::transition(gw.store.as_ref(), id, |a| {
        if a.state != State::Executing {
            return Step::Keep(());
        }
        a.state = state;
        a.lease_until_ms = 0;
        a.outcome = Some(outcome.clone());
        Step::Write(())
    })
    .await
    .map_err(store_unavailable)?;
    gw.action_events.notify_waiters();
    Ok(())
}

/// Wait until the action is final or `wait` has passed; `None` if it does not exist.
pub async fn wait_for(gw: &Gateway, id: &str, wait: Duration) -> Result<Option<Action>, ApiError> {
    let deadline = tokio::time::Instant::now() + wait.min(MAX_WAIT);
    loop {
        let notified = gw.action_events.notified();
        let a = actions::load(gw.store.as_ref(), id)
            .await
            .map_err(store_unavailable)?;
        match &a {
            Some(x) if !x.state.is_final() && tokio::time::Instant::now() < deadline => {}
            _ => return Ok(a),
        }
        let nap = POLL.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
        tokio::select! {
            _ = notified => {},
            _ = tokio::time::sleep(nap) => {},
        }
    }
}

/// An approver's decision on one action.
pub struct Approver<'a> {
    pub name: &'a str,
    pub workflows: &'a [String],
}

impl Approver<'_> {
    fn may_see(&self, a: &Action) -> bool {
        self.workflows.contains(&a.workflow)
    }
}

/// Actions waiting in the approver's workflows.
pub async fn pending_for(gw: &Gateway, who: &Approver<'_>) -> Result<Vec<Value>, ApiError> {
    let now = now_ms();
    let all = actions::open(gw.store.as_ref())
        .await
        .map_err(store_unavailable)?;
    Ok(all
        .iter()
        .filter(|a| who.may_see(a) && a.state == State::PendingApproval && a.expires_at_ms > now)
        .map(|a| approver_view(gw, a))
        .collect())
}

pub async fn view_for(gw: &Gateway, who: &Approver<'_>, id: &str) -> Result<Value, ApiError> {
    match actions::load(gw.store.as_ref(), id)
        .await
        .map_err(store_unavailable)?
    {
        Some(a) if who.may_see(&a) => Ok(approver_view(gw, &a)),
        _ => Err(not_found()),
    }
}

fn binding<'g>(gw: &'g Gateway, a: &Action) -> Option<&'g Arc<ToolBinding>> {
    gw.binding(&a.workflow, &a.tool)
}

/// Approve (optionally with edited arguments). Executes when the quorum is reached.
pub async fn approve(
    gw: &Gateway,
    who: &Approver<'_>,
    id: &str,
    reason: String,
    edited: Option<Value>,
) -> Result<Value, ApiError> {
    let current = actions::load(gw.store.as_ref(), id)
        .await
        .map_err(store_unavailable)?
        .filter(|a| who.may_see(a))
        .ok_or_else(not_found)?;
    // An edit is a new request: validated, built and frozen again.
    let edit = match edited {
        None => None,
        Some(args) => {
            let b = binding(gw, &current).ok_or_else(|| {
                ApiError::new(
                    Code::Conflict,
                    "this tool is no longer available in its workflow",
                )
            })?;
            validate::arguments(b, &args)?;
            let req = build::request(b, &args)?;
            Some((
                actions::sha256_json(&args),
                args,
                FrozenRequest::freeze(&req),
            ))
        }
    };
    let now = now_ms();
    let decided = actions::transition(gw.store.as_ref(), id, |a| {
        if a.state != State::PendingApproval {
            return Step::Keep(Err(conflict(a)));
        }
        if a.expires_at_ms <= now {
            a.state = State::Expired;
            return Step::Write(Err(conflict(a)));
        }
        if a.agent == who.name {
            return Step::Keep(Err(ApiError::forbidden(
                "the identity that requested an action cannot approve it",
            )));
        }
        if let Some((args_sha, args, frozen)) = &edit {
            a.edits.push(Edit {
                by: who.name.to_owned(),
                reason: reason.clone(),
                at_ms: now,
                previous_args_sha256: a.args_sha256.clone(),
                previous_request_sha256: a.request.sha256.clone(),
                args_sha256: args_sha.clone(),
                request_sha256: frozen.sha256.clone(),
            });
            a.arguments = args.clone();
            a.args_sha256 = args_sha.clone();
            a.request = frozen.clone();
            // Earlier approvals were for another request.
            a.approvals.clear();
        } else if a.approvals.iter().any(|d| d.by == who.name) {
            return Step::Keep(Err(ApiError::new(
                Code::Conflict,
                "you have already approved this action",
            )));
        }
        a.approvals.push(Decision {
            by: who.name.to_owned(),
            reason: reason.clone(),
            at_ms: now,
        });
        if a.approvals.len() >= a.approvals_required as usize {
            a.state = State::Executing;
            let timeout = binding(gw, a)
                .map(|b| b.tool.upstream.timeout)
                .unwrap_or_default();
            a.lease_until_ms = actions::lease_for(timeout);
            Step::Write(Ok(true))
        } else {
            Step::Write(Ok(false))
        }
    })
    .await
    .map_err(store_unavailable)?;
    let Some((action, decision)) = decided else {
        return Err(not_found());
    };
    gw.action_events.notify_waiters();
    if decision.is_ok() {
        let edit = action
            .edits
            .last()
            .filter(|e| e.by == who.name && e.at_ms == now)
            .cloned();
        Trail::for_action(gw, &action)
            .record(Event::Approved, |e| {
                e.approver = Some(who.name.to_owned());
                e.reason = Some(reason.clone());
                e.decision = Some(format!(
                    "approved {}/{}",
                    action.approvals.len(),
                    action.approvals_required
                ));
                if let Some(ed) = edit {
                    e.previous_args_sha256 = Some(ed.previous_args_sha256);
                    e.previous_request_sha256 = Some(ed.previous_request_sha256);
                }
            })
            .await?;
    } else if action.state == State::Expired {
        settled(gw, &action).await;
    }
    tracing::info!(action_id = %action.id, approver = %who.name, state = action.state.as_str(), "approval recorded");
    if decision? {
        let done = run(gw, action).await?;
        return Ok(approver_view(gw, &done));
    }
    Ok(approver_view(gw, &action))
}

/// Send an action this process moved to `executing`, and record its end.
async fn run(gw: &Gateway, a: Action) -> Result<Action, ApiError> {
    let result = match (binding(gw, &a), a.request.thaw()) {
        (Some(b), Some(req)) => {
            let mut timing = Timing::default();
            let mut trail = Trail::for_action(gw, &a);
            crate::pipeline::execute(gw, b, &a.call_id, req, &mut timing, &mut trail).await
        }
        (None, _) => Err(ApiError::new(
            Code::Conflict,
            "this tool is no longer available in its workflow; nothing was sent",
        )),
        (_, None) => Err(ApiError::internal(
            "the frozen request does not match its hash; nothing was sent",
        )),
    };
    finish(gw, &a.id, &result).await?;
    actions::load(gw.store.as_ref(), &a.id)
        .await
        .map_err(store_unavailable)?
        .ok_or_else(not_found)
}

pub async fn deny(
    gw: &Gateway,
    who: &Approver<'_>,
    id: &str,
    reason: String,
) -> Result<Value, ApiError> {
    let now = now_ms();
    let decided = actions::transition(gw.store.as_ref(), id, |a| {
        if !who.may_see(a) {
            return Step::Keep(Err(not_found()));
        }
        if a.state != State::PendingApproval {
            return Step::Keep(Err(conflict(a)));
        }
        if a.expires_at_ms <= now {
            a.state = State::Expired;
            return Step::Write(Err(conflict(a)));
        }
        a.state = State::Denied;
        a.denial = Some(Decision {
            by: who.name.to_owned(),
            reason: reason.clone(),
            at_ms: now,
        });
        Step::Write(Ok(()))
    })
    .await
    .map_err(store_unavailable)?;
    let Some((action, r)) = decided else {
        return Err(not_found());
    };
    gw.action_events.notify_waiters();
    if r.is_err() && action.state == State::Expired {
        settled(gw, &action).await;
    }
    r?;
    Trail::for_action(gw, &action)
        .record(Event::Denied, |e| {
            e.approver = Some(who.name.to_owned());
            e.reason = Some(reason.clone());
            e.decision = Some("denied".into());
        })
        .await?;
    tracing::info!(action_id = %action.id, approver = %who.name, "action denied");
    Ok(approver_view(gw, &action))
}

/// At start: with a store only this process uses, an action still `executing`
/// was abandoned by a process that died — it becomes `unknown` now, never re-sent.
pub async fn recover(gw: &Gateway) -> Result<usize, crate::store::StoreError> {
    if gw.store.is_shared() {
        return Ok(0);
    }
    let mut n = 0;
    for a in actions::open(gw.store.as_ref()).await? {
        if a.state != State::Executing {
            continue;
        }
        let r = actions::transition(gw.store.as_ref(), &a.id, |a| {
            if a.state == State::Executing {
                a.state = State::Unknown;
                Step::Write(true)
            } else {
                Step::Keep(false)
            }
        })
        .await?;
        if let Some((a, true)) = r {
            tracing::warn!(action_id = %a.id, tool = %a.tool, "action was executing when toolgate stopped: marked unknown, not re-sent");
            settled(gw, &a).await;
            n += 1;
        }
    }
    Ok(n)
}

/// Record that time settled an action (`expired`, or `unknown` after a crash).
async fn settled(gw: &Gateway, a: &Action) {
    let event = if a.state == State::Expired {
        Event::Expired
    } else {
        Event::Unknown
    };
    let r = Trail::for_action(gw, a)
        .record(event, |e| e.decision = Some(a.state.as_str().to_owned()))
        .await;
    if let Err(e) = r {
        tracing::error!(action_id = %a.id, error = %e, "cannot audit a settled action");
    }
}

/// Runs for the life of the server, each second: expires pending actions,
/// gives up on abandoned ones. (Kill switches are refreshed by
/// [`crate::events::keep_fresh`], apart, so a slow sweep never delays them.)
pub async fn sweeper(gw: Arc<Gateway>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        match actions::sweep(gw.store.as_ref()).await {
            Ok(changed) => {
                for a in &changed {
                    tracing::info!(action_id = %a.id, state = a.state.as_str(), "action settled by time");
                    settled(&gw, a).await;
                }
                if !changed.is_empty() {
                    gw.action_events.notify_waiters();
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot sweep actions"),
        }
    }
}

/// Tell the workflow's webhook that an action is waiting (signed; no secret in it).
pub fn announce(gw: &Gateway, workflow: &WorkflowDef, a: &Action) {
    let Some(notify) = &workflow.notify else {
        return;
    };
    let secret = match gw
        .credentials
        .read_extra(&format!("notify:{}", workflow.name), &notify.secret)
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(workflow = %workflow.name, error = %e, "cannot sign the approval webhook; not sent");
            return;
        }
    };
    let mut view = approver_view(gw, a);
    view["event"] = json!("action.pending");
    let body = serde_json::to_vec(&view).unwrap_or_default();
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let signature = sign(&secret, ts, &body);
    let client = gw.egress.client(true).clone();
    let url = notify.webhook.clone();
    let action_id = a.id.clone();
    tokio::spawn(async move {
        let r = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-toolgate-signature", signature)
            .timeout(Duration::from_secs(5))
            .body(body)
            .send()
            .await;
        match r {
            Ok(resp) if resp.status().is_success() => {}
            Ok(resp) => {
                tracing::warn!(%action_id, status = resp.status().as_u16(), "approval webhook refused")
            }
            Err(e) => {
                tracing::warn!(%action_id, error = %e.without_url(), "approval webhook failed")
            }
        }
    });
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`.
pub fn sign(secret: &secrecy::SecretString, ts: u64, body: &[u8]) -> String {
    use secrecy::ExposeSecret;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes any key");
    mac.update(ts.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={ts},v1={}", hex::encode(mac.finalize().into_bytes()))
}
