//! The operator's dead-letter page (admins only; anyone else gets a 404):
//! the letters kept for calls that failed on their credential, each with
//! the request as built (no credential) and redacted arguments; Retry (once,
//! with the credential current now) and Discard go through the code the
//! admin API uses, and their records say the console.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::csrf::{self, Form};
use super::pages::{page, pretty};
use super::session::{self, Person};
use super::templates::Page;
use crate::dead_letters::record::{self, Admin};
use crate::dead_letters::retry;
use crate::gateway::Gateway;
use crate::identity::Caller;

fn admin(p: &Person) -> Option<Admin<'_>> {
    match p.caller.as_ref() {
        Caller::Admin { name } => Some(Admin {
            name,
            via: Some("console"),
        }),
        _ => None,
    }
}

pub(super) async fn dead_letters(State(gw): State<Arc<Gateway>>, parts: Parts) -> Response {
    let p = match session::required(&gw, &parts).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if admin(&p).is_none() {
        return Page::not_found(Some(p.name())).into_response();
    }
    let mut letters = match record::list(&gw).await {
        Ok(l) => l,
        Err(e) => return Page::from_error(&e, Some(p.name())).into_response(),
    };
    letters.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    let rows: Vec<_> = letters
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "state": d.state,
                "agent": d.agent,
                "workflow": d.workflow,
                "tool": d.tool,
                "code": d.code,
                "created_at": d.created_at,
                "purge_at": d.purge_at,
                "retried_by": d.retried_by,
                "method": d.request.method,
                "url": d.request.url,
                "body": if d.request.body.is_null() { String::new() } else { pretty(&d.request.body) },
                "arguments": d.arguments.as_ref().map(pretty),
                "outcome": d.outcome.as_ref().map(pretty),
                "open": matches!(d.state, record::LetterState::Pending),
            })
        })
        .collect();
    page(
        StatusCode::OK,
        "dead_letters.html",
        &p,
        json!({ "letters": rows }),
    )
    .into_response()
}

enum Step {
    Retry,
    Discard,
}

async fn step(gw: &Gateway, parts: &Parts, body: &[u8], id: &str, step: Step) -> Response {
    let p = match session::required(gw, parts).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let form = Form::parse(body);
    if let Err(page) = csrf::check(gw, &parts.headers, &p, &form) {
        return page.into_response();
    }
    let Some(who) = admin(&p) else {
        return Page::not_found(Some(p.name())).into_response();
    };
    let done = match step {
        Step::Retry => retry::retry(gw, &who, id).await.map(drop),
        Step::Discard => retry::discard(gw, &who, id).await.map(drop),
    };
    match done {
        Ok(()) => Redirect::to("/ui/dead-letters").into_response(),
        Err(e) => Page::from_error(&e, Some(p.name())).into_response(),
    }
}

pub(super) async fn retry_letter(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    step(&gw, &parts, &body, &id, Step::Retry).await
}

pub(super) async fn discard_letter(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    step(&gw, &parts, &body, &id, Step::Discard).await
}
