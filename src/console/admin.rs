//! The operator's pages (admins only; anyone else gets a 404). Credentials:
//! each with its kill switch's state; Disable, Enable and Reload, each with
//! a reason, through [`operator`]. Dead letters: the letters kept for calls
//! that failed on their credential, each with the request as built (no
//! credential); Retry (once, with the credential current now) and Discard.
//! Both go through the code the admin API uses, and their records say the
//! console.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::csrf;
use super::pages::{page, pretty};
use super::session::{self, Person};
use super::templates::Page;
use crate::dead_letters::record;
use crate::dead_letters::retry;
use crate::gateway::Gateway;
use crate::identity::{Acting, Caller};
use crate::operator;

/// The admin acting through the console; `None` for anyone else.
pub(super) fn admin(p: &Person) -> Option<Acting<'_>> {
    match p.caller.as_ref() {
        Caller::Admin { name } => Some(Acting {
            name,
            via: Some(p.via()),
        }),
        _ => None,
    }
}

/// The signed-in admin, or the page to answer with instead: sign-in, or,
/// for anyone else, the console's 404.
pub(super) async fn signed_in_admin(gw: &Gateway, parts: &Parts) -> Result<Person, Response> {
    let p = session::required(gw, parts).await?;
    if admin(&p).is_none() {
        return Err(Page::not_found(Some(p.name())).into_response());
    }
    Ok(p)
}

/// A signed-in admin's checked POST: the admin, the reason the form gives
/// (required) — or the page that refuses it.
pub(super) async fn posted_with_reason(
    gw: &Gateway,
    parts: &Parts,
    body: &[u8],
) -> Result<(Person, String), Response> {
    let (p, form) = csrf::posted(gw, parts, body).await?;
    if admin(&p).is_none() {
        return Err(Page::not_found(Some(p.name())).into_response());
    }
    match super::pages::reason(&form) {
        Ok(r) => Ok((p, r)),
        Err(e) => Err(Page::from_error(&e, Some(p.name())).into_response()),
    }
}

pub(super) async fn dead_letters(State(gw): State<Arc<Gateway>>, parts: Parts) -> Response {
    let p = match signed_in_admin(&gw, &parts).await {
        Ok(p) => p,
        Err(r) => return r,
    };
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
    let (p, _) = match csrf::posted(gw, parts, body).await {
        Ok(posted) => posted,
        Err(r) => return r,
    };
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

pub(super) async fn credentials(State(gw): State<Arc<Gateway>>, parts: Parts) -> Response {
    let p = match signed_in_admin(&gw, &parts).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let rows = super::credentials::rows(&gw).await;
    page(StatusCode::OK, "credentials.html", &p, rows).into_response()
}

/// What an admin does to a credential.
#[derive(Debug, Clone, Copy)]
pub(super) enum Switch {
    Disable,
    Enable,
    Reload,
}

async fn switch(gw: &Gateway, parts: &Parts, body: &[u8], name: &str, what: Switch) -> Response {
    let (p, reason) = match posted_with_reason(gw, parts, body).await {
        Ok(posted) => posted,
        Err(r) => return r,
    };
    let Some(who) = admin(&p) else {
        return Page::not_found(Some(p.name())).into_response();
    };
    let done = match what {
        Switch::Disable => operator::switch_credential(gw, &who, name, &reason, true).await,
        Switch::Enable => operator::switch_credential(gw, &who, name, &reason, false).await,
        Switch::Reload => operator::reload_credential(gw, &who, name, &reason)
            .await
            .map(drop),
    };
    match done {
        Ok(()) => Redirect::to("/ui/credentials").into_response(),
        Err(e) => Page::from_error(&e, Some(p.name())).into_response(),
    }
}

pub(super) async fn disable(
    State(gw): State<Arc<Gateway>>,
    Path(name): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    switch(&gw, &parts, &body, &name, Switch::Disable).await
}

pub(super) async fn enable(
    State(gw): State<Arc<Gateway>>,
    Path(name): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    switch(&gw, &parts, &body, &name, Switch::Enable).await
}

pub(super) async fn reload(
    State(gw): State<Arc<Gateway>>,
    Path(name): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    switch(&gw, &parts, &body, &name, Switch::Reload).await
}
