//! What travels through the pipeline: the call as posted, the per-call
//! context the stages share, and the ways a call can end.
//!
//! Nothing in here acts; the stages do.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::audit::Trail;
pub(crate) use super::audit::{
    MAX_CALL_ID, MAX_IDEMPOTENCY_KEY, MAX_MODEL, MAX_REASON, MAX_TOOL_NAME, Reached,
};
use super::authenticate::Agent;
use super::shape::ResultBody;
use crate::catalog::ToolBinding;
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::request::FrozenRequest;
use crate::telemetry::spans::CallSpan;

/// A tool call as the orchestrator posted it, in toolgate's own terms.
#[derive(Debug, Clone)]
pub(crate) struct CallRequest {
    pub tool: String,
    pub arguments: Value,
    pub call_id: String,
    pub idempotency_key: Option<String>,
    pub model: Option<String>,
    pub reason: Option<String>,
}

/// Where a request to run comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A call made now: `POST /v1/calls`.
    Direct,
    /// An action approvers approved; the id of the action.
    Approved(String),
    /// A dead letter an admin retried; the id of the letter.
    DeadLetter(String),
}

/// The front door a call made now came through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Door {
    /// `POST /v1/calls`.
    Rest,
    /// `tools/call` at `/mcp`, in the session whose id has this SHA-256
    /// (none in the stateless revision).
    Mcp { session_sha256: Option<String> },
}

impl Door {
    /// The `via` of metrics and audit records.
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Door::Rest => "rest",
            Door::Mcp { .. } => "mcp",
        }
    }
}

/// What a request that kept its place in a queue needs to run again.
#[derive(Debug)]
pub(crate) struct Kept<'a> {
    pub origin: Origin,
    pub workflow: &'a str,
    pub tool: &'a str,
    pub call_id: &'a str,
    pub request: &'a FrozenRequest,
}

/// Time spent upstream, for the Server-Timing header.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Timing {
    pub upstream: Option<Duration>,
}

/// One call on its way through the stages: who asks, for what, and what is
/// known so far. Stages fill it in; [`super::finish`] reads it at the end.
pub(crate) struct Call<'g> {
    pub gateway: &'g Gateway,
    /// Known once authenticated.
    pub caller: Option<Agent<'g>>,
    /// Known once resolved.
    pub binding: Option<Arc<ToolBinding>>,
    pub request: CallRequest,
    pub trail: Trail<'g>,
    pub timing: Timing,
    pub origin: Origin,
    /// The idempotency claim this call holds, until an action is created for it.
    pub claim: Option<Claim>,
    /// The call's span, which the stages' spans are children of.
    pub span: CallSpan,
}

impl<'g> Call<'g> {
    /// A call just posted.
    pub(crate) fn new(
        gateway: &'g Gateway,
        request: CallRequest,
        origin: Origin,
        span: CallSpan,
    ) -> Call<'g> {
        let mut trail = Trail::new(gateway);
        trail.call(
            &request.call_id,
            request.model.as_deref(),
            request.reason.as_deref(),
        );
        Call {
            gateway,
            caller: None,
            binding: None,
            request,
            trail,
            timing: Timing::default(),
            origin,
            claim: None,
            span,
        }
    }

    /// A request that waited in a queue, running now; `trail` holds what
    /// the queue knew of it.
    pub(crate) fn replaying(
        gateway: &'g Gateway,
        kept: &Kept<'_>,
        trail: Trail<'g>,
        span: CallSpan,
    ) -> Call<'g> {
        Call {
            gateway,
            caller: None,
            binding: None,
            request: CallRequest {
                tool: kept.tool.to_owned(),
                arguments: Value::Null,
                call_id: kept.call_id.to_owned(),
                idempotency_key: None,
                model: None,
                reason: None,
            },
            trail,
            timing: Timing::default(),
            origin: kept.origin.clone(),
            claim: None,
            span,
        }
    }
}

/// An idempotency key this call claimed.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    pub agent: String,
    pub key: String,
    pub action_id: String,
    /// An action exists for the key: the claim is kept, whatever happens.
    pub kept: bool,
}

/// A successful call.
#[derive(Debug)]
pub(crate) struct CallOutcome {
    pub call_id: String,
    pub result: ResultBody,
    pub upstream_status: u16,
    pub headers: Map<String, Value>,
    /// The audit record of the outcome.
    pub audit_id: String,
}

/// The 200 answer's body, serialized without copying the result.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct CallSucceeded<'a> {
    #[schema(value_type = String)]
    call_id: &'a str,
    #[schema(value_type = String, pattern = "^succeeded$")]
    status: &'static str,
    /// The upstream's answer, redacted and shaped by the tool's `result` settings.
    #[schema(value_type = Value)]
    result: &'a ResultBody,
    upstream_status: u16,
    /// Upstream headers the tool passes on; absent when none.
    #[serde(skip_serializing_if = "Map::is_empty")]
    #[schema(value_type = Option<Object>)]
    headers: &'a Map<String, Value>,
    /// The audit record of the outcome.
    #[schema(value_type = String)]
    audit_id: &'a str,
    /// Set on a repeat with the same idempotency key: the action that holds the first answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    action_id: Option<&'a str>,
}

impl CallOutcome {
    fn answer(&self) -> CallSucceeded<'_> {
        CallSucceeded {
            call_id: &self.call_id,
            status: "succeeded",
            result: &self.result,
            upstream_status: self.upstream_status,
            headers: &self.headers,
            audit_id: &self.audit_id,
            action_id: None,
        }
    }

    /// The 200 answer's body, as bytes (the hot path).
    pub(crate) fn to_json(&self) -> Result<Vec<u8>, ApiError> {
        serde_json::to_vec(&self.answer())
            .map_err(|e| ApiError::internal(format!("cannot encode a call's answer: {e}")))
    }

    /// The 200 answer's body, as a value (to keep with an action).
    pub(crate) fn body(&self) -> Result<Value, ApiError> {
        serde_json::to_value(self.answer())
            .map_err(|e| ApiError::internal(format!("cannot encode a call's answer: {e}")))
    }
}

/// How a call was answered.
#[derive(Debug)]
pub(crate) enum CallReply {
    /// Executed now.
    Done(CallOutcome),
    /// Kept as an action: an answer with this status and body (202 pending,
    /// or a replay of an earlier call with the same idempotency key).
    Action {
        status: http::StatusCode,
        body: Value,
    },
}

/// A run that did not succeed: the error for the caller, and what the
/// caller of [`super::replay`] or the terminal step needs to decide what to
/// keep.
#[derive(Debug)]
pub(crate) struct Failure {
    pub error: ApiError,
    /// The request as built, without its credential (for a dead letter).
    pub frozen: Option<FrozenRequest>,
    pub reached: Reached,
}

impl Failure {
    /// Whether the request may have reached the upstream.
    pub(crate) fn dispatched(&self) -> bool {
        self.reached == Reached::Upstream
    }
}

impl From<ApiError> for Failure {
    /// A refusal before anything was recorded or sent.
    fn from(error: ApiError) -> Failure {
        Failure {
            error,
            frozen: None,
            reached: Reached::Nothing,
        }
    }
}
