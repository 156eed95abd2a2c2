//! Actions: tool calls toolgate keeps in the store — calls waiting for a
//! person's approval, and calls made with an idempotency key — and the state
//! machine they move through.
//!
//! ```text
//! pending_approval ──approve (quorum)──▶ executing ──▶ succeeded | failed
//!        │ └──deny──▶ denied                 │
//!        └──expires──▶ expired               └──lease passed (process died)──▶ unknown
//! ```
//!
//! Every transition is a compare-and-swap on the stored record, so when many
//! approvals race exactly one moves the action to `executing`, and only that
//! one sends the request. An action whose executor died is never re-sent: it
//! becomes `unknown` for an operator to resolve. The frozen request carries
//! no credential; it is attached at execution time.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::pipeline::build::UpstreamRequest;
use crate::store::{Inserted, Ns, Store, StoreError, Swapped, now_ms};

/// How long a finished action (and its result) is kept.
pub const RETENTION: Duration = Duration::from_secs(7 * 86_400);
/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(86_400);
/// Extra time past the tool's timeout before an executing action counts as abandoned.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
    pub fn is_final(self) -> bool {
        !matches!(self, State::PendingApproval | State::Executing)
    }

    pub fn as_str(self) -> &'static str {
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

/// The upstream request exactly as it will be sent, minus its credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// The body bytes, base64 (standard).
    pub body: Option<String>,
    /// SHA-256 over method, URL, headers and body bytes.
    pub sha256: String,
}

impl FrozenRequest {
    pub fn freeze(req: &UpstreamRequest) -> FrozenRequest {
        let mut headers: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        headers.sort();
        let body = req
            .body
            .as_ref()
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b));
        let mut h = Sha256::new();
        h.update(req.method.as_str().as_bytes());
        h.update(b"\n");
        h.update(req.url.as_str().as_bytes());
        h.update(b"\n");
        for (k, v) in &headers {
            h.update(k.as_bytes());
            h.update(b": ");
            h.update(v.as_bytes());
            h.update(b"\n");
        }
        h.update(b"\n");
        if let Some(b) = &req.body {
            h.update(b);
        }
        FrozenRequest {
            method: req.method.as_str().to_owned(),
            url: req.url.as_str().to_owned(),
            headers,
            body,
            sha256: hex::encode(h.finalize()),
        }
    }

    /// Back to a request, byte for byte; `None` if the record was damaged.
    pub fn thaw(&self) -> Option<UpstreamRequest> {
        let mut headers = HeaderMap::new();
        for (k, v) in &self.headers {
            headers.append(
                HeaderName::from_bytes(k.as_bytes()).ok()?,
                HeaderValue::from_str(v).ok()?,
            );
        }
        let body = match &self.body {
            Some(b) => Some(Bytes::from(
                base64::engine::general_purpose::STANDARD.decode(b).ok()?,
            )),
            None => None,
        };
        let req = UpstreamRequest {
            method: Method::from_bytes(self.method.as_bytes()).ok()?,
            url: url::Url::parse(&self.url).ok()?,
            headers,
            body,
        };
        (FrozenRequest::freeze(&req).sha256 == self.sha256).then_some(req)
    }

    /// The body as JSON, for people to read.
    pub fn body_json(&self) -> Value {
        let Some(b) = &self.body else {
            return Value::Null;
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b)
            .unwrap_or_default();
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    pub by: String,
    pub reason: String,
    pub at_ms: u64,
}

/// An approver's change to the arguments: both versions' hashes are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
}

pub fn new_id() -> String {
    format!("act_{}", uuid::Uuid::new_v4().simple())
}

/// SHA-256 of a JSON value's serialization (object keys are ordered).
pub fn sha256_json(v: &Value) -> String {
    hex::encode(Sha256::digest(serde_json::to_vec(v).unwrap_or_default()))
}

pub fn lease_for(timeout: Duration) -> u64 {
    now_ms() + (timeout + LEASE_MARGIN).as_millis() as u64
}

