//! What people and agents see of an action: the answer a call gets for
//! it, the agent's status view, and the approver's view of the exact frozen
//! request — always redacted, never a credential (the frozen request holds
//! none).

use std::time::{Duration, UNIX_EPOCH};

use http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::actions::{self, Action, Decision, Edit, State};
use crate::error::{ApiError, Code, ErrorDetail};
use crate::gateway::Gateway;
use crate::redact::JsonOptions;
use crate::store::now_ms;

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

/// The frozen upstream request, redacted; it never holds a credential.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RequestView {
    pub method: String,
    pub url: String,
    /// `[name, value]` pairs.
    #[schema(value_type = Vec<Vec<String>>)]
    pub headers: Vec<(String, String)>,
    /// The body as JSON when it is JSON, else as text; null when there is none.
    pub body: Value,
    /// SHA-256 of the request as sent (hex).
    pub sha256: String,
}

/// What an approver sees of an action: the frozen request exactly, redacted.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApproverView {
    pub action_id: String,
    pub status: State,
    pub workflow: String,
    pub agent: String,
    pub tool: String,
    pub call_id: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub approvals_required: u32,
    pub approvals: Vec<DecisionView>,
    pub denial: Option<DecisionView>,
    pub edits: Vec<Edit>,
    /// The call's arguments, redacted.
    #[schema(value_type = Object)]
    pub arguments: Value,
    pub args_sha256: String,
    pub request: RequestView,
}

/// What an approver sees: the frozen request exactly, redacted.
pub(crate) fn approver_view(gw: &Gateway, a: &Action) -> ApproverView {
    let r = gw.redactor.load();
    let opts = JsonOptions::default();
    let mut args = a.arguments.clone();
    r.redact_json(&mut args, &opts);
    let mut body = a.request.body_json();
    r.redact_json(&mut body, &opts);
    let headers = a
        .request
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), r.redact_str(v).0.into_owned()))
        .collect();
    ApproverView {
        action_id: a.id.clone(),
        status: a.state,
        workflow: a.workflow.clone(),
        agent: a.agent.clone(),
        tool: a.tool.clone(),
        call_id: a.call_id.clone(),
        created_at: rfc3339(a.created_at_ms),
        expires_at: (a.expires_at_ms != 0).then(|| rfc3339(a.expires_at_ms)),
        approvals_required: a.approvals_required,
        approvals: a.approvals.iter().map(DecisionView::from).collect(),
        denial: a.denial.as_ref().map(DecisionView::from),
        edits: a.edits.clone(),
        arguments: args,
        args_sha256: a.args_sha256.clone(),
        request: RequestView {
            method: a.request.method.clone(),
            url: r.redact_str(&a.request.url).0.into_owned(),
            headers,
            body,
            sha256: a.request.sha256.clone(),
        },
    }
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

/// Actions waiting in the approver's workflows.
pub(crate) async fn pending_for(
    gw: &Gateway,
    who: &Approver<'_>,
) -> Result<Vec<ApproverView>, ApiError> {
    let now = now_ms();
    let all = actions::open(gw.store.as_ref()).await?;
    Ok(all
        .iter()
        .filter(|a| who.may_see(a) && a.state == State::PendingApproval && a.expires_at_ms > now)
        .map(|a| approver_view(gw, a))
        .collect())
}

pub(crate) async fn view_for(
    gw: &Gateway,
    who: &Approver<'_>,
    id: &str,
) -> Result<ApproverView, ApiError> {
    match actions::load(gw.store.as_ref(), id).await? {
        Some(a) if who.may_see(&a) => Ok(approver_view(gw, &a)),
        _ => Err(ApiError::new(Code::NotFound, "no such action")),
    }
}
