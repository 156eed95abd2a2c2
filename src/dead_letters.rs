//! Dead letters: calls that failed because of their credential — rejected by
//! the upstream (401/403, `credential_rejected`) or not available
//! (`credential_unavailable`) — kept so an admin can retry them once the
//! credential is repaired.
//!
//! A dead letter holds the validated arguments (redacted, for people) and the
//! frozen request exactly as built, without any credential or upstream
//! header. A retry attaches the credential current at that moment and sends
//! that request exactly once (compare-and-swap on the record); every step is
//! audited. Kept for `RETENTION`, then dropped by the store.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Gateway;
use crate::actions::{FrozenRequest, Outcome};
use crate::approvals::rfc3339;
use crate::audit::{Entry, Event};
use crate::error::{ApiError, Code};
use crate::pipeline::rate_limit::store_unavailable;
use crate::pipeline::{Timing, audit::Trail};
use crate::store::{Ns, Swapped, now_ms};

pub const RETENTION: Duration = Duration::from_secs(7 * 86_400);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: String,
    /// `pending`, `retrying`, `retried`, `failed`.
    pub state: String,
    pub agent: Option<String>,
    pub workflow: String,
    pub tool: String,
    pub call_id: Option<String>,
    pub code: String,
    pub arguments: Option<Value>,
    pub request: FrozenRequest,
    pub created_at_ms: u64,
    #[serde(default)]
    pub outcome: Option<Outcome>,
    #[serde(default)]
    pub retried_by: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
}

/// Keep a call that failed on its credential. Failures to keep it are logged:
/// the caller already gets the credential error.
pub async fn keep(
    gw: &Gateway,
    entry: &Entry,
    subject: Option<String>,
    workflow: &str,
    tool: &str,
    code: Code,
    request: FrozenRequest,
) {
    let dl = DeadLetter {
        id: format!("dl_{}", uuid::Uuid::new_v4().simple()),
        state: "pending".into(),
        agent: entry.agent.clone(),
        workflow: workflow.to_owned(),
        tool: tool.to_owned(),
        call_id: entry.call_id.clone(),
        code: code.as_str().to_owned(),
        arguments: entry.arguments.clone(),
        request,
        created_at_ms: now_ms(),
        outcome: None,
        retried_by: None,
        subject,
    };
    let bytes = serde_json::to_vec(&dl).unwrap_or_default();
    match gw
        .store
        .insert_new(Ns::DeadLetters, &dl.id, &bytes, Some(RETENTION))
        .await
    {
        Ok(_) => {
            tracing::warn!(dead_letter = %dl.id, tool, code = code.as_str(), "call kept as a dead letter")
        }
        Err(e) => tracing::error!(error = %e, "cannot keep a dead letter"),
    }
}

fn view(gw: &Gateway, d: &DeadLetter) -> Value {
    let r = gw.redactor.load();
    let mut body = d.request.body_json();
    r.redact_json(&mut body, &Default::default());
    json!({
        "id": d.id, "state": d.state, "agent": d.agent, "workflow": d.workflow, "tool": d.tool,
        "call_id": d.call_id, "code": d.code, "arguments": d.arguments,
        "created_at": rfc3339(d.created_at_ms), "retried_by": d.retried_by,
        "outcome": d.outcome.as_ref().map(|o| &o.body),
        "request": { "method": d.request.method, "url": r.redact_str(&d.request.url).0, "body": body, "sha256": d.request.sha256 },
    })
}

pub async fn list(gw: &Gateway) -> Result<Vec<Value>, ApiError> {
    let items = gw
        .store
        .list(Ns::DeadLetters, 10_000)
        .await
        .map_err(store_unavailable)?;
    Ok(items
        .iter()
        .filter_map(|(_, v)| serde_json::from_slice::<DeadLetter>(&v.value).ok())
        .map(|d| view(gw, &d))
        .collect())
}

fn not_found() -> ApiError {
    ApiError::new(Code::NotFound, "no such dead letter")
}

