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
use serde::Serialize;
use utoipa::ToSchema;

use crate::gateway::Gateway;

/// `GET /metrics`: every family in OpenMetrics text (see [`crate::metrics`]).
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    responses(
        (status = 200, description = "Prometheus metrics", body = String,
         content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
    ),
)]
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

/// `GET /healthz`: the process answers.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Live {
    status: Alive,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum Alive {
    Ok,
}

#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "health",
    responses((status = 200, description = "The process is alive", body = Live)),
)]
pub(super) async fn live() -> Json<Live> {
    Json(Live { status: Alive::Ok })
}

/// `GET /readyz`: whether the gateway can serve, with counts (never names).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Ready {
    status: Readiness,
    checks: Checks,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum Readiness {
    Ready,
    NotReady,
}

#[derive(Debug, Serialize, ToSchema)]
struct Checks {
    credentials: CredentialsCheck,
    store: StoreCheck,
    audit: AuditCheck,
    load: LoadCheck,
}

#[derive(Debug, Serialize, ToSchema)]
struct CredentialsCheck {
    /// How many credentials cannot be loaded now.
    unavailable: usize,
}

#[derive(Debug, Serialize, ToSchema)]
struct StoreCheck {
    ok: bool,
}

#[derive(Debug, Serialize, ToSchema)]
struct AuditCheck {
    ok: bool,
    /// The trail's storage is below `audit.min_free_bytes` (does not make it unready).
    low_space: bool,
    /// Unauthenticated refusals counted but not recorded.
    unrecorded_refusals: u64,
}

#[derive(Debug, Serialize, ToSchema)]
struct LoadCheck {
    /// A request was refused for want of a slot in the last ten seconds.
    shedding: bool,
    shed_total: u64,
}

#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = Ready),
        (status = 503, description = "Not ready: a credential, the store or the audit trail is unavailable", body = Ready),
    ),
)]
pub(super) async fn ready(State(gw): State<Arc<Gateway>>) -> (StatusCode, Json<Ready>) {
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
    let body = Ready {
        status: if ok {
            Readiness::Ready
        } else {
            Readiness::NotReady
        },
        checks: Checks {
            credentials: CredentialsCheck {
                unavailable: unavailable.len(),
            },
            store: StoreCheck { ok: store_ok },
            audit: AuditCheck {
                ok: audit_ok,
                low_space: gw.audit_space_low(),
                unrecorded_refusals: gw.refusals.unrecorded_total(),
            },
            load: LoadCheck {
                shedding: load.shedding,
                shed_total: load.shed_total,
            },
        },
    };
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
