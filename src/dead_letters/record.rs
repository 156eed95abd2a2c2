//! The dead letter and its store operations.
//!
//! A dead letter holds the validated arguments (redacted, for people) and the
//! frozen request exactly as built, without any credential or upstream
//! header. A retry claims the letter (`retrying`, with a lease) by
//! compare-and-swap, marks it `dispatched` just before the request leaves,
//! and records how it ended. A retry that fails — or whose process dies —
//! before the mark leaves the letter `pending`, to be retried again; one
//! that dies after it leaves the letter `unknown`, never re-sent. Kept for
//! its workflow's `dead_letters.retention`, then purged with an audit record
//! ([`super::purge`]); the store drops a letter a day after that on its own,
//! should no toolgate be left to purge it.
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
use crate::config::DEFAULT_DEAD_LETTER_RETENTION;
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::identity::Acting;
use crate::request::FrozenRequest;
use crate::store::record::{self, Step};
use crate::store::{Ns, Store, StoreError, now_ms};

/// How long the store keeps a letter past its retention, for a store that
/// no toolgate purges any more.
pub(crate) const BACKSTOP: Duration = Duration::from_secs(86_400);
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
    /// When the letter is to be purged, by its workflow's retention when it
    /// was kept (0: a letter kept before retentions were recorded, purged
    /// 7 days after it was made).
    #[serde(default)]
    pub retain_until_ms: u64,
}

impl DeadLetter {
    /// When it is to be purged: at the retention it was kept with, or
    /// sooner if its workflow's retention has been shortened since.
    pub(crate) fn purge_at_ms(&self, retention_now: Option<Duration>) -> u64 {
        let kept = match self.retain_until_ms {
            0 => self
                .created_at_ms
                .saturating_add(ms(DEFAULT_DEAD_LETTER_RETENTION)),
            t => t,
        };
        retention_now.map_or(kept, |r| kept.min(self.created_at_ms.saturating_add(ms(r))))
    }

    /// How long the store is to keep it from now: its own retention and the backstop.
    fn store_ttl(&self) -> Duration {
        let until = self.purge_at_ms(None).saturating_add(ms(BACKSTOP));
        Duration::from_millis(until.saturating_sub(now_ms()).max(1))
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

const RECORD: (Ns, &str) = (Ns::DeadLetters, "dead letter");

fn encode(d: &DeadLetter) -> Result<Vec<u8>, StoreError> {
    record::encode(RECORD.1, d)
}

pub(super) fn decode(bytes: &[u8]) -> Result<DeadLetter, StoreError> {
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
    let workflow = entry.workflow.clone().unwrap_or_default();
    let retention = retention_of(gw, &workflow).unwrap_or(DEFAULT_DEAD_LETTER_RETENTION);
    let created_at_ms = now_ms();
    let dl = DeadLetter {
        id: format!("dl_{}", uuid::Uuid::new_v4().simple()),
        state: LetterState::Pending,
        agent: entry.agent.clone(),
        workflow,
        tool: tool.to_owned(),
        call_id: entry.call_id.clone(),
        code: code.as_str().to_owned(),
        arguments: entry.arguments.clone(),
        request,
        created_at_ms,
        outcome: None,
        retried_by: None,
        subject,
        lease_until_ms: 0,
        dispatched: false,
        retain_until_ms: created_at_ms.saturating_add(ms(retention)),
    };
    let kept = match encode(&dl) {
        Ok(bytes) => gw
            .store
            .insert_new(Ns::DeadLetters, &dl.id, &bytes, Some(dl.store_ttl()))
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

/// The retention its workflow sets now (`None`: no such workflow any more).
pub(crate) fn retention_of(gw: &Gateway, workflow: &str) -> Option<Duration> {
    gw.config
        .workflows
        .get(workflow)
        .map(|w| w.dead_letter_retention)
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
    /// When it will be purged (RFC 3339): its workflow's `dead_letters.retention` after it was kept.
    pub purge_at: String,
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
        purge_at: rfc3339(d.purge_at_ms(retention_of(gw, &d.workflow))),
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
    record::update(store, RECORD, id, |d: &DeadLetter| Some(d.store_ttl()), f).await
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
        d.lease_until_ms = now_ms() + ms(LEASE);
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

/// Whether a retry or discard holds it.
pub(super) fn held(d: &DeadLetter) -> bool {
    matches!(d.state, LetterState::Retrying | LetterState::Discarding)
}

/// Claim a letter past its retention for its purge (held like a discard,
/// whatever its state was): the letter as it was and as claimed, or `None`
/// if it is held, not yet due, or gone.
pub(super) async fn claim_for_purge(
    store: &dyn Store,
    id: &str,
    retention_now: Option<Duration>,
    now: u64,
) -> Result<Option<(DeadLetter, DeadLetter)>, StoreError> {
    let mut prior = None;
    let r = update(store, id, |d| {
        if held(d) || d.purge_at_ms(retention_now) > now {
            return Step::Keep(false);
        }
        prior = Some(d.clone());
        d.state = LetterState::Discarding;
        d.lease_until_ms = now + ms(LEASE);
        Step::Write(true)
    })
    .await?;
    Ok(match (r, prior) {
        (Some((claimed, true)), Some(prior)) => Some((prior, claimed)),
        _ => None,
    })
}

/// A purge that could not be recorded puts the letter back as it was.
pub(super) async fn unclaim(
    store: &dyn Store,
    id: &str,
    prior: &DeadLetter,
) -> Result<(), StoreError> {
    update(store, id, |d| {
        if d.state != LetterState::Discarding {
            return Step::Keep(());
        }
        d.state = prior.state;
        d.lease_until_ms = prior.lease_until_ms;
        Step::Write(())
    })
    .await?;
    Ok(())
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
    admin: &Acting<'_>,
    d: &DeadLetter,
) -> Result<(), ApiError> {
    let mut e = entry(gw, event, d);
    e.admin = Some(admin.name.to_owned());
    (e.admin_via, e.admin_sign_in) = crate::identity::Via::fields(admin.via);
    gw.audit.append(e).await?;
    Ok(())
}

pub(super) fn entry(gw: &Gateway, event: Event, d: &DeadLetter) -> Entry {
    let mut e = Entry::new(event);
    e.environment = Some(gw.config.environment.clone());
    e.target = Some(format!("dead_letter/{}", d.id));
    e.tool = Some(d.tool.clone());
    e.workflow = Some(d.workflow.clone());
    e.request_sha256 = Some(d.request.sha256.clone());
    e
}
