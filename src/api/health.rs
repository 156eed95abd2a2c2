//! Liveness and readiness. Readiness reports counts, never credential names.
//!
//! Two details do not make the gateway unready, because it still serves:
//! `audit.low_space` (the trail's storage is below `audit.min_free_bytes`;
//! unauthenticated refusals are counted, not recorded, and
//! `unrecorded_refusals` says how many) and `load.shedding` (a request was
//! refused for want of a slot in the last ten seconds). A balancer that
//! took a shedding replica out would only move its load onto the others.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::gateway::Gateway;

/// `GET /metrics`: every family in OpenMetrics text (see [`crate::metrics`]).
pub(super) async fn metrics(State(gw): State<Arc<Gateway>>) -> impl IntoResponse {
    let text = gw
        .metrics
        .encode(gw.audit_space_low(), gw.refusals.unrecorded_total());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}

pub(super) async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub(super) async fn ready(State(gw): State<Arc<Gateway>>) -> (StatusCode, Json<Value>) {
    let unavailable = gw.credentials.unavailable().await;
    if !unavailable.is_empty() {
        tracing::warn!(credentials = ?unavailable, "credentials unavailable");
    }
    let store_ok = match gw.store.ping().await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "store unavailable");
            false
        }
    };
    let audit_ok = gw.audit.is_healthy();
    let ok = unavailable.is_empty() && store_ok && audit_ok;
    let load = gw.load.report();
    let body = json!({
        "status": if ok { "ready" } else { "not_ready" },
        "checks": {
            "credentials": { "unavailable": unavailable.len() },
            "store": { "ok": store_ok },
            "audit": {
                "ok": audit_ok,
                "low_space": gw.audit_space_low(),
                "unrecorded_refusals": gw.refusals.unrecorded_total(),
            },
            "load": { "shedding": load.shedding, "shed_total": load.shed_total },
        },
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
