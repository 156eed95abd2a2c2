//! What the credentials page shows of each credential of this environment:
//! its source kind and environment, its kill switch, the version in use
//! (when it was loaded, and the keyed fingerprint the audit trail records
//! as `credential_fingerprint` — never the value), and from the access
//! review ([`operator::access_review`], as `GET /v1/admin/access-review`
//! computes it): its age against `max_age_days` and its last use.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::pages::human;
use crate::access_review::CredentialReview;
use crate::audit::chain;
use crate::gateway::Gateway;
use crate::operator;
use crate::revocations;

/// How long the page waits for a remote source (Vault, OAuth2, AWS).
const LOAD_WAIT: Duration = Duration::from_secs(5);

/// The version in use: when it was loaded, its fingerprint; or why there is none.
async fn in_use(gw: &Gateway, name: &str) -> Value {
    match tokio::time::timeout(LOAD_WAIT, gw.credentials.current(name, None)).await {
        Ok(Ok(loaded)) => {
            let since = SystemTime::now()
                .duration_since(loaded.loaded_at)
                .unwrap_or_default();
            json!({
                "version": loaded.version,
                "loaded_at": humantime::format_rfc3339_seconds(loaded.loaded_at).to_string(),
                "loaded_ago": human(u64::try_from(since.as_millis()).unwrap_or(u64::MAX)),
                "fingerprint": chain::fingerprint(
                    secrecy::ExposeSecret::expose_secret(&loaded.value).as_bytes(),
                    &gw.audit_key,
                ),
            })
        }
        // The error names the credential and why, never a value.
        Ok(Err(e)) => json!({ "problem": e.to_string() }),
        Err(_) => json!({ "problem": "its source did not answer in time" }),
    }
}

/// The page's context: `credentials`, and `review_problem` when the trail
/// could not be read for ages and last uses.
pub(super) async fn rows(gw: &std::sync::Arc<Gateway>) -> Value {
    let (reviewed, review_problem) = match operator::access_review(gw, None).await {
        Ok(r) => (r.credentials, None),
        Err(e) => {
            if let Some(internal) = &e.internal {
                tracing::warn!(detail = %internal, "console: no access review for the credentials page");
            }
            (Vec::new(), Some(e.message))
        }
    };
    let shown: Vec<_> = gw
        .config
        .credentials
        .iter()
        .filter(|(name, _)| gw.credentials.exists(name))
        .collect();
    // Each source is asked at once, so one that does not answer delays the page by LOAD_WAIT at most.
    let loaded =
        futures_util::future::join_all(shown.iter().map(|(name, _)| in_use(gw, name))).await;
    let rows: Vec<Value> = shown
        .iter()
        .zip(loaded)
        .map(|((name, def), in_use)| {
            let review: Option<&CredentialReview> =
                reviewed.iter().find(|c| &c.credential == *name);
            json!({
                "name": name,
                "kind": def.source.kind(),
                "environment": def.environment,
                "canary": def.canary,
                "rotated": def.rotation.is_some(),
                "disabled": gw.revocations.is_active(&revocations::credential_key(name)),
                "age_days": review.and_then(|r| r.age_days),
                "max_age_days": def.max_age_days,
                "stale": review.is_some_and(|r| r.stale),
                "calls": review.map(|r| r.calls),
                "last_used": review.and_then(|r| r.last_used.clone()),
                "in_use": in_use,
            })
        })
        .collect();
    json!({
        "credentials": rows,
        "review_problem": review_problem,
        "since_days": 90,
    })
}
