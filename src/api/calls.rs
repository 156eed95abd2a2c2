//! `POST /v1/calls` — one tool call, in toolgate's native shape, as an
//! OpenAI `tool_calls` item, or as an Anthropic `tool_use` block.
//!
//! Parsing is strict: a wrong content type, malformed JSON, non-object
//! arguments or an OpenAI `arguments` string that is not JSON is
//! `bad_request`; serde_json's recursion limit keeps deep nesting from
//! overflowing the stack; the body limit is enforced before buffering.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Map, Value};

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::gate::WholeBody;
use crate::approvals::views::{Accepted, AgentView};
use crate::error::{ApiError, Code, ErrorBody};
use crate::gateway::Gateway;
use crate::pipeline;
use crate::pipeline::authenticate::{self, Presented};
use crate::pipeline::call::{
    CallReply, CallRequest, CallSucceeded, Door, MAX_CALL_ID, MAX_IDEMPOTENCY_KEY, MAX_MODEL,
    MAX_REASON, MAX_TOOL_NAME, Timing,
};
use crate::telemetry::spans::CallSpan;

/// `POST /v1/calls` in toolgate's own shape.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"tool": "search_leads", "arguments": {"query": "acme", "limit": 5}, "call_id": "c-1"}))]
#[allow(dead_code)] // the body's shape for the API document; [`parse`] reads it
pub(super) struct NativeCall {
    /// The tool's name.
    #[schema(max_length = 128)]
    tool: String,
    /// The tool's arguments (default `{}`).
    #[schema(value_type = Option<Object>)]
    arguments: Option<Value>,
    /// 1 to 128 printable ASCII characters without spaces; made when absent.
    #[schema(pattern = "^[!-~]{1,128}$")]
    call_id: Option<String>,
    /// Per agent, kept 24 h: a retry with the same key and arguments gets the first answer.
    #[schema(pattern = "^[!-~]{1,200}$")]
    idempotency_key: Option<String>,
    /// The model that asked for the call (at most 200 bytes), for the trail.
    #[schema(max_length = 200)]
    model: Option<String>,
    /// Why the model made the call (at most 2000 bytes), for the trail.
    #[schema(max_length = 2000)]
    reason: Option<String>,
}

/// `POST /v1/calls` as an OpenAI `tool_calls` item.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": "call_abc", "type": "function", "function": {"name": "search_leads", "arguments": "{\"query\":\"acme\"}"}}))]
#[allow(dead_code)] // the body's shape for the API document; [`parse`] reads it
pub(super) struct OpenAiCall {
    /// Used as the call id.
    #[schema(pattern = "^[!-~]{1,128}$")]
    id: Option<String>,
    /// `function` when present (not null).
    #[serde(rename = "type", default)]
    #[schema(pattern = "^function$")]
    kind: String,
    function: OpenAiFunctionCall,
    index: Option<u32>,
}

/// The function an OpenAI tool call names.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // the body's shape for the API document; [`parse`] reads it
pub(super) struct OpenAiFunctionCall {
    #[schema(max_length = 128)]
    name: String,
    /// A JSON-encoded object.
    arguments: Option<String>,
}

/// `POST /v1/calls` as an Anthropic `tool_use` block.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"type": "tool_use", "id": "toolu_01", "name": "search_leads", "input": {"query": "acme"}}))]
#[allow(dead_code)] // the body's shape for the API document; [`parse`] reads it
pub(super) struct AnthropicCall {
    /// Used as the call id.
    #[schema(pattern = "^[!-~]{1,128}$")]
    id: Option<String>,
    #[serde(rename = "type")]
    #[schema(value_type = String, pattern = "^tool_use$")]
    kind: String,
    #[schema(max_length = 128)]
    name: String,
    #[schema(value_type = Option<Object>)]
    input: Option<Value>,
}

/// Any of the call shapes `POST /v1/calls` takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // the body's shape for the API document; [`parse`] reads it
pub(super) enum CallBody {
    Native(NativeCall),
    OpenAi(OpenAiCall),
    Anthropic(AnthropicCall),
}

