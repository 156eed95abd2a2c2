//! The approver's queue: `/v1/pending-actions…`. Only approver keys; an
//! approver sees only the workflows they are listed for.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::gate::WholeBody;
use crate::approvals::decide;
use crate::approvals::shown::{self, ApproverView};
use crate::approvals::views::Approver;
use crate::error::{ApiError, ErrorBody};
use crate::gateway::Gateway;
use crate::identity::Caller;
use crate::pipeline::authenticate::Presented;

fn approver(who: &Presented) -> Result<(String, Vec<String>), ApiError> {
    match who.caller() {
        Caller::Approver { name, workflows } => Ok((name.clone(), workflows.clone())),
        _ => Err(ApiError::forbidden(
            "only approver keys may see or decide pending actions",
        )),
    }
}

/// The actions waiting in the approver's workflows.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Pending {
    actions: Vec<ApproverView>,
}

#[utoipa::path(
    get,
    path = "/v1/pending-actions",
    operation_id = "list_pending_actions",
    tag = "approvers",
    responses(
        (status = 200, description = "Pending actions in the approver's workflows, each with every byte of its frozen request (the credential named, never shown) and its flags", body = Pending),
        (status = 403, description = "`forbidden`: not an approver key", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn list(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
) -> Result<Json<Pending>, ApiError> {
    let (name, workflows) = approver(&who)?;
    let who = Approver {
        name: &name,
        workflows: &workflows,
        via: None,
    };
    Ok(Json(Pending {
        actions: shown::pending_for(&gw, &who).await?,
    }))
}

#[utoipa::path(
    get,
    path = "/v1/pending-actions/{id}",
    operation_id = "get_pending_action",
    tag = "approvers",
    params(("id" = String, Path, description = "The action's id")),
    responses(
        (status = 200, description = "The action, with every byte of its frozen request (the credential named, never shown), its flags and the SHA-256 of what is shown", body = ApproverView),
        (status = 403, description = "`forbidden`: not an approver key", body = ErrorBody),
        (status = 404, description = "`not_found`: no such action in the approver's workflows", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn show(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(id): Path<String>,
) -> Result<Json<ApproverView>, ApiError> {
    let (name, workflows) = approver(&who)?;
    let who = Approver {
        name: &name,
        workflows: &workflows,
        via: None,
    };
    Ok(Json(shown::view_for(&gw, &who, &id).await?))
}

/// `POST /v1/pending-actions/{id}/approve`: `{reason, arguments?}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "confirmed with the account owner"}))]
pub(super) struct Approval {
    /// Why; at most 2000 bytes, not blank.
    #[schema(min_length = 1, max_length = 2000)]
    reason: String,
    /// New arguments for the call: validated, built and frozen again; earlier
    /// approvals are reset.
    #[schema(value_type = Option<Object>)]
    arguments: Option<Value>,
}

/// `POST /v1/pending-actions/{id}/deny`: `{reason}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "not a customer of ours"}))]
#[allow(dead_code)] // the body's shape for the API document; [`decision`] reads it
pub(super) struct Denial {
    /// Why; at most 2000 bytes, not blank.
    #[schema(min_length = 1, max_length = 2000)]
    reason: String,
}

/// `{reason, arguments?}`: a reason is required; `arguments` replaces the call's.
fn decision(body: WholeBody, allow_edit: bool) -> Result<Approval, ApiError> {
    let WholeBody(body) = body;
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON ({e})")))?;
    let Value::Object(mut obj) = v else {
        return Err(ApiError::bad_request(
            "the body must be a JSON object with a reason",
        ));
    };
    let reason = match obj.remove("reason") {
        Some(Value::String(r)) if !r.trim().is_empty() && r.len() <= 2000 => r,
        _ => {
            return Err(ApiError::bad_request(
                "reason is required: a short text of at most 2000 characters",
            ));
        }
    };
    let arguments = obj.remove("arguments");
    if arguments.is_some() && !allow_edit {
        return Err(ApiError::bad_request(
            "arguments can only be changed when approving",
        ));
    }
    if let Some(k) = obj.keys().next() {
        return Err(ApiError::bad_request(format!(
            "unknown field in the decision: {k}"
        )));
    }
    Ok(Approval { reason, arguments })
}

#[utoipa::path(
    post,
    path = "/v1/pending-actions/{id}/approve",
    operation_id = "approve_pending_action",
    tag = "approvers",
    params(("id" = String, Path, description = "The action's id")),
    request_body = Approval,
    responses(
        (status = 200, description = "The approval is recorded; once enough distinct approvers agree the action ran, and this is its final state", body = ApproverView),
        (status = 400, description = "`bad_request`: no reason, unknown fields, or unusable arguments", body = ErrorBody),
        (status = 403, description = "`forbidden` (not an approver key, or the action's own requester), `egress_denied`, or `secret_in_arguments` (edited arguments hold a loaded secret or, for a tool that refuses them, a token shape; or the request holds a loaded secret and was not shown whole)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such action in the approver's workflows", body = ErrorBody),
        (status = 409, description = "`conflict`: no longer pending, already approved by this approver, or its agent revoked", body = ErrorBody),
        (status = 410, description = "`approval_expired`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`schema_violation`: edited arguments do not fit the tool's schema", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        (status = 503, description = "`credential_unavailable`, `audit_unavailable`, `store_unavailable` (the action stays pending), or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn approve(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(id): Path<String>,
    body: WholeBody,
) -> Result<Json<ApproverView>, ApiError> {
    let (name, workflows) = approver(&who)?;
    let Approval { reason, arguments } = decision(body, true)?;
    let who = Approver {
        name: &name,
        workflows: &workflows,
        via: None,
    };
    Ok(Json(
        decide::approve(&gw, &who, &id, reason, arguments).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/v1/pending-actions/{id}/deny",
    operation_id = "deny_pending_action",
    tag = "approvers",
    params(("id" = String, Path, description = "The action's id")),
    request_body = Denial,
    responses(
        (status = 200, description = "The action, now `denied`", body = ApproverView),
        (status = 400, description = "`bad_request`: no reason, or unknown fields", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an approver key", body = ErrorBody),
        (status = 404, description = "`not_found`: no such action in the approver's workflows", body = ErrorBody),
        (status = 409, description = "`conflict`: no longer pending", body = ErrorBody),
        (status = 410, description = "`approval_expired`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 503, description = "`audit_unavailable` (the action stays pending), `store_unavailable`, or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn deny(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(id): Path<String>,
    body: WholeBody,
) -> Result<Json<ApproverView>, ApiError> {
    let (name, workflows) = approver(&who)?;
    let reason = decision(body, false)?.reason;
    let who = Approver {
        name: &name,
        workflows: &workflows,
        via: None,
    };
    Ok(Json(decide::deny(&gw, &who, &id, reason).await?))
}
