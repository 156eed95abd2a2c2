//! `GET /v1/tools?format=openai|anthropic|native` — the agent's tools, ready for the model.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::Value;

use crate::catalog::{self, Format};
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::pipeline::authenticate::{self, Presented};

#[derive(Deserialize)]
pub(super) struct ListQuery {
    format: Option<String>,
}

pub(super) async fn list(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let agent = authenticate::agent(&gw, &who)?;
    let Ok(Query(query)) = query else {
        return Err(ApiError::bad_request("invalid query string"));
    };
    let format = match query.format.as_deref() {
        None => Format::Native,
        Some(f) => Format::parse(f).ok_or_else(|| {
            ApiError::bad_request("format must be one of openai, anthropic, native")
        })?,
    };
    Ok(Json(catalog::export(
        &agent.workflow.name,
        agent.tools,
        format,
        |b| agent.may_use(b),
    )))
}