fn ttl_of(a: &Action) -> Option<Duration> {
    a.state.is_final().then_some(RETENTION)
}

fn encode(a: &Action) -> Vec<u8> {
    serde_json::to_vec(a).unwrap_or_default()
}

fn decode(bytes: &[u8]) -> Result<Action, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError(format!("damaged action record: {e}")))
}

pub async fn create(store: &dyn Store, a: &Action) -> Result<bool, StoreError> {
    // The index first: an index entry without its action is dropped by the next sweep.
    if !a.state.is_final() {
        store.insert_new(Ns::OpenActions, &a.id, b"", None).await?;
    }
    Ok(matches!(
        store
            .insert_new(Ns::Actions, &a.id, &encode(a), ttl_of(a))
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

/// What a transition function decided.
pub enum Step<T> {
    /// Store the changed action, then return T.
    Write(T),
    /// Leave the record as it is and return T.
    Keep(T),
}

/// Apply `f` to the current record and store the result with compare-and-swap,
/// retrying on a concurrent change. `None` when the action does not exist.
pub async fn transition<T>(
    store: &dyn Store,
    id: &str,
    mut f: impl FnMut(&mut Action) -> Step<T>,
) -> Result<Option<(Action, T)>, StoreError> {
    loop {
        let Some(v) = store.get(Ns::Actions, id).await? else {
            return Ok(None);
        };
        let mut a = decode(&v.value)?;
        match f(&mut a) {
            Step::Keep(t) => return Ok(Some((a, t))),
            Step::Write(t) => match store
                .compare_and_swap(Ns::Actions, id, v.version, &encode(&a), ttl_of(&a))
                .await?
            {
                Swapped::Done(_) => {
                    if a.state.is_final() {
                        store.delete(Ns::OpenActions, id, None).await?;
                    }
                    return Ok(Some((a, t)));
                }
                Swapped::Conflict(_) => continue,
            },
        }
    }
}

/// What an idempotency key points at.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub tool: String,
    pub args_sha256: String,
    pub action_id: String,
}

/// Claim `key` for this call, or find the call that already claimed it.
pub async fn claim_idempotency(
    store: &dyn Store,
    agent: &str,
    key: &str,
    record: &IdempotencyRecord,
) -> Result<Option<IdempotencyRecord>, StoreError> {
    let k = format!("{agent}\u{1f}{key}");
    let bytes = serde_json::to_vec(record).unwrap_or_default();
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

/// Mark what time has settled: pending actions past their expiry become
/// `expired`; executing actions past their lease become `unknown`.
/// Returns the actions changed.
pub async fn sweep(store: &dyn Store) -> Result<Vec<Action>, StoreError> {
    let now = now_ms();
    let mut changed = Vec::new();
    for a in open(store).await? {
        let due = match a.state {
            State::PendingApproval => a.expires_at_ms != 0 && a.expires_at_ms <= now,
            State::Executing => a.lease_until_ms != 0 && a.lease_until_ms <= now,
            _ => false,
        };
        if !due {
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
            changed.push(a);
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frozen_requests_round_trip_and_detect_damage() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("x-tag", HeaderValue::from_static("t"));
        let req = UpstreamRequest {
            method: Method::POST,
            url: url::Url::parse("https://api.example.com/v1/leads/a%2Fb?x=1").unwrap(),
            headers,
            body: Some(Bytes::from_static(br#"{"name":"A"}"#)),
        };
        let f = FrozenRequest::freeze(&req);
        let back = f.thaw().unwrap();
        assert_eq!(back.url.as_str(), req.url.as_str());
        assert_eq!(back.body, req.body);
        assert_eq!(FrozenRequest::freeze(&back), f);
        assert_eq!(f.body_json(), json!({"name": "A"}));
        let damaged = FrozenRequest {
            url: "https://api.example.com/v1/leads/other".into(),
            ..f
        };
        assert!(damaged.thaw().is_none());
    }
}