#[utoipa::path(
    post,
    path = "/v1/calls",
    operation_id = "create_call",
    tag = "agents",
    request_body = CallBody,
    responses(
        (status = 200, description = "The call succeeded upstream", body = CallSucceeded<'static>,
         headers(("server-timing" = String, description = "Time in the gateway and upstream"))),
        (status = 202, description = "Held for approval (`pending_approval`), or a repeat of a call still being made (`executing`)", body = Accepted),
        (status = 400, description = "`bad_request`: malformed JSON, wrong content type, unknown fields, a caller text over its limit, an unusable path or header value", body = ErrorBody),
        (status = 403, description = "`forbidden`, `egress_denied`, `secret_in_arguments`, or (a repeat) `approval_denied`", body = ErrorBody),
        (status = 404, description = "`unknown_tool`: no such tool, or not granted", body = ErrorBody),
        (status = 409, description = "`conflict`: an idempotency key reused with other arguments or still in use, or an action left `unknown`", body = ErrorBody),
        (status = 410, description = "`approval_expired` (a repeat of an expired action)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`schema_violation`; `details`: `[{pointer, reason}]`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody,
         headers(("retry-after" = u64, description = "Seconds to wait"))),
        (status = 502, description = "`upstream_error` or `credential_rejected`", body = ErrorBody),
        (status = 503, description = "`credential_unavailable`, `store_unavailable`, `audit_unavailable`, or `overloaded`", body = ErrorBody),
        (status = 504, description = "`upstream_timeout`", body = ErrorBody),
    ),
)]
pub(super) async fn create(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    headers: HeaderMap,
    WholeBody(body): WholeBody,
) -> Response {
    let started = Instant::now();
    let (outcome, timing) = match parse(&headers, &body) {
        Ok(req) => pipeline::call(&gw, &who, req, CallSpan::rest(&headers), Door::Rest).await,
        Err(e) => (Err(e), Timing::default()),
    };
    let outcome = match outcome {
        Ok(CallReply::Done(o)) => o.to_json().map(|bytes| {
            (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                bytes,
            )
                .into_response()
        }),
        Ok(CallReply::Action { status, body }) => Ok((status, Json(body)).into_response()),
        Err(e) => Err(e),
    };
    let mut response = match outcome {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(
                code = e.code.as_str(),
                status = e.code.status().as_u16(),
                "call not completed"
            );
            e.into_response()
        }
    };
    let total = started.elapsed();
    let upstream = timing.upstream.unwrap_or_default();
    let server_timing = match timing.upstream {
        Some(_) => format!(
            "gateway;dur={:.3}, upstream;dur={:.3}",
            total.saturating_sub(upstream).as_secs_f64() * 1000.0,
            upstream.as_secs_f64() * 1000.0
        ),
        None => format!("gateway;dur={:.3}", total.as_secs_f64() * 1000.0),
    };
    if let Ok(v) = HeaderValue::from_str(&server_timing) {
        response.headers_mut().insert("server-timing", v);
    }
    response
}

pub(crate) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<CallRequest, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false);
    if !is_json {
        return Err(ApiError::bad_request(
            "send the call as JSON with Content-Type: application/json",
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON ({e})")))?;
    let Value::Object(obj) = value else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    if obj.contains_key("function") {
        parse_openai(&obj)
    } else if obj.get("type").and_then(Value::as_str) == Some("tool_use") {
        parse_anthropic(&obj)
    } else {
        parse_native(&obj)
    }
}

fn string_field(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(format!("{key} must be a string"))),
    }
}

/// A string field of at most `max` bytes.
fn bounded_field(
    obj: &Map<String, Value>,
    key: &str,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match string_field(obj, key)? {
        Some(s) if s.len() > max => Err(ApiError::bad_request(format!(
            "{key} must be at most {max} bytes"
        ))),
        other => Ok(other),
    }
}

/// The tool's name, required.
fn tool_name(obj: &Map<String, Value>, key: &str, shown: &str) -> Result<String, ApiError> {
    bounded_field(obj, key, MAX_TOOL_NAME)?
        .ok_or_else(|| ApiError::bad_request(format!("{shown} is required")))
}

fn reject_unknown(obj: &Map<String, Value>, known: &[&str]) -> Result<(), ApiError> {
    let unknown: Vec<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "unknown field(s) in the call: {}",
            unknown.join(", ")
        )))
    }
}

/// A caller-chosen id is kept when it is short and printable; otherwise one is made.
fn call_id(given: Option<String>) -> Result<String, ApiError> {
    match given {
        None => Ok(format!("call_{}", uuid::Uuid::new_v4().simple())),
        Some(id)
            if !id.is_empty()
                && id.len() <= MAX_CALL_ID
                && id.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(id)
        }
        Some(_) => Err(ApiError::bad_request(
            "call_id must be 1 to 128 printable ASCII characters without spaces",
        )),
    }
}

fn idempotency_key(given: Option<String>) -> Result<Option<String>, ApiError> {
    match given {
        Some(k)
            if k.is_empty()
                || k.len() > MAX_IDEMPOTENCY_KEY
                || !k.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Err(ApiError::bad_request(
                "idempotency_key must be 1 to 200 printable ASCII characters without spaces",
            ))
        }
        other => Ok(other),
    }
}

