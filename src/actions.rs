//! Actions: tool calls toolgate keeps in the store — calls waiting for a
//! person's approval, and calls made with an idempotency key — and the state
//! machine they move through.
//!
//! ```text
//! pending_approval ──approve (quorum)──▶ executing ──dispatched──▶ succeeded | failed
//!   ▲    │ └──deny──▶ denied                 │  │
//!   │    └──expires──▶ expired               │  └──lease passed after dispatch──▶ unknown
//!   └──────── requeued: failed, or its process died, before dispatch
//! ```
//!
//! Every transition is a compare-and-swap on the stored record, so when many
//! approvals race exactly one moves the action to `executing`, and only that
//! one sends the request. Just before the request leaves, the action is
//! marked `dispatched`: an approved action that fails — or whose process
//! dies — before that mark was never sent, so it goes back to the queue
//! ([`requeue`]) instead of being reported `unknown`. One whose executor
//! died after the mark is never re-sent: it becomes `unknown` for an
//! operator to resolve. The frozen request carries no credential; it is
//! attached at execution time.
//!
//! This module is the record and its store operations only; deciding
//! (`approvals`) and running (`pipeline`) live above it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::request::FrozenRequest;
use crate::store::record;
pub(crate) use crate::store::record::Step;
use crate::store::{Inserted, Ns, Store, StoreError, now_ms};

/// How long a finished action (and its result) is kept.
pub(crate) const RETENTION: Duration = Duration::from_secs(7 * 86_400);
/// How long an idempotency key is remembered.
pub(crate) const IDEMPOTENCY_TTL: Duration = Duration::from_secs(86_400);
/// Extra time past the tool's timeout before an executing action counts as abandoned.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// Where an action is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ActionState)]
pub enum State {
    PendingApproval,
    Executing,
    Succeeded,
    Failed,
    Denied,
    Expired,
    Unknown,
}

impl State {
    pub(crate) fn is_final(self) -> bool {
        !matches!(self, State::PendingApproval | State::Executing)
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            State::PendingApproval => "pending_approval",
            State::Executing => "executing",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::Denied => "denied",
            State::Expired => "expired",
            State::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    pub by: String,
    pub reason: String,
    pub at_ms: u64,
}

/// An approver's change to the arguments: both versions' hashes are kept.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Edit {
    pub by: String,
    pub reason: String,
    pub at_ms: u64,
    pub previous_args_sha256: String,
    pub previous_request_sha256: String,
    pub args_sha256: String,
    pub request_sha256: String,
}

/// The answer the caller gets for a finished action.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub http_status: u16,
    pub body: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Action {
    pub id: String,
    pub state: State,
    pub workflow: String,
    pub agent: String,
    pub tool: String,
    pub call_id: String,
    pub created_at_ms: u64,
    /// When a pending action expires (0: not awaiting approval).
    pub expires_at_ms: u64,
    /// While executing: after this, the executor is presumed dead.
    #[serde(default)]
    pub lease_until_ms: u64,
    pub arguments: Value,
    pub args_sha256: String,
    pub request: FrozenRequest,
    pub approvals_required: u32,
    #[serde(default)]
    pub approvals: Vec<Decision>,
    #[serde(default)]
    pub denial: Option<Decision>,
    #[serde(default)]
    pub edits: Vec<Edit>,
    #[serde(default)]
    pub outcome: Option<Outcome>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// The session subject of the requester (selects per-subject credentials).
    #[serde(default)]
    pub subject: Option<String>,
    /// Set just before the request leaves toolgate. While `executing` and not
    /// dispatched, nothing was sent. (Records written before this field
    /// existed count as dispatched: the safe reading.)
    #[serde(default = "already_dispatched")]
    pub dispatched: bool,
    /// The front door the call came through when not REST (`mcp`), and the
    /// hashed MCP session: the records written when it is decided and run
    /// say so too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_session_sha256: Option<String>,
    /// What the caller said of the call (`model`, `reason`), as the trail
    /// keeps them: redacted and capped. Shown to the approver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orchestrator_reason: Option<String>,
}

fn already_dispatched() -> bool {
    true
}

pub fn new_id() -> String {
    format!("act_{}", uuid::Uuid::new_v4().simple())
}

pub(crate) fn lease_for(timeout: Duration) -> u64 {
    now_ms() + (timeout + LEASE_MARGIN).as_millis() as u64
}

fn ttl_of(a: &Action) -> Option<Duration> {
    a.state.is_final().then_some(RETENTION)
}

const RECORD: (Ns, &str) = (Ns::Actions, "action record");

