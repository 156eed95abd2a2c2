//! `GET /metrics`: every family in OpenMetrics text (see [`crate::metrics`]),
//! with the gauges that count what the store and config hold read now.
//! Served on the main listener, or only on `metrics.listen` when it is set.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::actions::{self, State as ActionState};
use crate::gateway::Gateway;
use crate::metrics::Snapshot;
use crate::revocations;

/// The router of `metrics.listen`: `/metrics` and nothing else.
pub(crate) fn router(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .fallback(super::not_found)
        .with_state(gw)
}

pub(super) async fn metrics(State(gw): State<Arc<Gateway>>) -> impl IntoResponse {
    let text = gw.metrics.encode(&snapshot(&gw).await);
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
