//! `GET /metrics`: every family in OpenMetrics text (see [`crate::metrics`]),
//! with the gauges that count what the store and config hold: the config's
//! at each scrape, the store's at most every few seconds.
//! Served on the main listener, or only on `metrics.listen` when it is set.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::actions::{self, State as ActionState};
use crate::error::ErrorBody;
use crate::gateway::Gateway;
use crate::metrics::{Snapshot, StoreCounts};
use crate::revocations;

/// The router of `metrics.listen`: `/metrics` and nothing else.
pub(crate) fn router(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/metrics", get(own))
        .fallback(super::not_found)
        .with_state(gw)
}

/// `GET /metrics`. On the main listener it answers `404` when
/// `metrics.listen` serves the metrics elsewhere.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    responses(
        (status = 200, description = "Prometheus metrics", body = String,
         content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        (status = 404, description = "`not_found`: `metrics.listen` is set, and serves them there", body = ErrorBody),
    ),
)]
pub(super) async fn metrics(State(gw): State<Arc<Gateway>>) -> Response {
    if gw.config.metrics_listen.is_some() {
        return super::not_found().await.into_response();
    }
    served(&gw).await.into_response()
}

/// `/metrics` on `metrics.listen`.
async fn own(State(gw): State<Arc<Gateway>>) -> Response {
    served(&gw).await.into_response()
}

async fn served(gw: &Gateway) -> impl IntoResponse + use<> {
    let text = gw.metrics.encode(&snapshot(gw).await);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}

/// Counts per configured workflow (zeros included); names no longer
/// configured are left out, so every label value is a config name.
fn per_workflow(gw: &Gateway, mut counts: BTreeMap<String, u64>) -> Vec<(String, u64)> {
    gw.config
        .workflows
        .keys()
        .map(|w| (w.clone(), counts.remove(w).unwrap_or(0)))
        .collect()
}

async fn snapshot(gw: &Gateway) -> Snapshot {
    let StoreCounts {
        pending,
        dead_letters,
    } = gw.metrics.store_counts(|| store_counts(gw)).await;
    let now = SystemTime::now();
    let credentials = gw
        .config
        .credentials
        .iter()
        .map(|(name, def)| {
            let disabled = gw.revocations.is_active(&revocations::credential_key(name));
            (name.clone(), crate::config::lint::age(def, now), !disabled)
        })
        .collect();
    Snapshot {
        low_space: gw.audit_space_low(),
        unrecorded_refusals: gw.refusals.unrecorded_total(),
        pending,
        dead_letters,
        credentials,
    }
}

/// What the store holds now, per configured workflow.
async fn store_counts(gw: &Gateway) -> StoreCounts {
    let pending = match actions::open(gw.store.as_ref()).await {
        Ok(open) => {
            let mut counts = BTreeMap::new();
            for a in open
                .into_iter()
                .filter(|a| a.state == ActionState::PendingApproval)
            {
                *counts.entry(a.workflow).or_insert(0) += 1;
            }
            Some(per_workflow(gw, counts))
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot count pending actions");
            None
        }
    };
    let dead_letters =
        match crate::dead_letters::record::unsettled_by_workflow(gw.store.as_ref()).await {
            Ok(counts) => Some(per_workflow(gw, counts)),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot count dead letters");
                None
            }
        };
    StoreCounts {
        pending,
        dead_letters,
    }
}
