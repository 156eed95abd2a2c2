//! Admin kill switches and rotation: `/v1/admin/…`. Admin keys only.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde_json::{Value, json};

use super::gate::WholeBody;
use crate::audit::{Entry, Event};
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::identity::Caller;
use crate::pipeline::authenticate::Presented;
use crate::revocations::{self, switch};

fn admin(who: &Presented) -> Result<String, ApiError> {
    match who.caller() {
        Caller::Admin { name } => Ok(name.clone()),
        _ => Err(ApiError::forbidden("only admin keys may use /v1/admin")),
    }
}

/// An optional `{reason}` body.
fn reason(WholeBody(body): WholeBody) -> Result<String, ApiError> {
    if body.is_empty() {
        return Ok(String::new());
    }
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON ({e})")))?;
    match v.get("reason") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) if s.len() <= 2000 => Ok(s.clone()),
        Some(_) => Err(ApiError::bad_request(
            "reason must be a string of at most 2000 characters",
        )),
    }
}

/// Audit an admin action; if it cannot be recorded the action is not reported as done.
async fn record(
    gw: &Gateway,
    event: Event,
    admin: &str,
    target: &str,
    reason: &str,
) -> Result<(), ApiError> {
    let mut entry = Entry::new(event);
    entry.environment = Some(gw.config.environment.clone());
    entry.admin = Some(admin.to_owned());
    entry.target = Some(target.to_owned());
    if !reason.is_empty() {
        entry.reason = Some(gw.redactor.load().redact_str(reason).0.into_owned());
    }
    gw.audit
        .append(entry)
        .await
        .map(|_| ())
        .map_err(ApiError::from)
}

fn unknown_credential() -> ApiError {
    ApiError::new(Code::NotFound, "no credential by that name")
}

pub(super) async fn disable_credential(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(name): Path<String>,
    body: WholeBody,
) -> Result<Json<Value>, ApiError> {
    switch_credential(&gw, &who, name, body, true).await
}

pub(super) async fn enable_credential(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(name): Path<String>,
    body: WholeBody,
) -> Result<Json<Value>, ApiError> {
    switch_credential(&gw, &who, name, body, false).await
}

/// The credential kill switch: on (disabled) or off, here, in the store, in the trail.
async fn switch_credential(
    gw: &Gateway,
    who: &Presented,
    name: String,
    body: WholeBody,
    disable: bool,
) -> Result<Json<Value>, ApiError> {
    let who = admin(who)?;
    let why = reason(body)?;
    if !gw.credentials.exists(&name) {
        return Err(unknown_credential());
    }
    let key = revocations::credential_key(&name);
    let stored = if disable {
        gw.revocations
            .set(gw.store.as_ref(), &key, &switch(&who, &why))
            .await
    } else {
        gw.revocations.clear(gw.store.as_ref(), &key).await
    };
    stored.map_err(ApiError::from)?;
    crate::events::publish(gw, &crate::bus::Signal::Switches).await;
    let (event, status) = if disable {
        (Event::AdminDisable, "disabled")
    } else {
        (Event::AdminEnable, "enabled")
    };
    record(gw, event, &who, &format!("credential/{name}"), &why).await?;
    tracing::warn!(admin = %who, credential = %name, reason = %why, status, "credential kill switch");
    Ok(Json(json!({ "credential": name, "status": status })))
}

pub(super) async fn reload_credential(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let who = admin(&who)?;
    if !gw.credentials.exists(&name) {
        return Err(unknown_credential());
    }
    let asked = crate::store::now_ms();
    let version = gw
        .credentials
        .reload_since(&name, asked)
        .await
        .map_err(|e| {
            ApiError::new(
                Code::CredentialUnavailable,
                "the credential's source cannot be read now",
            )
            .with_internal(e.to_string())
        })?;
    crate::events::reloaded(&gw, &name, asked)
        .await
        .map_err(ApiError::from)?;
    record(
        &gw,
        Event::AdminReload,
        &who,
        &format!("credential/{name}"),
        "",
    )
    .await?;
    tracing::warn!(admin = %who, credential = %name, version, "credential reloaded");
    Ok(Json(
        json!({ "credential": name, "status": "reloaded", "version": version }),
    ))
}

