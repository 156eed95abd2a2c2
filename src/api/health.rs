//! Liveness and readiness. Readiness reports counts, never credential names.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::gateway::Gateway;

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
    let body = json!({
        "status": if ok { "ready" } else { "not_ready" },
        "checks": {
            "credentials": { "unavailable": unavailable.len() },
            "store": { "ok": store_ok },
            "audit": { "ok": audit_ok },
        },
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
