//! `POST /v1/sessions` — an agent mints a short-lived token for one run.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::gate::WholeBody;
use crate::approvals::views::rfc3339;
use crate::error::{ApiError, ErrorBody};
use crate::gateway::Gateway;
use crate::pipeline::authenticate::{self, Presented};
use crate::sessions::{self, Session, valid_label};
use crate::store::now_ms;

/// `{ttl_seconds, scopes?, subject?, run_id?}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"ttl_seconds": 900, "subject": "user-42", "run_id": "run-7"}))]
pub(super) struct MintRequest {
    /// At least 1; capped by `sessions.max_ttl_seconds`.
    #[schema(minimum = 1)]
    ttl_seconds: u64,
    /// A subset of the agent's scopes (default: all of them).
    scopes: Option<Vec<String>>,
    /// 1 to 128 characters of letters, digits and `. _ @ + - :`, not
    /// starting with a dot nor holding two in a row.
    #[schema(pattern = r"^(?!\.)(?!.*\.\.)[A-Za-z0-9._@+:-]{1,128}$")]
    subject: Option<String>,
    #[schema(pattern = r"^(?!\.)(?!.*\.\.)[A-Za-z0-9._@+:-]{1,128}$")]
    run_id: Option<String>,
}

/// `201`: the session token, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Minted {
    /// A `tg_session_…` token, usable wherever the agent key is.
    token: String,
    /// RFC 3339.
    expires_at: String,
    scopes: BTreeSet<String>,
    subject: Option<String>,
    run_id: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/sessions",
    operation_id = "mint_session",
    tag = "agents",
    request_body = MintRequest,
    responses(
        (status = 201, description = "A session token for one run", body = Minted),
        (status = 400, description = "`bad_request`: not `{ttl_seconds, scopes?, subject?, run_id?}`", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an agent key, a session token, or scopes beyond the agent's", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn mint(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    WholeBody(body): WholeBody,
) -> Result<(StatusCode, Json<Minted>), ApiError> {
    let agent = authenticate::agent(&gw, &who)?;
    if agent.via_session {
        return Err(ApiError::forbidden(
            "a session token cannot mint sessions; use the agent's key",
        ));
    }
    let req: MintRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{ttl_seconds, scopes?, subject?, run_id?}} ({e})"
        ))
    })?;
    if req.ttl_seconds == 0 {
        return Err(ApiError::bad_request("ttl_seconds must be at least 1"));
    }
    let granted = &agent.workflow.scopes;
    let scopes: BTreeSet<String> = match req.scopes {
        None => granted.clone(),
        Some(asked) => {
            let asked: BTreeSet<String> = asked.into_iter().collect();
            let extra: Vec<&String> = asked.difference(granted).collect();
            if !extra.is_empty() {
                return Err(ApiError::forbidden(format!(
                    "a session can only narrow the agent's scopes; not granted: {extra:?}"
                )));
            }
            asked
        }
    };
    for (what, v) in [("subject", &req.subject), ("run_id", &req.run_id)] {
        if v.as_deref().is_some_and(|s| !valid_label(s)) {
            return Err(ApiError::bad_request(format!(
                "{what} must be 1 to 128 characters of letters, digits and . _ @ + - :"
            )));
        }
    }
    let ttl = Duration::from_secs(req.ttl_seconds).min(gw.config.sessions_max_ttl);
    let key = gw
        .identities
        .agent_key(&agent.name)
        .ok_or_else(ApiError::unauthenticated)?;
    let session = Session {
        agent: agent.name.clone(),
        agent_key_sha256: hex::encode(key),
        scopes: scopes.clone(),
        subject: req.subject.clone(),
        run_id: req.run_id.clone(),
        expires_at_ms: now_ms() + ttl.as_millis() as u64,
    };
    let token = sessions::mint(gw.store.as_ref(), &session, ttl)
        .await
        .map_err(ApiError::from)?;
    tracing::info!(agent = %agent.name, ttl_s = ttl.as_secs(), subject = ?req.subject, run_id = ?req.run_id, "session minted");
    Ok((
        StatusCode::CREATED,
        Json(Minted {
            token,
            expires_at: rfc3339(session.expires_at_ms),
            scopes,
            subject: req.subject,
            run_id: req.run_id,
        }),
    ))
}