fn encode(a: &Action) -> Result<Vec<u8>, StoreError> {
    record::encode(RECORD.1, a)
}

fn decode(bytes: &[u8]) -> Result<Action, StoreError> {
    record::decode(RECORD.1, bytes)
}

pub async fn create(store: &dyn Store, a: &Action) -> Result<bool, StoreError> {
    // The index first: an index entry without its action is dropped by the next sweep.
    if !a.state.is_final() {
        store.insert_new(Ns::OpenActions, &a.id, b"", None).await?;
    }
    Ok(matches!(
        store
            .insert_new(Ns::Actions, &a.id, &encode(a)?, ttl_of(a))
            .await?,
        Inserted::New
    ))
}

pub async fn load(store: &dyn Store, id: &str) -> Result<Option<Action>, StoreError> {
    match store.get(Ns::Actions, id).await? {
        Some(v) => decode(&v.value).map(Some),
        None => Ok(None),
    }
}

/// Every action still kept (a final one stays for [`RETENTION`]), for a history.
pub(crate) async fn kept(store: &dyn Store) -> Result<Vec<Action>, StoreError> {
    let listed = store.list(Ns::Actions, usize::MAX).await?;
    listed.iter().map(|(_, v)| decode(&v.value)).collect()
}

/// Actions not yet final (pending or executing). Index entries of actions
/// that finished or vanished are removed on the way.
pub async fn open(store: &dyn Store) -> Result<Vec<Action>, StoreError> {
    let mut out = Vec::new();
    for (id, _) in store.list(Ns::OpenActions, usize::MAX).await? {
        match load(store, &id).await? {
            Some(a) if !a.state.is_final() => out.push(a),
            _ => {
                store.delete(Ns::OpenActions, &id, None).await?;
            }
        }
    }
    Ok(out)
}

/// Apply `f` to the current record and store the result with compare-and-swap,
/// retrying on a concurrent change. `None` when the action does not exist.
/// An action that became final leaves the open index.
pub(crate) async fn transition<T>(
    store: &dyn Store,
    id: &str,
    mut f: impl FnMut(&mut Action) -> Step<T>,
) -> Result<Option<(Action, T)>, StoreError> {
    let mut wrote = false;
    let r = record::update(store, RECORD, id, ttl_of, |a| {
        let step = f(a);
        wrote = matches!(step, Step::Write(_));
        step
    })
    .await?;
    if wrote && r.as_ref().is_some_and(|(a, _)| a.state.is_final()) {
        store.delete(Ns::OpenActions, id, None).await?;
    }
    Ok(r)
}

/// What an idempotency key points at.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct IdempotencyRecord {
    pub tool: String,
    pub args_sha256: String,
    pub action_id: String,
    /// When the key was claimed (0 in records kept before this was).
    #[serde(default)]
    pub claimed_at_ms: u64,
}

/// Replace `stale` — a claim whose call never created its action (the
/// process died, or the store failed, between the two) — with `fresh`.
/// `false` if the key no longer holds `stale`.
pub(crate) async fn take_over_idempotency(
    store: &dyn Store,
    agent: &str,
    key: &str,
    stale: &IdempotencyRecord,
    fresh: &IdempotencyRecord,
) -> Result<bool, StoreError> {
    let k = idempotency_key(agent, key);
    let Some(v) = store.get(Ns::Idempotency, &k).await? else {
        return Ok(false);
    };
    if serde_json::from_slice::<IdempotencyRecord>(&v.value)
        .ok()
        .as_ref()
        != Some(stale)
    {
        return Ok(false);
    }
    let bytes = serde_json::to_vec(fresh)
        .map_err(|e| StoreError(format!("cannot encode an idempotency record: {e}")))?;
    let swapped = store
        .compare_and_swap(
            Ns::Idempotency,
            &k,
            v.version,
            &bytes,
            Some(IDEMPOTENCY_TTL),
        )
        .await?;
    Ok(matches!(swapped, crate::store::Swapped::Done(_)))
}

/// Claim `key` for this call, or find the call that already claimed it.
pub(crate) async fn claim_idempotency(
    store: &dyn Store,
    agent: &str,
    key: &str,
    record: &IdempotencyRecord,
) -> Result<Option<IdempotencyRecord>, StoreError> {
    let k = idempotency_key(agent, key);
    let bytes = serde_json::to_vec(record)
        .map_err(|e| StoreError(format!("cannot encode an idempotency record: {e}")))?;
    match store
        .insert_new(Ns::Idempotency, &k, &bytes, Some(IDEMPOTENCY_TTL))
        .await?
    {
        Inserted::New => Ok(None),
        Inserted::Exists(v) => serde_json::from_slice(&v.value)
            .map(Some)
            .map_err(|e| StoreError(format!("damaged idempotency record: {e}"))),
    }
}

