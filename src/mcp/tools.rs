//! `tools/list` and `tools/call`: the caller's tools as MCP describes them,
//! and a call through the same pipeline as `POST /v1/calls`, its answer
//! turned into an MCP tool result.

use http::HeaderMap;
use serde_json::{Map, Value, json};

use super::jsonrpc::{INVALID_PARAMS, RpcError};
use super::result::failed_with;
pub(crate) use super::result::redacted;
use super::status;
use super::wait::{self, Progress};
use crate::approvals::views::call_answer;
use crate::catalog::mcp_tool;
use crate::config::{ApprovalWhen, RESERVED_TOOL_NAME};
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::pipeline;
use crate::pipeline::authenticate::{Agent, Presented};
use crate::pipeline::call::{CallReply, CallRequest, Door, MAX_IDEMPOTENCY_KEY, MAX_TOOL_NAME};
use crate::telemetry::spans::CallSpan;

/// Where a call's idempotency key goes (the JSON-RPC id never is one).
pub(crate) const IDEMPOTENCY_META: &str = "dev.toolgate/idempotency_key";

/// The caller's callable tools, sorted by name, as `catalog::mcp_tool`
/// describes each.
pub(crate) fn list(agent: &Agent<'_>) -> Value {
    let tools: Vec<Value> = agent
        .tools
        .values()
        .filter(|b| agent.may_use(b))
        .map(|b| {
            let mut tool = mcp_tool(b, &title(&b.tool.name));
            // A call that may be held can answer `pending_approval` in
            // place of its result, which no output schema describes (and
            // clients check `structuredContent` against it).
            if !matches!(b.approval.when, ApprovalWhen::Never)
                && let Some(t) = tool.as_object_mut()
            {
                t.remove("outputSchema");
            }
            tool
        })
        .collect();
    json!({ "tools": with_status_tool(agent, tools) })
}

/// The list with `toolgate_action_status` in its place by name, where the
/// workflow can hold a call.
fn with_status_tool(agent: &Agent<'_>, mut tools: Vec<Value>) -> Vec<Value> {
    if status::listed(agent) {
        tools.push(status::tool());
        tools.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    }
    tools
}

/// A readable title from a tool's name: `search_leads` → `Search leads`.
fn title(name: &str) -> String {
    let spaced = name.replace(['_', '-'], " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}

/// `tools/call` with `params`, as request `id`, by `agent`. A call held
/// for approval waits for its decision (`mcp.approval_wait_seconds`),
/// sending its progress to `progress` when the request gave a token.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn call(
    gw: &Gateway,
    agent: &Agent<'_>,
    presented: &Presented,
    headers: &HeaderMap,
    session_sha256: Option<&str>,
    id: &Value,
    params: &Map<String, Value>,
    progress: &Progress,
) -> Result<Value, RpcError> {
    let invalid = |m: &str| RpcError::new(id.clone(), INVALID_PARAMS, m);
    let tool = match params.get("name") {
        Some(Value::String(n)) if !n.is_empty() && n.len() <= MAX_TOOL_NAME => n.clone(),
        _ => return Err(invalid("params.name must be a tool's name")),
    };
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => return Err(invalid("params.arguments must be an object")),
    };
    if tool == RESERVED_TOOL_NAME && status::listed(agent) {
        return Ok(redacted(gw, status::call(gw, agent, &arguments).await));
    }
    let idempotency_key = match params.get("_meta").and_then(|m| m.get(IDEMPOTENCY_META)) {
        None | Some(Value::Null) => None,
        Some(Value::String(k))
            if !k.is_empty()
                && k.len() <= MAX_IDEMPOTENCY_KEY
                && k.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Some(k.clone())
        }
        Some(_) => {
            return Err(invalid(
                "_meta[\"dev.toolgate/idempotency_key\"] must be 1 to 200 printable ASCII characters without spaces",
            ));
        }
    };
    let request = CallRequest {
        tool,
        arguments,
        call_id: format!("mcp_{}", uuid::Uuid::new_v4().simple()),
        idempotency_key,
        model: None,
        reason: None,
    };
    let span = CallSpan::mcp(
        &trace_headers(headers, params),
        "tools/call",
        session_sha256,
    );
    let door = Door::Mcp {
        session_sha256: session_sha256.map(str::to_owned),
    };
    let (reply, _) = pipeline::call(gw, presented, request, span, door).await;
    let result = match reply {
        Ok(CallReply::Done(outcome)) => {
            let value = serde_json::to_value(&outcome.result).map_err(|e| {
                RpcError::new(id.clone(), -32603, format!("cannot encode the result: {e}"))
            })?;
            // Redacted once more, then written out: the text is exactly
            // the structured content's JSON.
            return Ok(succeeded(redacted(gw, value)));
        }
        // Every string of the kept answer is redacted before the text is made of it.
        Ok(CallReply::Action { body, .. }) => {
            let body = waited(gw, body, wait::progress_token(params), progress).await;
            return Ok(kept(&redacted(gw, body), status::listed(agent)));
        }
        Err(e) if e.code == Code::UnknownTool => {
            // Unknown and not granted answer alike, as over REST; the hint
            // names the MCP way to list them.
            return Err(invalid(UNKNOWN_TOOL));
        }
        Err(e) => failed(&e),
    };
    Ok(redacted(gw, result))
}