/// Move a pending dead letter to `state`; `Ok(None)` if it is not pending.
async fn claim(
    gw: &Gateway,
    id: &str,
    state: &str,
    admin: &str,
) -> Result<Option<DeadLetter>, ApiError> {
    let v = gw
        .store
        .get(Ns::DeadLetters, id)
        .await
        .map_err(store_unavailable)?
        .ok_or_else(not_found)?;
    let mut d: DeadLetter =
        serde_json::from_slice(&v.value).map_err(|_| ApiError::internal("damaged dead letter"))?;
    if d.state != "pending" {
        return Ok(None);
    }
    d.state = state.to_owned();
    d.retried_by = Some(admin.to_owned());
    let bytes = serde_json::to_vec(&d).unwrap_or_default();
    match gw
        .store
        .compare_and_swap(Ns::DeadLetters, id, v.version, &bytes, Some(RETENTION))
        .await
        .map_err(store_unavailable)?
    {
        Swapped::Done(_) => Ok(Some(d)),
        Swapped::Conflict(_) => Ok(None),
    }
}

async fn record(gw: &Gateway, event: Event, admin: &str, d: &DeadLetter) -> Result<(), ApiError> {
    let mut e = Entry::new(event);
    e.environment = Some(gw.config.environment.clone());
    e.admin = Some(admin.to_owned());
    e.target = Some(format!("dead_letter/{}", d.id));
    e.tool = Some(d.tool.clone());
    e.workflow = Some(d.workflow.clone());
    e.request_sha256 = Some(d.request.sha256.clone());
    gw.audit
        .append(e)
        .await
        .map(|_| ())
        .map_err(crate::pipeline::audit::unavailable)
}

/// Send the kept request again, once, with the credential current now.
pub async fn retry(gw: &Gateway, admin: &str, id: &str) -> Result<Value, ApiError> {
    let Some(mut d) = claim(gw, id, "retrying", admin).await? else {
        return Err(ApiError::new(
            Code::Conflict,
            "this dead letter was already retried or is being retried",
        ));
    };
    record(gw, Event::DeadLetterRetry, admin, &d).await?;
    let binding = gw.binding(&d.workflow, &d.tool).cloned();
    let result = match (binding, d.request.thaw()) {
        (Some(b), Some(req)) => {
            let mut trail = Trail::new(gw);
            trail.call(d.call_id.as_deref().unwrap_or(&d.id), None, None);
            if let Some(a) = &d.agent {
                trail.agent(a, &d.workflow);
            }
            trail.tool(&d.tool);
            trail.request(&d.request.sha256);
            trail.keep_dead_letters = false;
            trail.subject = d.subject.clone();
            crate::pipeline::execute(
                gw,
                &b,
                d.call_id.as_deref().unwrap_or(&d.id),
                req,
                &mut Timing::default(),
                &mut trail,
            )
            .await
        }
        (None, _) => Err(ApiError::new(
            Code::Conflict,
            "the tool is no longer available in its workflow; nothing was sent",
        )),
        (_, None) => Err(ApiError::internal(
            "the kept request does not match its hash; nothing was sent",
        )),
    };
    let (state, outcome) = match &result {
        Ok(o) => (
            "retried",
            Outcome {
                http_status: 200,
                body: o.body(),
            },
        ),
        Err(e) => (
            "failed",
            Outcome {
                http_status: e.code.status().as_u16(),
                body: e.body(),
            },
        ),
    };
    // Record the outcome on the record this retry claimed.
    if let Some(v) = gw
        .store
        .get(Ns::DeadLetters, id)
        .await
        .map_err(store_unavailable)?
    {
        d.state = state.to_owned();
        d.outcome = Some(outcome);
        let bytes = serde_json::to_vec(&d).unwrap_or_default();
        gw.store
            .compare_and_swap(Ns::DeadLetters, id, v.version, &bytes, Some(RETENTION))
            .await
            .map_err(store_unavailable)?;
    }
    Ok(view(gw, &d))
}

pub async fn discard(gw: &Gateway, admin: &str, id: &str) -> Result<Value, ApiError> {
    let Some(d) = claim(gw, id, "discarded", admin).await? else {
        return Err(ApiError::new(
            Code::Conflict,
            "this dead letter was already retried",
        ));
    };
    record(gw, Event::DeadLetterDiscard, admin, &d).await?;
    gw.store
        .delete(Ns::DeadLetters, id, None)
        .await
        .map_err(store_unavailable)?;
    Ok(json!({ "id": id, "state": "discarded" }))
}