/// Forget `key` if it still points at `action_id`: the call that claimed it
/// created no action, so a retry with the same key must run afresh.
pub(crate) async fn release_idempotency(
    store: &dyn Store,
    agent: &str,
    key: &str,
    action_id: &str,
) -> Result<(), StoreError> {
    let k = idempotency_key(agent, key);
    let Some(v) = store.get(Ns::Idempotency, &k).await? else {
        return Ok(());
    };
    let ours = serde_json::from_slice::<IdempotencyRecord>(&v.value)
        .is_ok_and(|r| r.action_id == action_id);
    if ours {
        store.delete(Ns::Idempotency, &k, Some(v.version)).await?;
    }
    Ok(())
}

fn idempotency_key(agent: &str, key: &str) -> String {
    format!("{}{key}", idempotency_prefix(agent))
}

/// What every idempotency key of `agent` starts with in the store.
pub(crate) fn idempotency_prefix(agent: &str) -> String {
    format!("{agent}\u{1f}")
}

/// Mark an executing action as about to be sent. `false` if this process no
/// longer holds it (it was requeued or settled meanwhile): then it must not send.
pub(crate) async fn mark_dispatched(store: &dyn Store, id: &str) -> Result<bool, StoreError> {
    let r = transition(store, id, |a| {
        if a.state != State::Executing {
            return Step::Keep(false);
        }
        if a.dispatched {
            return Step::Keep(true);
        }
        a.dispatched = true;
        Step::Write(true)
    })
    .await?;
    Ok(matches!(r, Some((_, true))))
}

/// An approved action that was never sent goes back to the queue: the
/// approval that moved it to `executing` is withdrawn (it could not be
/// carried out), the others stand. `None` unless it was executing and not
/// dispatched.
pub(crate) async fn requeue(store: &dyn Store, id: &str) -> Result<Option<Action>, StoreError> {
    let r = transition(store, id, |a| {
        if a.state != State::Executing || a.dispatched || a.approvals_required == 0 {
            return Step::Keep(false);
        }
        a.state = State::PendingApproval;
        a.lease_until_ms = 0;
        a.approvals.pop();
        Step::Write(true)
    })
    .await?;
    Ok(match r {
        Some((a, true)) => {
            store.insert_new(Ns::OpenActions, &a.id, b"", None).await?;
            Some(a)
        }
        _ => None,
    })
}

/// Remove an action that was kept only for its idempotency key and never
/// dispatched, together with the key: nothing happened, so nothing is kept.
pub(crate) async fn discard_undispatched(
    store: &dyn Store,
    id: &str,
    agent: &str,
    key: &str,
) -> Result<(), StoreError> {
    release_idempotency(store, agent, key, id).await?;
    store.delete(Ns::Actions, id, None).await?;
    store.delete(Ns::OpenActions, id, None).await?;
    Ok(())
}

/// What time settled in one sweep.
#[derive(Debug, Default)]
pub struct Swept {
    /// Now `expired` or `unknown`.
    pub settled: Vec<Action>,
    /// Back in the queue: approved, but never sent.
    pub requeued: Vec<Action>,
}

/// Mark what time has settled: pending actions past their expiry become
/// `expired`; executing actions past their lease become `unknown` if they
/// were dispatched, and go back to the queue if they were not.
pub async fn sweep(store: &dyn Store) -> Result<Swept, StoreError> {
    let now = now_ms();
    let mut swept = Swept::default();
    for a in open(store).await? {
        let due = match a.state {
            State::PendingApproval => a.expires_at_ms != 0 && a.expires_at_ms <= now,
            State::Executing => a.lease_until_ms != 0 && a.lease_until_ms <= now,
            _ => false,
        };
        if !due {
            continue;
        }
        if a.state == State::Executing
            && !a.dispatched
            && let Some(back) = requeue(store, &a.id).await?
        {
            swept.requeued.push(back);
            continue;
        }
        let r = transition(store, &a.id, |a| match a.state {
            State::PendingApproval if a.expires_at_ms != 0 && a.expires_at_ms <= now => {
                a.state = State::Expired;
                Step::Write(true)
            }
            State::Executing if a.lease_until_ms != 0 && a.lease_until_ms <= now => {
                a.state = State::Unknown;
                Step::Write(true)
            }
            _ => Step::Keep(false),
        })
        .await?;
        if let Some((a, true)) = r {
            swept.settled.push(a);
        }
    }
    Ok(swept)
}
