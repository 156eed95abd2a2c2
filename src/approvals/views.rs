//! What people and agents see of an action: the answer a call gets for
//! it, the agent's status view, and the webhook's redacted summary (the
//! approver's view of every byte is in `shown`). Never a credential (the
//! frozen request holds none).

use std::time::{Duration, UNIX_EPOCH};

use http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::actions::{Action, Decision, State};
use crate::error::{ApiError, Code, ErrorDetail};
use crate::gateway::Gateway;
use crate::redact::JsonOptions;

/// A time in the store's milliseconds, as RFC 3339 with milliseconds.
pub(crate) fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// `202`: a call kept as an action, waiting for approval or being made.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Accepted {
    pub call_id: String,
    /// `pending_approval`, or `executing` (a repeat while the first call runs).
    pub status: State,
    pub action_id: String,
    /// When a pending action expires unapproved (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// The answer a call gets for its action, as `POST /v1/calls` answers.
pub(crate) fn call_answer(a: &Action) -> (StatusCode, Value) {
    let accepted = |expires_at| {
        let body = Accepted {
            call_id: a.call_id.clone(),
            status: a.state,
            action_id: a.id.clone(),
            expires_at,
        };
        (
            StatusCode::ACCEPTED,
            serde_json::to_value(body).unwrap_or(Value::Null),
        )
    };
    match a.state {
        State::PendingApproval => accepted(Some(rfc3339(a.expires_at_ms))),
        State::Executing => accepted(None),
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

/// `GET /v1/calls/{action_id}`: the action's state and, when final, its result or error.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AgentView {
    pub action_id: String,
    pub call_id: String,
    pub tool: String,
    pub status: State,
    /// RFC 3339.
    pub created_at: String,
    /// Distinct approvals so far.
    pub approvals: usize,
    pub approvals_required: u32,
    /// When a held action expires unapproved (RFC 3339); absent when it never does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The upstream's answer, once `succeeded` (redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_status: Option<u64>,
    /// Upstream headers the tool passes on.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub headers: Option<Value>,
    /// Why a final action did not succeed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<ErrorDetail>)]
    pub error: Option<Value>,
}

pub(crate) fn agent_view(a: &Action) -> AgentView {
    let mut v = AgentView {
        action_id: a.id.clone(),
        call_id: a.call_id.clone(),
        tool: a.tool.clone(),
        status: a.state,
        created_at: rfc3339(a.created_at_ms),
        approvals: a.approvals.len(),
        approvals_required: a.approvals_required,
        expires_at: (a.expires_at_ms != 0).then(|| rfc3339(a.expires_at_ms)),
        result: None,
        upstream_status: None,
        headers: None,
        error: None,
    };
    if a.state.is_final() {
        let (_, mut body) = call_answer(a);
        let mut take = |k: &str| body.get_mut(k).map(Value::take);
        v.result = take("result");
        v.upstream_status = take("upstream_status").and_then(|s| s.as_u64());
        v.headers = take("headers");
        v.error = take("error");
    }
    v
}

/// An approval or a denial: who, why, when (RFC 3339).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DecisionView {
    pub by: String,
    pub reason: String,
    pub at: String,
}

impl From<&Decision> for DecisionView {
    fn from(d: &Decision) -> DecisionView {
        DecisionView {
            by: d.by.clone(),
            reason: d.reason.clone(),
            at: rfc3339(d.at_ms),
        }
    }
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
        "call_id": r.redact_str(&a.call_id).0,
        "created_at": rfc3339(a.created_at_ms),
        "expires_at": (a.expires_at_ms != 0).then(|| rfc3339(a.expires_at_ms)),
        "approvals_required": a.approvals_required,
        "arguments": args,
        "request": {
            "method": a.request.method,
            "url": r.redact_str(&a.request.url).0,
            "headers": headers,
            "body": body,
        },
    })
}

/// An approver's decision on one action.
pub(crate) struct Approver<'a> {
    pub name: &'a str,
    pub workflows: &'a [String],
    /// How the decision arrives when not over the REST API (`console`); the
    /// records of the decision say so.
    pub via: Option<crate::identity::Via>,
}

impl Approver<'_> {
    pub(crate) fn may_see(&self, a: &Action) -> bool {
        self.workflows.contains(&a.workflow)
    }
}