/// What an unknown or not-granted tool gets over MCP (`-32602`).
const UNKNOWN_TOOL: &str =
    "no tool by that name is available to this agent; list them with tools/list";

/// A kept answer still open (held, or being made): the answer once the
/// action is final, or as it stands when `mcp.approval_wait_seconds` has
/// passed. Zero: the answer as it was.
async fn waited(gw: &Gateway, body: Value, token: Option<&Value>, progress: &Progress) -> Value {
    let status = body.get("status").and_then(Value::as_str);
    let open = matches!(status, Some("pending_approval" | "executing"));
    let action_id = body.get("action_id").and_then(Value::as_str);
    let (true, Some(action_id)) = (open, action_id) else {
        return body;
    };
    if gw.config.mcp.approval_wait.is_zero() {
        return body;
    }
    match wait::decided(gw, action_id, token, progress).await {
        Ok(Some(a)) => call_answer(&a).1,
        Ok(None) => body,
        Err(e) => {
            // Still kept as it was: the caller can ask for its outcome.
            tracing::warn!(action_id, error = %e, "cannot wait for a held MCP call's decision");
            body
        }
    }
}

/// A result the model gets: the text block is the result as JSON.
fn succeeded(result: Value) -> Value {
    let text = result.to_string();
    let structured = match result {
        Value::Object(_) => result,
        other => json!({ "result": other }),
    };
    json!({
        "content": [{"type": "text", "text": text}],
        "structuredContent": structured,
        "isError": false,
    })
}

/// An answer kept with an action: held for approval, or (a repeated
/// idempotency key) the first call's answer. `status_tool`: whether the
/// caller has `toolgate_action_status` to read an open one's outcome.
fn kept(body: &Value, status_tool: bool) -> Value {
    if body.get("status").and_then(Value::as_str) == Some("succeeded") {
        return succeeded(body.get("result").cloned().unwrap_or(Value::Null));
    }
    if let Some(error) = body.get("error") {
        let text = |k: &str| error.get(k).and_then(Value::as_str).unwrap_or_default();
        let details = error
            .get("details")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        return failed_with(text("code"), text("message"), &details, None);
    }
    let status = body
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("pending_approval");
    let action_id = body
        .get("action_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut structured = json!({"status": status, "action_id": action_id});
    if let Some(expires) = body.get("expires_at") {
        structured["expires_at"] = expires.clone();
    }
    let text = if status == "pending_approval" {
        format!(
            "This call is held for a person's approval (action {action_id}{}); it has not run yet. \
             To get its outcome, call the tool {RESERVED_TOOL_NAME} with {{\"action_id\": \"{action_id}\"}} later.",
            body.get("expires_at")
                .and_then(Value::as_str)
                .map(|e| format!(", expires {e}"))
                .unwrap_or_default()
        )
    } else if status_tool {
        format!(
            "This call is {status} (action {action_id}). To get its outcome, call the tool \
             {RESERVED_TOOL_NAME} with {{\"action_id\": \"{action_id}\"}} later."
        )
    } else {
        format!(
            "This call is {status} (action {action_id}). Its outcome: GET /v1/calls/{action_id} with the same key."
        )
    };
    json!({
        "content": [{"type": "text", "text": text}],
        "structuredContent": structured,
        "isError": false,
    })
}

/// A call that did not succeed, as a result the model can act on.
fn failed(e: &ApiError) -> Value {
    failed_with(e.code.as_str(), &e.message, &e.details, e.retry_after_secs)
}

/// The request's headers, with a W3C `traceparent` (and `tracestate`) from
/// the call's `_meta` in place of the HTTP ones when it carries them: an
/// MCP client names the trace per request there.
fn trace_headers(headers: &HeaderMap, params: &Map<String, Value>) -> HeaderMap {
    let meta = params.get("_meta").and_then(Value::as_object);
    let field = |name: &str| {
        meta.and_then(|m| m.get(name))
            .and_then(Value::as_str)
            .and_then(|v| http::HeaderValue::from_str(v).ok())
    };
    let Some(traceparent) = field("traceparent") else {
        return headers.clone();
    };
    let mut out = headers.clone();
    out.insert("traceparent", traceparent);
    out.remove("tracestate");
    if let Some(state) = field("tracestate") {
        out.insert("tracestate", state);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::result::ERROR_META;
    use super::*;

    #[test]
    fn a_result_that_is_not_an_object_is_wrapped() {
        let r = succeeded(json!([1, 2]));
        assert_eq!(r["structuredContent"], json!({"result": [1, 2]}));
        assert_eq!(r["content"][0]["text"], "[1,2]");
        let r = succeeded(json!({"a": 1}));
        assert_eq!(r["structuredContent"], json!({"a": 1}));
        assert_eq!(r["content"][0]["text"], r#"{"a":1}"#);
    }

    #[test]
    fn a_failure_carries_its_stable_code() {
        let e = ApiError::new(Code::SchemaViolation, "bad arguments")
            .with_details(vec![json!({"pointer": "/n", "reason": "too big"})]);
        let r = failed(&e);
        assert_eq!(r["isError"], true);
        assert_eq!(r["_meta"][ERROR_META]["code"], "schema_violation");
        assert!(
            r["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains("/n: too big")
        );
    }

    #[test]
    fn titles_read_like_words() {
        assert_eq!(title("search_leads"), "Search leads");
    }
}
