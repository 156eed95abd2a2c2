//! The dead letter and its store operations.
//!
//! A dead letter holds the validated arguments (redacted, for people) and the
//! frozen request exactly as built, without any credential or upstream
//! header. A retry claims the letter (`retrying`, with a lease) by
//! compare-and-swap, marks it `dispatched` just before the request leaves,
//! and records how it ended. A retry that fails — or whose process dies —
//! before the mark leaves the letter `pending`, to be retried again; one
//! that dies after it leaves the letter `unknown`, never re-sent. Kept for
//! `RETENTION`, then dropped by the store.
//!
//! ```text
//! pending ──retry──▶ retrying ──dispatched──▶ retried | failed
//!    ▲                  │  │                      (lease passed) ──▶ unknown
//!    └──────────────────┘  └──discard──▶ (deleted)
//!      failed or died before dispatch
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::actions::Outcome;
use crate::approvals::views::rfc3339;
use crate::audit::{Entry, Event};
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::request::FrozenRequest;
use crate::store::record::{self, Step};
use crate::store::{Ns, Store, StoreError, now_ms};

pub(crate) const RETENTION: Duration = Duration::from_secs(7 * 86_400);
/// How long a retry may hold a letter before it is presumed dead.
const LEASE: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LetterState {
    Pending,
    Retrying,
    Retried,
    Failed,
    /// A retry's process died after the request may have left.
    Unknown,
    /// Being discarded (deleted once the discard is recorded).
    #[serde(alias = "discarded")]
    Discarding,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: String,
    pub state: LetterState,
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
    /// While `retrying`: after this, the retry is presumed dead.
    #[serde(default)]
    pub lease_until_ms: u64,
    /// While `retrying`: the request may have left toolgate.
    #[serde(default)]
    pub dispatched: bool,
}

const RECORD: (Ns, &str) = (Ns::DeadLetters, "dead letter");

fn encode(d: &DeadLetter) -> Result<Vec<u8>, StoreError> {
    record::encode(RECORD.1, d)
}

fn decode(bytes: &[u8]) -> Result<DeadLetter, StoreError> {
    record::decode(RECORD.1, bytes)
}

/// Keep a call that failed on its credential; other failures are not kept.
/// Failures to keep it are logged: the caller already gets the credential error.
pub(crate) async fn keep_if_recoverable(
    gw: &Gateway,
    entry: &Entry,
    subject: Option<String>,
    tool: &str,
    code: Code,
    request: FrozenRequest,
) {
    if !matches!(code, Code::CredentialRejected | Code::CredentialUnavailable) {
        return;
    }
    let dl = DeadLetter {
        id: format!("dl_{}", uuid::Uuid::new_v4().simple()),
        state: LetterState::Pending,
        agent: entry.agent.clone(),
        workflow: entry.workflow.clone().unwrap_or_default(),
        tool: tool.to_owned(),
        call_id: entry.call_id.clone(),
        code: code.as_str().to_owned(),
        arguments: entry.arguments.clone(),
        request,
        created_at_ms: now_ms(),
        outcome: None,
        retried_by: None,
        subject,
        lease_until_ms: 0,
        dispatched: false,
    };
    let kept = match encode(&dl) {
        Ok(bytes) => gw
            .store
            .insert_new(Ns::DeadLetters, &dl.id, &bytes, Some(RETENTION))
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match kept {
        Ok(()) => {
            tracing::warn!(dead_letter = %dl.id, tool, code = code.as_str(), "call kept as a dead letter")
        }
        Err(e) => tracing::error!(error = %e, "cannot keep a dead letter"),
    }
}

/// The request a letter keeps, as an admin sees it: redacted, no credential.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct KeptRequestView {
    pub method: String,
    pub url: String,
    /// The body as JSON when it is JSON, else as text; null when there is none.
    pub body: Value,
    pub sha256: String,
}

