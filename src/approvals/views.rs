//! What people and agents see of an action: the answer a call gets for
//! it, the agent's status view, and the webhook's redacted summary (the
//! approver's view of every byte is in `shown`). Never a credential (the
//! frozen request holds none).

use std::time::{Duration, UNIX_EPOCH};

use http::StatusCode;
use serde_json::{Value, json};

use crate::actions::{Action, State};
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::redact::JsonOptions;

/// A time in the store's milliseconds, as RFC 3339 with milliseconds.
pub(crate) fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// The answer a call gets for its action, as `POST /v1/calls` answers.
pub(crate) fn call_answer(a: &Action) -> (StatusCode, Value) {
    match a.state {
        State::PendingApproval => (
            StatusCode::ACCEPTED,
            json!({
                "call_id": a.call_id, "status": "pending_approval", "action_id": a.id,
                "expires_at": rfc3339(a.expires_at_ms),
            }),
        ),
        State::Executing => (
            StatusCode::ACCEPTED,
            json!({"call_id": a.call_id, "status": "executing", "action_id": a.id}),
        ),
        State::Succeeded | State::Failed => match &a.outcome {
            Some(o) => {
                let mut body = o.body.clone();
                if let Some(m) = body.as_object_mut() {
                    m.insert("action_id".into(), json!(a.id));
                }
                let status = StatusCode::from_u16(o.http_status)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                (status, body)
            }
            None => {
                let e = ApiError::internal("finished action without outcome");
                (e.code.status(), e.body())
            }
        },
        State::Denied => {
            let reason = a.denial.as_ref().map(|d| d.reason.as_str()).unwrap_or("");
            let e = ApiError::new(
                Code::ApprovalDenied,
                format!("an approver denied this action: {reason}"),
            );
            let mut body = e.body();
            body["action_id"] = json!(a.id);
            (e.code.status(), body)
        }
        State::Expired => {
            let e = ApiError::new(
                Code::ApprovalExpired,
                "nobody approved this action in time; it was not sent",
            );
            let mut body = e.body();
            body["action_id"] = json!(a.id);
            (e.code.status(), body)
        }
        State::Unknown => {
            let e = ApiError::new(
                Code::Conflict,
                "toolgate stopped while sending this action; it may or may not have taken effect upstream and will not be re-sent; an operator must check",
            );
            let mut body = e.body();
            body["action_id"] = json!(a.id);
            body["status"] = json!("unknown");
            (e.code.status(), body)
        }
    }
}

/// `GET /v1/calls/{id}`: the action's state and, when final, its result or error.
pub(crate) fn agent_view(a: &Action) -> Value {
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

/// A summary for the workflow's webhook: everything redacted (token
/// shapes, sensitive keys, loaded secrets), and no hash of the request a
/// receiver could test guesses against; the approver reads the full
/// request in the queue ([`super::shown::approver_view`]).
pub(crate) fn notice_view(gw: &Gateway, a: &Action) -> Value {
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
            "digest": a.request.sha256,
        },
    })
}

/// An approver's decision on one action.
pub(crate) struct Approver<'a> {
    pub name: &'a str,
    pub workflows: &'a [String],
}

impl Approver<'_> {
    pub(crate) fn may_see(&self, a: &Action) -> bool {
        self.workflows.contains(&a.workflow)
    }
}
