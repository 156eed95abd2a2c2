//! `POST /v1/admin/credentials/{name}/rotate`: an admin asks for a rotation
//! now. The answer is the rotation's state once the steps due now are done
//! (minted, written, switched: in its grace period), or a failed step's
//! reason; `409 rotation_in_progress` while one is under way.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use super::admin::admin;
use crate::error::{ApiError, Code, ErrorBody};
use crate::gateway::Gateway;
use crate::operator::unknown_credential;
use crate::pipeline::authenticate::Presented;
use crate::rotation::state::{Phase, Record};
use crate::rotation::{Refused, rotate_now};

/// A rotation's state. Names no secret; key ids are the vendor's.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RotationState {
    credential: String,
    /// `idle`, `minting`, `switching`, or `grace` (the old key is revoked at `revoke_at`).
    phase: String,
    /// The source's version toolgate last wrote (0 before its first rotation).
    version: u64,
    /// The vendor's id of the key in use, when toolgate minted it.
    key_id: Option<String>,
    /// RFC 3339: since when the key in use is in use.
    since: String,
    /// RFC 3339: when the next rotation is due (idle) or the old key is revoked (grace).
    next_at: String,
    /// Rotations completed.
    completed: u64,
    /// Failed attempts in a row.
    failures: u32,
    last_error: Option<RotationError>,
}

/// The last step that failed, and why (the key in use stayed in use).
#[derive(Debug, Serialize, ToSchema)]
struct RotationError {
    /// `start`, `mint`, `switch`, or `revoke`.
    step: String,
    reason: String,
    at: String,
    /// RFC 3339: when it is tried again.
    retry_at: String,
}

fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
        .to_string()
}

pub(crate) fn view(name: &str, every_ms: u64, r: &Record) -> RotationState {
    let phase = match r.phase {
        Phase::Idle => "idle",
        Phase::Minting => "minting",
        Phase::Switching => "switching",
        Phase::Grace => "grace",
    };
    let next = match r.phase {
        Phase::Grace => r.revoke_at_ms,
        _ => r.current_since_ms.saturating_add(every_ms),
    };
    RotationState {
        credential: name.to_owned(),
        phase: phase.to_owned(),
        version: r.current_version,
        key_id: r.current_id.clone(),
        since: rfc3339(r.current_since_ms),
        next_at: rfc3339(next.max(r.retry_at_ms)),
        completed: r.completed,
        failures: r.failures,
        last_error: r.last_error.as_ref().map(|f| RotationError {
            step: f.step.clone(),
            reason: f.reason.clone(),
            at: rfc3339(f.at_ms),
            retry_at: rfc3339(r.retry_at_ms),
        }),
    }
}

#[utoipa::path(
    post,
    path = "/v1/admin/credentials/{name}/rotate",
    operation_id = "rotate_credential",
    tag = "admin",
    params(("name" = String, Path, description = "The credential's name")),
    responses(
        (status = 200, description = "The rotation's state after the steps due now: `grace` once the new key is in use, or `last_error` naming the step that failed (the key in use stays in use; retried with backoff)", body = RotationState),
        (status = 403, description = "`forbidden`: not an admin key", body = ErrorBody),
        (status = 404, description = "`not_found`: no credential by that name, or it has no `rotation`", body = ErrorBody),
        (status = 409, description = "`rotation_in_progress`: a rotation is minting, switching, or in its grace period (`details` holds its state)", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn rotate_credential(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(name): Path<String>,
) -> Result<Json<RotationState>, ApiError> {
    let who = admin(&who)?;
    let def = gw
        .config
        .credentials
        .get(&name)
        .ok_or_else(unknown_credential)?;
    let rot = def.rotation.as_ref().ok_or_else(|| {
        ApiError::new(Code::NotFound, "this credential has no rotation configured")
    })?;
    let every = rot.every.as_millis() as u64;
    match rotate_now(&gw, def, rot, &who).await {
        Ok(r) => {
            tracing::warn!(admin = %who, credential = %name, phase = ?r.phase, "rotation asked for by an admin");
            Ok(Json(view(&name, every, &r)))
        }
        Err(Refused::InProgress(r)) => Err(ApiError::new(
            Code::RotationInProgress,
            "a rotation of this credential is under way; ask again once it is idle",
        )
        .with_details(vec![
            serde_json::to_value(view(&name, every, &r)).unwrap_or_default(),
        ])),
        Err(Refused::Store(e)) => Err(ApiError::from(e)),
    }
}