/// What an admin sees of a letter: redacted, never a credential (it holds none).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct DeadLetterView {
    pub id: String,
    pub state: LetterState,
    pub agent: Option<String>,
    pub workflow: String,
    pub tool: String,
    pub call_id: Option<String>,
    /// The error code the call failed with.
    pub code: String,
    /// The validated arguments, redacted.
    #[schema(value_type = Option<Object>)]
    pub arguments: Option<Value>,
    /// RFC 3339.
    pub created_at: String,
    pub retried_by: Option<String>,
    /// The answer of its retry: a call's `200` body or an error body.
    #[schema(value_type = Option<Object>)]
    pub outcome: Option<Value>,
    pub request: KeptRequestView,
}

pub(crate) fn view(gw: &Gateway, d: &DeadLetter) -> DeadLetterView {
    let r = gw.redactor.load();
    let mut body = d.request.body_json();
    r.redact_json(&mut body, &Default::default());
    DeadLetterView {
        id: d.id.clone(),
        state: d.state,
        agent: d.agent.clone(),
        workflow: d.workflow.clone(),
        tool: d.tool.clone(),
        // The caller wrote it: redacted like everything it sent.
        call_id: d.call_id.as_deref().map(|c| r.redact_str(c).0.into_owned()),
        code: d.code.clone(),
        arguments: d.arguments.clone(),
        created_at: rfc3339(d.created_at_ms),
        retried_by: d.retried_by.clone(),
        outcome: d.outcome.as_ref().map(|o| o.body.clone()),
        request: KeptRequestView {
            method: d.request.method.clone(),
            url: r.redact_str(&d.request.url).0.into_owned(),
            body,
            sha256: d.request.sha256.clone(),
        },
    }
}

pub(crate) async fn list(gw: &Gateway) -> Result<Vec<DeadLetterView>, ApiError> {
    let items = gw.store.list(Ns::DeadLetters, 10_000).await?;
    Ok(items
        .iter()
        .filter_map(|(_, v)| decode(&v.value).ok())
        .map(|d| view(gw, &d))
        .collect())
}

