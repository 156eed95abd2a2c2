//! The agents page (admins only): each agent, its state (active, revoked,
//! quarantined after a canary sighting), its workflow and the tools it may
//! call there. **Revoke** and, for a quarantined agent, **Release** each
//! need a reason and go through [`operator`], the code of
//! `POST /v1/admin/agents/{name}/revoke|release`: the same switches, the
//! same denial of its pending actions, the same trail records (with
//! `admin_via: "console"`). A revoked key stays revoked: it is let back
//! only by a new key in the config.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use super::admin::{admin, posted_with_reason, signed_in_admin};
use super::pages::page;
use super::templates::Page;
use crate::gateway::Gateway;
use crate::operator;

pub(super) async fn agents(State(gw): State<Arc<Gateway>>, parts: Parts) -> Response {
    let p = match signed_in_admin(&gw, &parts).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let rows: Vec<_> = gw
        .config
        .agents
        .values()
        .map(|a| {
            let revoked = operator::agent_revoked(&gw, &a.name);
            let quarantined = gw.agent_quarantined(&a.name);
            let state = match (revoked, quarantined) {
                (true, _) => "revoked",
                (false, true) => "quarantined",
                (false, false) => "active",
            };
            let tools: Vec<&String> = gw
                .catalog
                .tools(&a.workflow)
                .map(|t| t.keys().collect())
                .unwrap_or_default();
            json!({
                "name": a.name,
                "workflow": a.workflow,
                "tools": tools,
                "state": state,
                "revoked": revoked,
                "quarantined": quarantined,
                "known_by": if a.key_sha256.is_some() { "key" } else { "client certificate" },
            })
        })
        .collect();
    page(StatusCode::OK, "agents.html", &p, json!({ "agents": rows })).into_response()
}

enum Step {
    Revoke,
    Release,
}

async fn step(gw: &Gateway, parts: &Parts, body: &[u8], name: &str, step: Step) -> Response {
    let (p, reason) = match posted_with_reason(gw, parts, body).await {
        Ok(posted) => posted,
        Err(r) => return r,
    };
    let Some(who) = admin(&p) else {
        return Page::not_found(Some(p.name())).into_response();
    };
    let done = match step {
        Step::Revoke => operator::revoke_agent(gw, &who, name, &reason)
            .await
            .map(drop),
        Step::Release => operator::release_agent(gw, &who, name, &reason).await,
    };
    match done {
        Ok(()) => Redirect::to("/ui/agents").into_response(),
        Err(e) => Page::from_error(&e, Some(p.name())).into_response(),
    }
}

pub(super) async fn revoke(
    State(gw): State<Arc<Gateway>>,
    Path(name): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    step(&gw, &parts, &body, &name, Step::Revoke).await
}

pub(super) async fn release(
    State(gw): State<Arc<Gateway>>,
    Path(name): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    step(&gw, &parts, &body, &name, Step::Release).await
}
