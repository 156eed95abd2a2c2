//! `GET /v1/tools?format=openai|anthropic|native` — the agent's tools, ready for the model.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::{Extension, Json};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::catalog::{self, Exported, Format};
use crate::error::{ApiError, ErrorBody};
use crate::gateway::Gateway;
use crate::pipeline::authenticate::{self, Presented};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// The shape of the list (default `native`).
    #[param(value_type = Option<Format>)]
    format: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/tools",
    operation_id = "list_tools",
    tag = "agents",
    params(ListQuery),
    responses(
        (status = 200, description = "The caller's callable tools with their effective schemas, sorted by name", body = Exported),
        (status = 400, description = "`bad_request`: an unknown format, or a query string that cannot be read", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an agent key or session token", body = ErrorBody),
    ),
)]
pub(super) async fn list(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Exported>, ApiError> {
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
