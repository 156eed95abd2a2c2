//! Liveness and readiness. Readiness names the subsystems that are not
//! ready — `store`, `audit`, `credentials:<source kind>` — and counts, never
//! a credential's name, value or path.
//!
//! Two details do not make the gateway unready, because it still serves:
//! `audit.low_space` (the trail's storage is below `audit.min_free_bytes`;
//! unauthenticated refusals are counted, not recorded, and
//! `unrecorded_refusals` says how many) and `load.shedding` (a request was
//! refused for want of a slot in the last ten seconds). A balancer that
//! took a shedding replica out would only move its load onto the others.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::config::StoreConfig;
use crate::gateway::Gateway;

pub(super) async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub(super) async fn ready(State(gw): State<Arc<Gateway>>) -> (StatusCode, Json<Value>) {
    let unavailable = gw.credentials.unavailable().await;
    if !unavailable.is_empty() {
        tracing::warn!(credentials = ?unavailable, "credentials unavailable");
    }
    // Which kinds of source fail, never which credential or where it points.
    let mut kinds = BTreeMap::<&str, usize>::new();
    for name in &unavailable {
        let kind = gw
            .config
            .credentials
            .get(name)
            .map_or("unknown", |c| c.source.kind());
        *kinds.entry(kind).or_default() += 1;
    }
    let store_ok = match gw.store.ping().await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "store unavailable");
            false
        }
    };
    let audit_ok = gw.audit.is_healthy();
    let mut not_ready: Vec<String> = Vec::new();
    if !store_ok {
        not_ready.push("store".into());
    }
    if !audit_ok {
        not_ready.push("audit".into());
    }
    not_ready.extend(kinds.keys().map(|k| format!("credentials:{k}")));
    let ok = not_ready.is_empty();
    let load = gw.load.report();
    let store_kind = match gw.config.store {
        StoreConfig::Memory => "memory",
        StoreConfig::File(_) => "file",
        StoreConfig::Redis(_) => "redis",
    };
    let audit_kind = if gw.config.audit.redis {
        "redis"
    } else {
        "file"
    };
    let body = json!({
        "status": if ok { "ready" } else { "not_ready" },
        "not_ready": not_ready,
        "checks": {
            "credentials": { "unavailable": unavailable.len(), "kinds": kinds },
            "store": { "ok": store_ok, "kind": store_kind },
            "audit": {
                "ok": audit_ok,
                "kind": audit_kind,
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
