//! What a record says (`Entry`, its `Event`), where it landed (`Receipt`),
//! and the one error a sink reports. Values only: no storage, no hashing.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    ConfigLoaded,
    CallDenied,
    Pending,
    Approved,
    Denied,
    Expired,
    Executing,
    Executed,
    Failed,
    Unknown,
    AdminReload,
    AdminDisable,
    AdminEnable,
    AdminRevoke,
    DeadLetterRetry,
    DeadLetterDiscard,
    /// A dead letter's retention passed: it was deleted (`decision` says how long it was kept).
    DeadLetterPurged,
    /// An approved action or a retried dead letter went back to its queue: nothing was sent.
    Requeued,
    /// Requests refused before they authenticated, counted per code and
    /// source over a period (`count`, `source`, `period_ms`).
    RefusedUnauthenticated,
    /// A canary credential's value was seen (`credential`, where in
    /// `reason`); the agent involved is quarantined.
    CanarySeen,
    /// An admin let a quarantined agent back (`admin`, `reason`).
    AdminRelease,
    /// A rotation began (`credential`; `admin` when one asked for it).
    RotationStarted,
    /// A new key was minted and written to the source (`decision`: its id
    /// and the source's version).
    RotationMinted,
    /// Calls were switched to the new key; the grace period began.
    RotationSwitched,
    /// The grace period passed: the old key was revoked (or why not, in
    /// `decision`); the rotation is complete.
    RotationRevoked,
    /// A rotation step failed (`decision`: the step, why, when it is
    /// retried); the key in use stays in use.
    RotationFailed,
    /// A connect URL was handed out (`credential`, `subject`, `agent` or
    /// `admin` who asked).
    ConnectionStarted,
    /// The end user consented and the code was exchanged: the subject's
    /// tokens are kept.
    Connected,
    /// The end user or the provider refused consent (`reason`: the
    /// provider's error code).
    ConnectionDenied,
    /// A connection could not be made or kept (the code refused, a refresh
    /// token refused: `reason`).
    ConnectionFailed,
    /// A subject's token was refreshed.
    ConnectionRefreshed,
    /// A connection was ended (`decision`: whether the provider revoked it).
    Disconnected,
}

/// A record before the chain fields are set. Empty fields are left out.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub event: Option<Event>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_args_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_request_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_fingerprint: Option<String>,
    /// The end user a per-user connection is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redactions: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orchestrator_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_sha256: Option<String>,
    /// The front door of a call that did not come over REST (`mcp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// How an approver reached their decision when not over the REST API
    /// (`console`: the web console, signed in with their key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approver_via: Option<String>,
    /// How an admin acted when not over the REST API (`console`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_via: Option<String>,
    /// How the approver who decided in the console signed in there
    /// (`key`, `oidc`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approver_sign_in: Option<String>,
    /// How the admin who acted in the console signed in there (`key`, `oidc`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_sign_in: Option<String>,
    /// The MCP session a call came in, as the SHA-256 of its id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp_session_sha256: Option<String>,
    /// Where counted refusals came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// How many requests a counting record stands for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// How long the counting period was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_ms: Option<u64>,
}

impl Entry {
    pub fn new(event: Event) -> Entry {
        Entry {
            event: Some(event),
            ..Entry::default()
        }
    }
}

/// Where a record landed: its sequence number and hash (the "audit id").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub seq: u64,
    pub hash: String,
}

impl Receipt {
    pub(crate) fn id(&self) -> String {
        format!("{}:{}", self.seq, &self.hash[..16.min(self.hash.len())])
    }
}

#[derive(Debug, thiserror::Error)]
#[error("audit trail unavailable: {0}")]
pub struct AuditError(pub String);
