//! The approver's pages: the queue of their workflows, an action with its
//! frozen request exactly as it will be sent (the credential only named),
//! Approve and Deny through [`decide`] — the code the REST API decides
//! with, so the trail, the two-person rule and the request hash are the
//! same — and the history of decided actions. Another workflow's action
//! is a 404, as over the API.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use serde_json::Value;

use super::csrf::{self, Form};
use super::session::{self, Person};
use super::templates::Page;
use crate::actions::{self, Action, State as ActionState};
use crate::approvals::decide;
use crate::approvals::shown::{ApproverView, approver_view};
use crate::approvals::views::{Approver, DecisionView, rfc3339};
use crate::config::ApprovalWhen;
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::identity::Caller;
use crate::store::now_ms;

/// The longest reason a decision may carry, as over the API.
const MAX_REASON: usize = 2000;
/// How many decided actions the history shows.
const HISTORY: usize = 200;

/// An approver's name and workflows; `None` for an admin.
pub(super) fn approver(p: &Person) -> Option<Approver<'_>> {
    match p.caller.as_ref() {
        Caller::Approver { name, workflows } => Some(Approver {
            name,
            workflows,
            via: Some(p.via()),
        }),
        _ => None,
    }
}

/// A duration for people: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
pub(super) fn human(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

#[derive(Debug, Serialize)]
struct Row {
    id: String,
    tool: String,
    agent: String,
    workflow: String,
    age: String,
    left: String,
    approvals: usize,
    required: u32,
}

fn base_ctx(p: &Person) -> Value {
    serde_json::json!({ "who": p.name(), "role": p.role(), "csrf": p.csrf })
}

pub(super) fn page(status: StatusCode, name: &str, p: &Person, extra: Value) -> Page {
    let mut ctx = base_ctx(p);
    if let (Some(c), Value::Object(e)) = (ctx.as_object_mut(), extra) {
        c.extend(e);
    }
    Page::render(status, name, minijinja::Value::from_serialize(&ctx))
}

pub(super) async fn home(State(gw): State<Arc<Gateway>>, parts: Parts) -> Response {
    let p = match session::required(&gw, &parts).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(who) = approver(&p) else {
        return page(StatusCode::OK, "home.html", &p, Value::Null).into_response();
    };
    let now = now_ms();
    let open = match actions::open(gw.store.as_ref()).await {
        Ok(a) => a,
        Err(e) => return Page::from_error(&e.into(), Some(p.name())).into_response(),
    };
    let mut mine: Vec<&Action> = open
        .iter()
        .filter(|a| {
            who.may_see(a) && a.state == ActionState::PendingApproval && a.expires_at_ms > now
        })
        .collect();
    mine.sort_by_key(|a| a.created_at_ms);
    let rows: Vec<Row> = mine
        .iter()
        .map(|a| Row {
            id: a.id.clone(),
            tool: a.tool.clone(),
            agent: a.agent.clone(),
            workflow: a.workflow.clone(),
            age: human(now.saturating_sub(a.created_at_ms)),
            left: human(a.expires_at_ms.saturating_sub(now)),
            approvals: a.approvals.len(),
            required: a.approvals_required,
        })
        .collect();
    let workflows = who.workflows.to_vec();
    page(
        StatusCode::OK,
        "queue.html",
        &p,
        serde_json::json!({ "actions": rows, "workflows": workflows }),
    )
    .into_response()
}

/// The approver's action, or the page to answer with instead.
pub(super) async fn visible(gw: &Gateway, p: &Person, id: &str) -> Result<Action, Page> {
    let Some(who) = approver(p) else {
        return Err(Page::not_found(Some(p.name())));
    };
    match actions::load(gw.store.as_ref(), id).await {
        Ok(Some(a)) if who.may_see(&a) => Ok(a),
        Ok(_) => Err(Page::not_found(Some(p.name()))),
        Err(e) => Err(Page::from_error(&e.into(), Some(p.name()))),
    }
}

/// Which policy held an action: the tool's effective approval rule in its workflow.
fn policy(gw: &Gateway, a: &Action) -> String {
    let Some(b) = gw.binding(&a.workflow, &a.tool) else {
        return "this tool is no longer in its workflow".into();
    };
    let when = match &b.approval.when {
        ApprovalWhen::Always => "approval: always — every call of this tool waits for a person",
        ApprovalWhen::Matches(_) => {
            "approval: when_matches — these arguments matched the tool's approval schema"
        }
        ApprovalWhen::Never => "approval: never (the policy changed since this call was held)",
    };
    format!(
        "{when}; {} approval(s) from distinct approvers required, in workflow {}",
        b.approval.approvals_required, a.workflow
    )
}

pub(super) fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

pub(super) async fn action(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    parts: Parts,
) -> Response {
    let p = match session::required(&gw, &parts).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let a = match visible(&gw, &p, &id).await {
        Ok(a) => a,
        Err(page) => return page.into_response(),
    };
    let view = approver_view(&gw, &a);
    let now = now_ms();
    let approvals: Vec<DecisionView> = a.approvals.iter().map(DecisionView::from).collect();
    let pending = a.state == ActionState::PendingApproval && a.expires_at_ms > now;
    let ctx = serde_json::json!({
        "a": {
            "id": a.id,
            "tool": a.tool,
            "agent": a.agent,
            "workflow": a.workflow,
            "status": if a.state == ActionState::PendingApproval && !pending { "expired" } else { a.state.as_str() },
            "created": rfc3339(a.created_at_ms),
            "age": human(now.saturating_sub(a.created_at_ms)),
            "expires": (a.expires_at_ms != 0).then(|| rfc3339(a.expires_at_ms)),
            "left": human(a.expires_at_ms.saturating_sub(now)),
            "pending": pending,
            "own": a.agent == p.name(),
            "approved_by_you": a.approvals.iter().any(|d| d.by == p.name()),
            "required": a.approvals_required,
            "approvals": approvals,
            "denial": view.denial,
            "edits": view.edits,
            "policy": policy(&gw, &a),
            "model": a.model,
            "orchestrator_reason": a.orchestrator_reason,
        },
        "request": request_ctx(&view),
        "arguments": pretty(&view.arguments),
        "flags": view.flags,
    });
    page(StatusCode::OK, "action.html", &p, ctx).into_response()
}

/// The frozen request of an approver's view, for a page: the body
/// pretty-printed when it is JSON, else as its text.
pub(super) fn request_ctx(view: &ApproverView) -> Value {
    let body = match (&view.request.body, &view.request.body_text) {
        (Value::Null, None) => String::new(),
        (Value::Null, Some(text)) => text.clone(),
        (json, _) => pretty(json),
    };
    serde_json::json!({
        "method": view.request.method,
        "url": view.request.url,
        "headers": view.request.headers,
        "credential": view.request.credential,
        "body": body,
        "sha256": view.request.sha256,
    })
}

/// A decision's reason, as the API requires it: not blank, at most 2000 bytes.
pub(super) fn reason(form: &Form) -> Result<String, ApiError> {
    match form.get("reason").map(str::trim) {
        Some(r) if !r.is_empty() && r.len() <= MAX_REASON => Ok(r.to_owned()),
        _ => Err(ApiError::bad_request(
            "a reason is required: a short text of at most 2000 characters",
        )),
    }
}

enum Choice {
    Approve,
    Deny,
}

async fn decision(gw: &Gateway, parts: &Parts, body: &[u8], id: &str, choice: Choice) -> Response {
    let (p, form) = match csrf::posted(gw, parts, body).await {
        Ok(posted) => posted,
        Err(r) => return r,
    };
    let a = match visible(gw, &p, id).await {
        Ok(a) => a,
        Err(page) => return page.into_response(),
    };
    let Some(who) = approver(&p) else {
        return Page::not_found(Some(p.name())).into_response();
    };
    let reason = match reason(&form) {
        Ok(r) => r,
        Err(e) => return Page::from_error(&e, Some(p.name())).into_response(),
    };
    let decided = match choice {
        Choice::Approve => {
            // The approval binds to the request the approver was shown.
            if form.get("request_sha256") != Some(a.request.shown_sha256().as_str()) {
                let e = ApiError::new(
                    Code::Conflict,
                    "the request changed since this page was shown; review it again before approving",
                );
                return Page::from_error(&e, Some(p.name())).into_response();
            }
            decide::approve(gw, &who, id, reason, None).await
        }
        Choice::Deny => decide::deny(gw, &who, id, reason).await,
    };
    match decided {
        Ok(_) => Redirect::to(&format!("/ui/actions/{id}")).into_response(),
        Err(e) => Page::from_error(&e, Some(p.name())).into_response(),
    }
}

pub(super) async fn approve(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    decision(&gw, &parts, &body, &id, Choice::Approve).await
}

pub(super) async fn deny(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    decision(&gw, &parts, &body, &id, Choice::Deny).await
}

#[derive(Debug, Serialize)]
struct Decided {
    id: String,
    tool: String,
    agent: String,
    status: &'static str,
    by: String,
    reason: String,
    at: String,
    #[serde(skip)]
    at_ms: u64,
}

/// The last decision on `a`, if a person decided it.
fn decided(a: &Action) -> Option<Decided> {
    let last = a
        .denial
        .iter()
        .chain(a.approvals.iter())
        .max_by_key(|d| d.at_ms)?;
    let by = if a.denial.is_some() {
        last.by.clone()
    } else {
        let names: Vec<&str> = a.approvals.iter().map(|d| d.by.as_str()).collect();
        names.join(", ")
    };
    // Only actions that are no longer waiting, or that someone approved.
    Some(Decided {
        id: a.id.clone(),
        tool: a.tool.clone(),
        agent: a.agent.clone(),
        status: a.state.as_str(),
        by,
        reason: last.reason.clone(),
        at: rfc3339(last.at_ms),
        at_ms: last.at_ms,
    })
}

pub(super) async fn history(State(gw): State<Arc<Gateway>>, parts: Parts) -> Response {
    let p = match session::required(&gw, &parts).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(who) = approver(&p) else {
        return Page::not_found(Some(p.name())).into_response();
    };
    let kept = match actions::kept(gw.store.as_ref()).await {
        Ok(k) => k,
        Err(e) => return Page::from_error(&e.into(), Some(p.name())).into_response(),
    };
    let mut rows: Vec<Decided> = kept
        .iter()
        .filter(|a| who.may_see(a))
        .filter_map(decided)
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.at_ms));
    rows.truncate(HISTORY);
    let workflows = who.workflows.to_vec();
    page(
        StatusCode::OK,
        "history.html",
        &p,
        serde_json::json!({ "actions": rows, "workflows": workflows }),
    )
    .into_response()
}

/// Any other path under `/ui`.
pub(super) async fn nothing(State(gw): State<Arc<Gateway>>, parts: Parts) -> Response {
    let who = session::required(&gw, &parts).await.ok();
    Page::not_found(who.as_ref().map(Person::name)).into_response()
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(45_000), "45 s");
        assert_eq!(human(12 * 60_000 + 5_000), "12 min");
        assert_eq!(human(3 * 3_600_000 + 5 * 60_000), "3 h 5 min");
        assert_eq!(human(2 * 86_400_000 + 4 * 3_600_000), "2 d 4 h");
    }
}
