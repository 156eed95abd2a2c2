//! The approver's queue: `/v1/pending-actions…`. Only approver keys; an
//! approver sees only the workflows they are listed for.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde_json::{Value, json};

use super::gate::WholeBody;
use crate::approvals::decide;
use crate::approvals::shown;
use crate::approvals::views::Approver;
use crate::error::ApiError;
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

pub(super) async fn list(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
) -> Result<Json<Value>, ApiError> {
    let (name, workflows) = approver(&who)?;
    let who = Approver {
        name: &name,
        workflows: &workflows,
    };
    Ok(Json(
        json!({ "actions": shown::pending_for(&gw, &who).await? }),
    ))
}

pub(super) async fn show(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (name, workflows) = approver(&who)?;
    let who = Approver {
        name: &name,
        workflows: &workflows,
    };
    Ok(Json(shown::view_for(&gw, &who, &id).await?))
}

/// `{reason, arguments?}`: a reason is required; `arguments` replaces the call's.
fn decision(body: WholeBody, allow_edit: bool) -> Result<(String, Option<Value>), ApiError> {
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
    Ok((reason, arguments))
}

pub(super) async fn approve(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(id): Path<String>,
    body: WholeBody,
) -> Result<Json<Value>, ApiError> {
    let (name, workflows) = approver(&who)?;
    let (reason, arguments) = decision(body, true)?;
    let who = Approver {
        name: &name,
        workflows: &workflows,
    };
    Ok(Json(
        decide::approve(&gw, &who, &id, reason, arguments).await?,
    ))
}

pub(super) async fn deny(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    Path(id): Path<String>,
    body: WholeBody,
) -> Result<Json<Value>, ApiError> {
    let (name, workflows) = approver(&who)?;
    let (reason, _) = decision(body, false)?;
    let who = Approver {
        name: &name,
        workflows: &workflows,
    };
    Ok(Json(decide::deny(&gw, &who, &id, reason).await?))
}
