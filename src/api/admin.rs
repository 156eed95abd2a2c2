//! Admin kill switches and rotation: `/v1/admin/…`. Admin keys only.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::gate::WholeBody;
use crate::access_review::AccessReview;
use crate::audit::checkpoint::Checkpoint;
use crate::dead_letters::record::DeadLetterView;
use crate::dead_letters::retry::Discarded;
use crate::error::{ApiError, ErrorBody};
use crate::gateway::Gateway;
use crate::identity::{Acting, Caller};
use crate::operator;
use crate::pipeline::authenticate::Presented;

pub(super) fn admin(who: &Presented) -> Result<String, ApiError> {
    match who.caller() {
        Caller::Admin { name } => Ok(name.clone()),
        _ => Err(ApiError::forbidden("only admin keys may use /v1/admin")),
    }
}

/// An optional `{reason}` body (an empty body is no reason).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // the body's shape for the API document; [`reason`] reads it
pub(super) struct Reason {
    /// Kept in the audit trail, redacted; at most 2000 bytes.
    #[schema(max_length = 2000)]
    reason: Option<String>,
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

/// The kill switch's new position for a credential.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Switched {
    credential: String,
    status: SwitchState,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum SwitchState {
    Disabled,
    Enabled,
}

#[utoipa::path(
    post,
    path = "/v1/admin/credentials/{name}/disable",
    operation_id = "disable_credential",
    tag = "admin",
    params(("name" = String, Path, description = "The credential's name")),
    request_body(content = Reason, description = "Optional; an empty body is no reason"),
    responses(
        (status = 200, description = "The credential is not sent from now on", body = Switched),
        (status = 400, description = "`bad_request`: the body is not JSON, or the reason is not a short string", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an admin key", body = ErrorBody),
        (status = 404, description = "`not_found`: no credential by that name", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, `audit_unavailable`, or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn disable_credential(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(name): Path<String>,
    body: WholeBody,
) -> Result<Json<Switched>, ApiError> {
    switch_credential(&gw, &who, name, body, true).await
}

#[utoipa::path(
    post,
    path = "/v1/admin/credentials/{name}/enable",
    operation_id = "enable_credential",
    tag = "admin",
    params(("name" = String, Path, description = "The credential's name")),
    request_body(content = Reason, description = "Optional; an empty body is no reason"),
    responses(
        (status = 200, description = "The credential is sent again", body = Switched),
        (status = 400, description = "`bad_request`: the body is not JSON, or the reason is not a short string", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an admin key", body = ErrorBody),
        (status = 404, description = "`not_found`: no credential by that name", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, `audit_unavailable`, or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn enable_credential(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(name): Path<String>,
    body: WholeBody,
) -> Result<Json<Switched>, ApiError> {
    switch_credential(&gw, &who, name, body, false).await
}

/// The credential kill switch: on (disabled) or off, here, in the store, in the trail.
async fn switch_credential(
    gw: &Gateway,
    who: &Presented,
    name: String,
    body: WholeBody,
    disable: bool,
) -> Result<Json<Switched>, ApiError> {
    let who = admin(who)?;
    let why = reason(body)?;
    let acting = Acting {
        name: &who,
        via: None,
    };
    operator::switch_credential(gw, &acting, &name, &why, disable).await?;
    let status = if disable {
        SwitchState::Disabled
    } else {
        SwitchState::Enabled
    };
    Ok(Json(Switched {
        credential: name,
        status,
    }))
}

/// A credential read again from its source.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Reloaded {
    credential: String,
    status: ReloadState,
    /// The version now in use.
    version: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ReloadState {
    Reloaded,
}

#[utoipa::path(
    post,
    path = "/v1/admin/credentials/{name}/reload",
    operation_id = "reload_credential",
    tag = "admin",
    params(("name" = String, Path, description = "The credential's name")),
    responses(
        (status = 200, description = "The credential was read again from its source", body = Reloaded),
        (status = 403, description = "`forbidden`: not an admin key", body = ErrorBody),
        (status = 404, description = "`not_found`: no credential by that name", body = ErrorBody),
        (status = 503, description = "`credential_unavailable` (its source cannot be read now), `store_unavailable`, `audit_unavailable`, or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn reload_credential(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(name): Path<String>,
) -> Result<Json<Reloaded>, ApiError> {
    let who = admin(&who)?;
    let acting = Acting {
        name: &who,
        via: None,
    };
    let version = operator::reload_credential(&gw, &acting, &name, "").await?;
    Ok(Json(Reloaded {
        credential: name,
        status: ReloadState::Reloaded,
        version,
    }))
}

/// An agent revoked, with every session it minted.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Revoked {
    agent: String,
    status: RevokeState,
    /// Its pending actions, now denied.
    denied_actions: usize,
    forgotten_idempotency_keys: usize,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum RevokeState {
    Revoked,
}

#[utoipa::path(
    post,
    path = "/v1/admin/agents/{name}/revoke",
    operation_id = "revoke_agent",
    tag = "admin",
    params(("name" = String, Path, description = "The agent's name")),
    request_body(content = Reason, description = "Optional; an empty body is no reason"),
    responses(
        (status = 200, description = "The agent's key and sessions stop working at once", body = Revoked),
        (status = 400, description = "`bad_request`: the body is not JSON, or the reason is not a short string", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an admin key", body = ErrorBody),
        (status = 404, description = "`not_found`: no agent by that name", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, `audit_unavailable`, or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn revoke_agent(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(name): Path<String>,
    body: WholeBody,
) -> Result<Json<Revoked>, ApiError> {
    let who = admin(&who)?;
    let why = reason(body)?;
    let acting = Acting {
        name: &who,
        via: None,
    };
    let withdrawn = operator::revoke_agent(&gw, &acting, &name, &why).await?;
    Ok(Json(Revoked {
        agent: name,
        status: RevokeState::Revoked,
        denied_actions: withdrawn.denied,
        forgotten_idempotency_keys: withdrawn.forgotten_keys,
    }))
}

/// A quarantined agent let back.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Released {
    agent: String,
    status: ReleaseState,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ReleaseState {
    Released,
}

/// `POST /v1/admin/agents/{name}/release`: let an agent quarantined by a
/// canary sighting call again (a revoked key stays revoked).
#[utoipa::path(
    post,
    path = "/v1/admin/agents/{name}/release",
    operation_id = "release_agent",
    tag = "admin",
    params(("name" = String, Path, description = "The agent's name")),
    request_body(content = Reason, description = "Optional; an empty body is no reason"),
    responses(
        (status = 200, description = "The agent may call again; its ended sessions stay ended", body = Released),
        (status = 400, description = "`bad_request`: the body is not JSON, or the reason is not a short string", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an admin key", body = ErrorBody),
        (status = 404, description = "`not_found`: no agent by that name", body = ErrorBody),
        (status = 409, description = "`conflict`: the agent is not quarantined", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, `audit_unavailable`, or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn release_agent(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(name): Path<String>,
    body: WholeBody,
) -> Result<Json<Released>, ApiError> {
    let who = admin(&who)?;
    let why = reason(body)?;
    let acting = Acting {
        name: &who,
        via: None,
    };
    operator::release_agent(&gw, &acting, &name, &why).await?;
    Ok(Json(Released {
        agent: name,
        status: ReleaseState::Released,
    }))
}

/// The trail's head: an Ed25519-signed checkpoint when `audit.signing_key`
/// is set, else the bare head.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(super) enum AuditHead {
    Signed(Checkpoint),
    Unsigned(UnsignedHead),
}

/// The head without a signing key: `signature` is null.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct UnsignedHead {
    seq: u64,
    hash: String,
    #[schema(value_type = Option<String>, nullable)]
    signature: (),
}

/// `GET /v1/admin/audit/head`: the trail's head, signed when a signing key is configured.
#[utoipa::path(
    get,
    path = "/v1/admin/audit/head",
    operation_id = "get_audit_head",
    tag = "admin",
    responses(
        (status = 200, description = "The audit trail's head", body = AuditHead),
        (status = 403, description = "`forbidden`: not an admin key", body = ErrorBody),
        (status = 503, description = "`audit_unavailable`, or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn audit_head(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
) -> Result<Json<AuditHead>, ApiError> {
    admin(&who)?;
    let head = gw.audit.head().await.map_err(ApiError::from)?;
    Ok(Json(match &gw.audit_signer {
        Some(key) => AuditHead::Signed(crate::audit::checkpoint::sign(key, &head)),
        None => AuditHead::Unsigned(UnsignedHead {
            seq: head.seq,
            hash: head.hash,
            signature: (),
        }),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ReviewQuery {
    /// How far back the trail is read: a duration such as `90d` or `12h` (default `90d`).
    #[param(example = "90d")]
    since: Option<String>,
}

/// `GET /v1/admin/access-review?since=90d`: what `toolgate access-review --json` prints.
#[utoipa::path(
    get,
    path = "/v1/admin/access-review",
    operation_id = "get_access_review",
    tag = "admin",
    params(ReviewQuery),
    responses(
        (status = 200, description = "Granted vs. used scopes per agent; stale and over-privileged credentials", body = AccessReview),
        (status = 400, description = "`bad_request`: `since` is not a duration", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an admin key", body = ErrorBody),
        (status = 503, description = "`audit_unavailable` (the trail cannot be read now), or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn access_review(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    query: Result<axum::extract::Query<ReviewQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AccessReview>, ApiError> {
    admin(&who)?;
    let Ok(axum::extract::Query(q)) = query else {
        return Err(ApiError::bad_request("invalid query string"));
    };
    Ok(Json(
        operator::access_review(&gw, q.since.as_deref()).await?,
    ))
}

/// Calls kept after failing on their credential, redacted.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct DeadLetters {
    dead_letters: Vec<DeadLetterView>,
}

/// `GET /v1/admin/dead-letters`: calls kept after failing on their credential (redacted).
#[utoipa::path(
    get,
    path = "/v1/admin/dead-letters",
    operation_id = "list_dead_letters",
    tag = "admin",
    responses(
        (status = 200, description = "The dead letters, redacted", body = DeadLetters),
        (status = 403, description = "`forbidden`: not an admin key", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn dead_letters(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
) -> Result<Json<DeadLetters>, ApiError> {
    admin(&who)?;
    Ok(Json(DeadLetters {
        dead_letters: crate::dead_letters::record::list(&gw).await?,
    }))
}

/// `POST /v1/admin/dead-letters/{id}/retry`: send it again, once, with the credential current now.
#[utoipa::path(
    post,
    path = "/v1/admin/dead-letters/{id}/retry",
    operation_id = "retry_dead_letter",
    tag = "admin",
    params(("id" = String, Path, description = "The dead letter's id")),
    responses(
        (status = 200, description = "The letter after its retry: `retried`, or `failed` with the outcome", body = DeadLetterView),
        (status = 403, description = "`forbidden` (not an admin key), or `egress_denied` before anything was sent", body = ErrorBody),
        (status = 404, description = "`not_found`: no such dead letter", body = ErrorBody),
        (status = 409, description = "`conflict`: already retried or being retried, or its agent revoked", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        (status = 503, description = "`credential_unavailable`, `store_unavailable`, `audit_unavailable` (the letter stays pending), or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn retry_dead_letter(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(id): Path<String>,
) -> Result<Json<DeadLetterView>, ApiError> {
    let who = admin(&who)?;
    Ok(Json(
        crate::dead_letters::retry::retry(
            &gw,
            &Acting {
                name: &who,
                via: None,
            },
            &id,
        )
        .await?,
    ))
}

/// `DELETE /v1/admin/dead-letters/{id}`.
#[utoipa::path(
    delete,
    path = "/v1/admin/dead-letters/{id}",
    operation_id = "discard_dead_letter",
    tag = "admin",
    params(("id" = String, Path, description = "The dead letter's id")),
    responses(
        (status = 200, description = "The letter is discarded", body = Discarded),
        (status = 403, description = "`forbidden`: not an admin key", body = ErrorBody),
        (status = 404, description = "`not_found`: no such dead letter", body = ErrorBody),
        (status = 409, description = "`conflict`: already retried or being discarded", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, `audit_unavailable` (the letter stays pending), or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn discard_dead_letter(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(id): Path<String>,
) -> Result<Json<Discarded>, ApiError> {
    let who = admin(&who)?;
    Ok(Json(
        crate::dead_letters::retry::discard(
            &gw,
            &Acting {
                name: &who,
                via: None,
            },
            &id,
        )
        .await?,
    ))
}
