//! The one error type that reaches a caller, and its mapping to an HTTP answer.
//!
//! Every error carries a stable `code` (SPEC §8), a message written for the
//! caller (and so for the model), optional structured `details`, and an
//! internal detail that only ever goes to the (redacted) log. Nothing in the
//! caller-facing fields may name an internal path, an upstream URL with
//! credentials, or a stack trace.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// The stable error codes: what went wrong, for a program to act on.
// SPEC §8's codes, plus `overloaded` (load shedding), `request_timeout` (the
// whole-request bound), `not_found` (no such endpoint),
// `rotation_in_progress` (an admin's rotation while one is under way), and
// the connect callback's `oauth_state_invalid` and `oauth_denied`. The serialized
// names are `as_str`'s; the API document's enum is derived from this type,
// so a new code appears there by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    Unauthenticated,
    Forbidden,
    UnknownTool,
    SchemaViolation,
    RateLimited,
    ApprovalDenied,
    ApprovalExpired,
    CredentialUnavailable,
    CredentialRejected,
    EgressDenied,
    UpstreamError,
    UpstreamTimeout,
    PayloadTooLarge,
    BadRequest,
    NotFound,
    Conflict,
    AuditUnavailable,
    StoreUnavailable,
    Overloaded,
    RequestTimeout,
    /// A loaded secret found in a call's arguments or caller fields.
    SecretInArguments,
    /// A rotation of the credential is under way (minting, switching, or
    /// in its grace period).
    RotationInProgress,
    /// A connect callback's `state` is unknown, already used or expired.
    OauthStateInvalid,
    /// The end user (or the provider) refused a connection's consent.
    OauthDenied,
    Internal,
}

impl Code {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Code::Unauthenticated => "unauthenticated",
            Code::Forbidden => "forbidden",
            Code::UnknownTool => "unknown_tool",
            Code::SchemaViolation => "schema_violation",
            Code::RateLimited => "rate_limited",
            Code::ApprovalDenied => "approval_denied",
            Code::ApprovalExpired => "approval_expired",
            Code::CredentialUnavailable => "credential_unavailable",
            Code::CredentialRejected => "credential_rejected",
            Code::EgressDenied => "egress_denied",
            Code::UpstreamError => "upstream_error",
            Code::UpstreamTimeout => "upstream_timeout",
            Code::PayloadTooLarge => "payload_too_large",
            Code::BadRequest => "bad_request",
            Code::NotFound => "not_found",
            Code::Conflict => "conflict",
            Code::AuditUnavailable => "audit_unavailable",
            Code::StoreUnavailable => "store_unavailable",
            Code::Overloaded => "overloaded",
            Code::RequestTimeout => "request_timeout",
            Code::SecretInArguments => "secret_in_arguments",
            Code::RotationInProgress => "rotation_in_progress",
            Code::OauthStateInvalid => "oauth_state_invalid",
            Code::OauthDenied => "oauth_denied",
            Code::Internal => "internal",
        }
    }

    pub(crate) fn status(self) -> StatusCode {
        match self {
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            Code::Forbidden
            | Code::EgressDenied
            | Code::ApprovalDenied
            | Code::SecretInArguments
            | Code::OauthDenied => StatusCode::FORBIDDEN,
            Code::UnknownTool | Code::NotFound => StatusCode::NOT_FOUND,
            Code::SchemaViolation => StatusCode::UNPROCESSABLE_ENTITY,
            Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Code::ApprovalExpired => StatusCode::GONE,
            Code::CredentialUnavailable
            | Code::AuditUnavailable
            | Code::StoreUnavailable
            | Code::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Code::CredentialRejected | Code::UpstreamError => StatusCode::BAD_GATEWAY,
            Code::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Code::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::BadRequest | Code::OauthStateInvalid => StatusCode::BAD_REQUEST,
            Code::Conflict | Code::RotationInProgress => StatusCode::CONFLICT,
            Code::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error on its way to the caller.
#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
    /// Safe for the caller: helps the model fix its call, reveals nothing internal.
    pub message: String,
    pub details: Vec<Value>,
    /// For the log only (it passes the redacting log writer).
    pub internal: Option<String>,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            details: Vec::new(),
            internal: None,
            retry_after_secs: None,
        }
    }

    pub(crate) fn with_details(mut self, details: Vec<Value>) -> Self {
        self.details = details;
        self
    }

    pub(crate) fn with_internal(mut self, internal: impl Into<String>) -> Self {
        self.internal = Some(internal.into());
        self
    }

    pub(crate) fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub(crate) fn unauthenticated() -> Self {
        ApiError::new(
            Code::Unauthenticated,
            "a valid key is required in the Authorization header (Bearer)",
        )
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(Code::Forbidden, message)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(Code::BadRequest, message)
    }

    pub(crate) fn internal(internal: impl Into<String>) -> Self {
        ApiError::new(Code::Internal, "toolgate could not complete the request")
            .with_internal(internal)
    }

    /// The upstream's status, when the upstream's answer caused this error.
    pub(crate) fn upstream_status(&self) -> Option<u16> {
        self.details
            .first()
            .and_then(|d| d.get("upstream_status"))
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
    }

    /// Log the internal detail now, once: it is taken, so no later step logs it again.
    pub(crate) fn log_detail(&mut self, call_id: &str) {
        if let Some(internal) = self.internal.take() {
            tracing::warn!(code = self.code.as_str(), call_id, detail = %internal, "call failed");
        }
    }

    /// The JSON body of SPEC §8, typed.
    pub(crate) fn answer(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
                details: self.details.clone(),
            },
        }
    }

    /// The JSON body of SPEC §8, as a value (to keep with an action).
    pub(crate) fn body(&self) -> Value {
        serde_json::to_value(self.answer()).unwrap_or(Value::Null)
    }
}