pub(super) async fn revoke_agent(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(name): Path<String>,
    body: WholeBody,
) -> Result<Json<Value>, ApiError> {
    let who = admin(&who)?;
    let why = reason(body)?;
    let key = gw
        .identities
        .agent_key(&name)
        .ok_or_else(|| ApiError::new(Code::NotFound, "no agent by that name"))?;
    gw.revocations
        .set(
            gw.store.as_ref(),
            &revocations::agent_key(&name, &key),
            &switch(&who, &why),
        )
        .await
        .map_err(ApiError::from)?;
    crate::events::publish(&gw, &crate::bus::Signal::Switches).await;
    record(
        &gw,
        Event::AdminRevoke,
        &who,
        &format!("agent/{name}"),
        &why,
    )
    .await?;
    let withdrawn = crate::approvals::revoked::withdraw(
        &gw,
        &name,
        crate::approvals::revoked::By::Admin(&who),
        crate::approvals::revoked::REASON,
    )
    .await?;
    tracing::warn!(
        admin = %who,
        agent = %name,
        reason = %why,
        denied = withdrawn.denied,
        "agent revoked with all its sessions; its pending actions denied"
    );
    Ok(Json(json!({
        "agent": name,
        "status": "revoked",
        "denied_actions": withdrawn.denied,
        "forgotten_idempotency_keys": withdrawn.forgotten_keys,
    })))
}

/// `POST /v1/admin/agents/{name}/release`: let an agent quarantined by a
/// canary sighting call again (a revoked key stays revoked).
pub(super) async fn release_agent(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(name): Path<String>,
    body: WholeBody,
) -> Result<Json<Value>, ApiError> {
    let who = admin(&who)?;
    let why = reason(body)?;
    if gw.identities.agent_key(&name).is_none() {
        return Err(ApiError::new(Code::NotFound, "no agent by that name"));
    }
    if !gw.agent_quarantined(&name) {
        return Err(ApiError::new(
            Code::Conflict,
            "this agent is not quarantined",
        ));
    }
    gw.revocations
        .clear(gw.store.as_ref(), &revocations::quarantine_key(&name))
        .await
        .map_err(ApiError::from)?;
    crate::events::publish(&gw, &crate::bus::Signal::Switches).await;
    record(
        &gw,
        Event::AdminRelease,
        &who,
        &format!("agent/{name}"),
        &why,
    )
    .await?;
    tracing::warn!(admin = %who, agent = %name, reason = %why, "quarantined agent released");
    Ok(Json(json!({ "agent": name, "status": "released" })))
}

/// `GET /v1/admin/audit/head`: the trail's head, signed when a signing key is configured.
pub(super) async fn audit_head(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
) -> Result<Json<Value>, ApiError> {
    admin(&who)?;
    let head = gw.audit.head().await.map_err(ApiError::from)?;
    Ok(Json(match &gw.audit_signer {
        Some(key) => {
            serde_json::to_value(crate::audit::checkpoint::sign(key, &head)).unwrap_or(Value::Null)
        }
        None => json!({ "seq": head.seq, "hash": head.hash, "signature": null }),
    }))
}

#[derive(serde::Deserialize)]
pub(super) struct ReviewQuery {
    since: Option<String>,
}

/// `GET /v1/admin/access-review?since=90d`: what `toolgate access-review --json` prints.
pub(super) async fn access_review(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    query: Result<axum::extract::Query<ReviewQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    admin(&who)?;
    let Ok(axum::extract::Query(q)) = query else {
        return Err(ApiError::bad_request("invalid query string"));
    };
    let since = humantime::parse_duration(q.since.as_deref().unwrap_or("90d"))
        .map_err(|_| ApiError::bad_request("since takes a duration such as 90d or 12h"))?;
    let g = gw.clone();
    let review = tokio::task::spawn_blocking(move || {
        crate::access_review::review_configured(
            &g.config,
            &g.catalog,
            since,
            std::time::SystemTime::now(),
        )
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e| {
        ApiError::new(Code::AuditUnavailable, "the audit trail cannot be read now").with_internal(e)
    })?;
    Ok(Json(review))
}

/// `GET /v1/admin/dead-letters`: calls kept after failing on their credential (redacted).
pub(super) async fn dead_letters(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
) -> Result<Json<Value>, ApiError> {
    admin(&who)?;
    Ok(Json(
        json!({ "dead_letters": crate::dead_letters::record::list(&gw).await? }),
    ))
}

/// `POST /v1/admin/dead-letters/{id}/retry`: send it again, once, with the credential current now.
pub(super) async fn retry_dead_letter(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let who = admin(&who)?;
    Ok(Json(
        crate::dead_letters::retry::retry(&gw, &who, &id).await?,
    ))
}

/// `DELETE /v1/admin/dead-letters/{id}`.
pub(super) async fn discard_dead_letter(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let who = admin(&who)?;
    Ok(Json(
        crate::dead_letters::retry::discard(&gw, &who, &id).await?,
    ))
}