fn arguments(v: Option<&Value>, what: &str) -> Result<Value, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        Some(_) => Err(ApiError::bad_request(format!(
            "{what} must be a JSON object"
        ))),
    }
}

fn parse_native(obj: &Map<String, Value>) -> Result<CallRequest, ApiError> {
    reject_unknown(
        obj,
        &[
            "tool",
            "arguments",
            "call_id",
            "idempotency_key",
            "model",
            "reason",
        ],
    )?;
    let tool = tool_name(obj, "tool", "tool")?;
    Ok(CallRequest {
        tool,
        arguments: arguments(obj.get("arguments"), "arguments")?,
        call_id: call_id(string_field(obj, "call_id")?)?,
        idempotency_key: idempotency_key(string_field(obj, "idempotency_key")?)?,
        model: bounded_field(obj, "model", MAX_MODEL)?,
        reason: bounded_field(obj, "reason", MAX_REASON)?,
    })
}

fn parse_openai(obj: &Map<String, Value>) -> Result<CallRequest, ApiError> {
    reject_unknown(obj, &["id", "type", "function", "index"])?;
    if let Some(t) = obj.get("type")
        && t != "function"
    {
        return Err(ApiError::bad_request(
            "type must be \"function\" for an OpenAI tool call",
        ));
    }
    let Some(Value::Object(function)) = obj.get("function") else {
        return Err(ApiError::bad_request(
            "function must be an object with name and arguments",
        ));
    };
    let tool = tool_name(function, "name", "function.name")?;
    let arguments = match function.get("arguments") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(Value::String(s)) if s.trim().is_empty() => Value::Object(Map::new()),
        Some(Value::String(s)) => {
            let v: Value = serde_json::from_str(s).map_err(|e| {
                ApiError::bad_request(format!("function.arguments is not valid JSON ({e})"))
            })?;
            if !v.is_object() {
                return Err(ApiError::bad_request(
                    "function.arguments must encode a JSON object",
                ));
            }
            v
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "function.arguments must be a JSON-encoded string",
            ));
        }
    };
    Ok(CallRequest {
        tool,
        arguments,
        call_id: call_id(string_field(obj, "id")?)?,
        idempotency_key: None,
        model: None,
        reason: None,
    })
}

fn parse_anthropic(obj: &Map<String, Value>) -> Result<CallRequest, ApiError> {
    reject_unknown(obj, &["id", "type", "name", "input"])?;
    let tool = tool_name(obj, "name", "name")?;
    Ok(CallRequest {
        tool,
        arguments: arguments(obj.get("input"), "input")?,
        call_id: call_id(string_field(obj, "id")?)?,
        idempotency_key: None,
        model: None,
        reason: None,
    })
}

#[derive(serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct WaitQuery {
    /// Long-poll: wait up to this many seconds (at most 60) for a final state.
    wait: Option<u64>,
}

/// `GET /v1/calls/{action_id}?wait=N`: the action's state; with `wait`, long-polls
/// up to N seconds (at most 60) for a final state. Only the agent that made the call sees it.
#[utoipa::path(
    get,
    path = "/v1/calls/{action_id}",
    operation_id = "get_call",
    tag = "agents",
    params(("action_id" = String, Path, description = "The action's id"), WaitQuery),
    responses(
        (status = 200, description = "The action's state and, when final, its result or error", body = AgentView),
        (status = 400, description = "`bad_request`: `wait` is not a whole number of seconds", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an agent key or session token", body = ErrorBody),
        (status = 404, description = "`not_found`: no such action of this agent", body = ErrorBody),
        (status = 503, description = "`store_unavailable`, or `overloaded`", body = ErrorBody),
    ),
)]
pub(super) async fn status(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    axum::extract::Path(id): axum::extract::Path<String>,
    query: Result<axum::extract::Query<WaitQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AgentView>, ApiError> {
    let agent = authenticate::agent(&gw, &who)?;
    let Ok(axum::extract::Query(q)) = query else {
        return Err(ApiError::bad_request(
            "wait must be a whole number of seconds",
        ));
    };
    let wait = std::time::Duration::from_secs(q.wait.unwrap_or(0));
    let a = crate::approvals::wait::wait_for(&gw, &id, wait).await?;
    match a {
        Some(a) if a.agent == agent.name => Ok(Json(crate::approvals::views::agent_view(&a))),
        _ => Err(ApiError::new(Code::NotFound, "no such action")),
    }
}