/// Every error answer: `{"error": {"code", "message", "details"?}}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub(crate) struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, for the caller.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    pub code: Code,
    /// Written for the caller (and the model); names nothing internal.
    pub message: String,
    /// Structured details, such as `[{pointer, reason}]` for a
    /// `schema_violation` or the upstream's status for an `upstream_error`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub details: Vec<Value>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

/// The shared store could not answer: fail closed.
impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        ApiError::new(
            Code::StoreUnavailable,
            "toolgate's state store is unavailable; the call was not made",
        )
        .with_retry_after(1)
        .with_internal(e.to_string())
    }
}

/// The audit trail could not be written: toolgate does not act.
impl From<crate::audit::AuditError> for ApiError {
    fn from(e: crate::audit::AuditError) -> ApiError {
        ApiError::new(
            Code::AuditUnavailable,
            "toolgate cannot write its audit trail, so it does not act; retry shortly",
        )
        .with_retry_after(1)
        .with_internal(e.to_string())
    }
}

/// A credential could not be read from its source.
impl From<crate::secrets::CredentialError> for ApiError {
    fn from(e: crate::secrets::CredentialError) -> ApiError {
        if let crate::secrets::CredentialError::NotConnected { name } = &e {
            // What the orchestrator needs to offer the end user the link.
            return ApiError::new(
                Code::CredentialUnavailable,
                format!(
                    "credential {name} needs the end user's connection, and this session's subject has none; create one with POST /v1/connections and have the end user open its connect_url. The call was not made"
                ),
            )
            .with_details(vec![serde_json::json!({
                "credential": name,
                "reason": "connection_required",
                "connect": "POST /v1/connections",
            })]);
        }
        ApiError::new(
            Code::CredentialUnavailable,
            "the credential for this tool is not available right now; the call was not made",
        )
        .with_internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(internal) = &self.internal {
            tracing::warn!(code = self.code.as_str(), detail = %internal, "request failed");
        } else {
            tracing::debug!(code = self.code.as_str(), "request refused");
        }
        let (status, retry_after) = (self.code.status(), self.retry_after_secs);
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                details: self.details,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
