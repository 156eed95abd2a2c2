//! Liveness and readiness. Readiness names the subsystems that are not
//! ready — `store`, `audit`, `credentials:<source kind>` — and counts, never
//! a credential's name, value or path.
//!
//! Four details do not make the gateway unready, because it still serves:
//! `tls.reload_failed` (changed certificate files could not be used; the
//! previous pair is served),
//! `audit.low_space` (the trail's storage is below `audit.min_free_bytes`;
//! unauthenticated refusals are counted, not recorded, and
//! `unrecorded_refusals` says how many) and `load.shedding` (a request was
//! refused for want of a slot in the last ten seconds). Nor does
//! `rotation.failing` (a rotation step failed; the key in use still works). A balancer that
//! took a shedding replica out would only move its load onto the others.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::config::StoreConfig;
use crate::gateway::Gateway;

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

/// `GET /readyz`: whether the gateway can serve, what is not ready, and
/// counts (never a credential's name).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Ready {
    status: Readiness,
    /// The subsystems that are not ready: `store`, `audit`,
    /// `credentials:<source kind>` (`env`, `file`, `vault`, `oauth2`).
    not_ready: Vec<String>,
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
    /// Present when the listener serves TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<TlsCheck>,
    /// Present when a credential has `rotation`.
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation: Option<RotationCheck>,
}

#[derive(Debug, Serialize, ToSchema)]
struct RotationCheck {
    /// How many rotated credentials have a failed step not yet overcome
    /// (does not make the gateway unready: the key in use still works;
    /// `/v1/admin/credentials/{name}/rotate`'s 409 details and the audit
    /// trail say which step and why). Null when the store cannot be read.
    failing: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
struct TlsCheck {
    /// The certificate or key files changed and cannot be served; the
    /// previous pair still is (does not make the gateway unready; the log
    /// says which file and why).
    reload_failed: bool,
}

#[derive(Debug, Serialize, ToSchema)]
struct CredentialsCheck {
    /// How many credentials cannot be loaded now.
    unavailable: usize,
    /// Of those, how many by kind of source.
    kinds: BTreeMap<&'static str, usize>,
}

#[derive(Debug, Serialize, ToSchema)]
struct StoreCheck {
    ok: bool,
    kind: SubsystemKind,
}

#[derive(Debug, Serialize, ToSchema)]
struct AuditCheck {
    ok: bool,
    kind: SubsystemKind,
    /// The trail's storage is below `audit.min_free_bytes` (does not make it unready).
    low_space: bool,
    /// Unauthenticated refusals counted but not recorded.
    unrecorded_refusals: u64,
}

/// Which backend a store or trail is.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum SubsystemKind {
    Memory,
    File,
    Redis,
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
        (status = 503, description = "Not ready: a credential, the store or the audit trail is unavailable (`not_ready` says which)", body = Ready),
    ),
)]
pub(super) async fn ready(State(gw): State<Arc<Gateway>>) -> (StatusCode, Json<Ready>) {
    let unavailable = gw.credentials.unavailable().await;
    if !unavailable.is_empty() {
        tracing::warn!(credentials = ?unavailable, "credentials unavailable");
    }
    // Which kinds of source fail, never which credential or where it points.
    let mut kinds = BTreeMap::<&'static str, usize>::new();
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
        StoreConfig::Memory => SubsystemKind::Memory,
        StoreConfig::File(_) => SubsystemKind::File,
        StoreConfig::Redis(_) => SubsystemKind::Redis,
    };
    let audit_kind = if gw.config.audit.redis {
        SubsystemKind::Redis
    } else {
        SubsystemKind::File
    };
    let rotation = if gw.config.credentials.values().any(|c| c.rotation.is_some()) {
        Some(RotationCheck {
            failing: crate::rotation::failing(&gw).await.ok(),
        })
    } else {
        None
    };
    let body = Ready {
        status: if ok {
            Readiness::Ready
        } else {
            Readiness::NotReady
        },
        not_ready,
        checks: Checks {
            credentials: CredentialsCheck {
                unavailable: unavailable.len(),
                kinds,
            },
            store: StoreCheck {
                ok: store_ok,
                kind: store_kind,
            },
            audit: AuditCheck {
                ok: audit_ok,
                kind: audit_kind,
                low_space: gw.audit_space_low(),
                unrecorded_refusals: gw.refusals.unrecorded_total(),
            },
            load: LoadCheck {
                shedding: load.shedding,
                shed_total: load.shed_total,
            },
            tls: gw.tls.as_ref().map(|t| TlsCheck {
                reload_failed: t.problem().is_some(),
            }),
            rotation,
        },
    };
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