/// Letters an operator still has to settle — pending, being retried, or
/// `unknown` — counted by workflow (`toolgate_dead_letters`).
pub(crate) async fn unsettled_by_workflow(
    store: &dyn Store,
) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
    let mut counts = std::collections::BTreeMap::new();
    for (_, v) in store.list(Ns::DeadLetters, 10_000).await? {
        let Ok(d) = decode(&v.value) else {
            continue;
        };
        if matches!(
            d.state,
            LetterState::Pending | LetterState::Retrying | LetterState::Unknown
        ) {
            *counts.entry(d.workflow).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

/// Apply `f` to the stored letter with compare-and-swap, retrying on a
/// concurrent change. `None` when the letter does not exist.
async fn update<T>(
    store: &dyn Store,
    id: &str,
    f: impl FnMut(&mut DeadLetter) -> Step<T>,
) -> Result<Option<(DeadLetter, T)>, StoreError> {
    record::update(store, RECORD, id, |_| Some(RETENTION), f).await
}

/// Move a pending letter to `state` for `admin`; `None` if it is not pending.
pub async fn claim(
    store: &dyn Store,
    id: &str,
    state: LetterState,
    admin: &str,
) -> Result<Option<DeadLetter>, ApiError> {
    let claimed = update(store, id, |d| {
        if d.state != LetterState::Pending {
            return Step::Keep(false);
        }
        d.state = state;
        d.retried_by = Some(admin.to_owned());
        d.lease_until_ms = now_ms() + u64::try_from(LEASE.as_millis()).unwrap_or(u64::MAX);
        d.dispatched = false;
        Step::Write(true)
    })
    .await?;
    match claimed {
        None => Err(ApiError::new(Code::NotFound, "no such dead letter")),
        Some((d, true)) => Ok(Some(d)),
        Some((_, false)) => Ok(None),
    }
}

/// A claim that sent nothing is let go: the letter is `pending` again.
pub(crate) async fn release(store: &dyn Store, id: &str) -> Result<Option<DeadLetter>, StoreError> {
    let r = update(store, id, |d| {
        let held = matches!(d.state, LetterState::Retrying | LetterState::Discarding);
        if !held || d.dispatched {
            return Step::Keep(false);
        }
        d.state = LetterState::Pending;
        d.lease_until_ms = 0;
        Step::Write(true)
    })
    .await?;
    Ok(match r {
        Some((d, true)) => Some(d),
        _ => None,
    })
}

/// Mark a retry as about to send. `false` if it no longer holds the letter.
pub async fn mark_dispatched(store: &dyn Store, id: &str) -> Result<bool, StoreError> {
    let r = update(store, id, |d| {
        if d.state != LetterState::Retrying {
            return Step::Keep(false);
        }
        d.dispatched = true;
        Step::Write(true)
    })
    .await?;
    Ok(matches!(r, Some((_, true))))
}

/// Record how a dispatched retry ended.
pub(crate) async fn finish(
    store: &dyn Store,
    id: &str,
    state: LetterState,
    outcome: Outcome,
) -> Result<Option<DeadLetter>, StoreError> {
    let r = update(store, id, |d| {
        if d.state != LetterState::Retrying {
            return Step::Keep(());
        }
        d.state = state;
        d.lease_until_ms = 0;
        d.outcome = Some(outcome.clone());
        Step::Write(())
    })
    .await?;
    Ok(r.map(|(d, ())| d))
}

/// Letters whose retry is presumed dead (its lease passed, or — `all`, at
/// start on a store no other process uses — any still held): `pending`
/// again when nothing was sent, `unknown` when it may have been.
pub async fn sweep(store: &dyn Store, all: bool) -> Result<Vec<DeadLetter>, StoreError> {
    let now = now_ms();
    let mut changed = Vec::new();
    for (id, v) in store.list(Ns::DeadLetters, 10_000).await? {
        let Ok(d) = decode(&v.value) else {
            continue;
        };
        let held = matches!(d.state, LetterState::Retrying | LetterState::Discarding);
        if !held || (!all && d.lease_until_ms > now) {
            continue;
        }
        let r = update(store, &id, |d| {
            let held = matches!(d.state, LetterState::Retrying | LetterState::Discarding);
            if !held || (!all && d.lease_until_ms > now) {
                return Step::Keep(false);
            }
            d.state = if d.dispatched {
                LetterState::Unknown
            } else {
                LetterState::Pending
            };
            d.lease_until_ms = 0;
            Step::Write(true)
        })
        .await?;
        if let Some((d, true)) = r {
            changed.push(d);
        }
    }
    Ok(changed)
}

/// Record that a sweep settled a letter.
pub(crate) async fn settled(gw: &Gateway, d: &DeadLetter) {
    let (event, what) = match d.state {
        LetterState::Pending => (
            Event::Requeued,
            "dead letter pending again: nothing was sent",
        ),
        _ => (
            Event::Unknown,
            "dead letter retry interrupted: it may have been sent",
        ),
    };
    tracing::warn!(dead_letter = %d.id, state = ?d.state, "{what}");
    let mut e = entry(gw, event, d);
    e.decision = Some(what.to_owned());
    if let Err(err) = gw.audit.append(e).await {
        tracing::error!(dead_letter = %d.id, error = %err, "cannot audit a settled dead letter");
    }
}

/// The record of an admin's step on a letter.
pub(crate) async fn record(
    gw: &Gateway,
    event: Event,
    admin: &str,
    d: &DeadLetter,
) -> Result<(), ApiError> {
    let mut e = entry(gw, event, d);
    e.admin = Some(admin.to_owned());
    gw.audit.append(e).await?;
    Ok(())
}

fn entry(gw: &Gateway, event: Event, d: &DeadLetter) -> Entry {
    let mut e = Entry::new(event);
    e.environment = Some(gw.config.environment.clone());
    e.target = Some(format!("dead_letter/{}", d.id));
    e.tool = Some(d.tool.clone());
    e.workflow = Some(d.workflow.clone());
    e.request_sha256 = Some(d.request.sha256.clone());
    e
}
