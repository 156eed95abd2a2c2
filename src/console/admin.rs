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
use crate::revocations;

fn admin(p: &Person) -> Option<Acting<'_>> {
    match p.caller.as_ref() {
        Caller::Admin { name } => Some(Acting {
            name,
            via: Some(p.via()),
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
    let p = match session::required(&gw, &parts).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if admin(&p).is_none() {
        return Page::not_found(Some(p.name())).into_response();
    }
    let rows: Vec<_> = gw
        .config
        .credentials
        .keys()
        .filter(|name| gw.credentials.exists(name))
        .map(|name| {
            let disabled = gw.revocations.is_active(&revocations::credential_key(name));
            json!({ "name": name, "disabled": disabled })
        })
        .collect();
    page(
        StatusCode::OK,
        "credentials.html",
        &p,
        json!({ "credentials": rows }),
    )
    .into_response()
}

/// What an admin does to a credential.
#[derive(Debug, Clone, Copy)]
pub(super) enum Switch {
    Disable,
    Enable,
    Reload,
}

async fn switch(gw: &Gateway, parts: &Parts, body: &[u8], name: &str, what: Switch) -> Response {
    let (p, form) = match csrf::posted(gw, parts, body).await {
        Ok(posted) => posted,
        Err(r) => return r,
    };
    let Some(who) = admin(&p) else {
        return Page::not_found(Some(p.name())).into_response();
    };
    let reason = match super::pages::reason(&form) {
        Ok(r) => r,
        Err(e) => return Page::from_error(&e, Some(p.name())).into_response(),
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
