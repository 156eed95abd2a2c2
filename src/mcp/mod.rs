//! `/mcp`: toolgate as a Model Context Protocol server (streamable HTTP,
//! the 2025 session revisions), a second front door to the one pipeline.
//!
//! The HTTP side (`api::mcp`) authenticates at the gate like every agent
//! route and hands the body here; this module reads the JSON-RPC message,
//! applies the session rules and answers `initialize`, `ping`,
//! `tools/list` and `tools/call`. A tool call runs `pipeline::call` exactly
//! as `POST /v1/calls` does, with `via = mcp`.
//!
//! - [`jsonrpc`]: messages and the standard error codes;
//! - [`session`]: `Mcp-Session-Id`, kept in the store;
//! - [`tools`]: the tool list and a call's result.

pub(crate) mod jsonrpc;
pub(crate) mod session;
pub(crate) mod tools;

use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::pipeline::authenticate::{self, Presented};
use jsonrpc::{INVALID_REQUEST, METHOD_NOT_FOUND, Message, RpcError};

/// The revisions served, newest first; an `initialize` asking for another
/// gets the newest.
pub(crate) const VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];
/// Assumed when a request after `initialize` names none (as the 2025-06-18
/// revision says).
const DEFAULT_VERSION: &str = "2025-03-26";

pub(crate) const SESSION_HEADER: &str = "mcp-session-id";
pub(crate) const VERSION_HEADER: &str = "mcp-protocol-version";

/// An answer to one POST.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    /// A JSON-RPC answer; `None` for 202.
    pub body: Option<Value>,
    /// Set on the answer to `initialize`.
    pub session_id: Option<String>,
}

impl Reply {
    fn json(status: StatusCode, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            session_id: None,
        }
    }

    fn error(status: StatusCode, e: &RpcError) -> Reply {
        Reply::json(status, e.to_value())
    }

    fn accepted() -> Reply {
        Reply {
            status: StatusCode::ACCEPTED,
            body: None,
            session_id: None,
        }
    }
}

/// One POST to `/mcp` by a caller the gate let through.
pub(crate) async fn post(
    gw: &Gateway,
    presented: &Presented,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Reply, ApiError> {
    // Approver and admin keys never reach the tools (403).
    let agent = authenticate::agent(gw, presented)?;
    let message = match jsonrpc::parse(body) {
        Ok(m) => m,
        Err(e) => return Ok(Reply::error(StatusCode::BAD_REQUEST, &e)),
    };
    let ttl = gw.config.mcp.session_ttl;
    if let Message::Request { id, method, params } = &message
        && method == "initialize"
    {
        let asked = params.get("protocolVersion").and_then(Value::as_str);
        let version = asked
            .and_then(|v| VERSIONS.iter().find(|s| **s == v))
            .copied()
            .unwrap_or(VERSIONS[0]);
        let session_id = session::open(gw.store.as_ref(), &agent.name, version, ttl).await?;
        let result = json!({
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": false}},
            "serverInfo": {"name": "toolgate", "version": env!("CARGO_PKG_VERSION")},
        });
        return Ok(Reply {
            session_id: Some(session_id),
            ..Reply::json(StatusCode::OK, jsonrpc::result(id.clone(), result))
        });
    }
    let id = match &message {
        Message::Request { id, .. } => id.clone(),
        _ => Value::Null,
    };
    let Some(session_id) = header(headers, SESSION_HEADER) else {
        return Ok(Reply::error(
            StatusCode::BAD_REQUEST,
            &RpcError::new(
                id,
                INVALID_REQUEST,
                "an Mcp-Session-Id header is required; send initialize first",
            ),
        ));
    };
    let version = header(headers, VERSION_HEADER).unwrap_or(DEFAULT_VERSION);
    if !VERSIONS.contains(&version) {
        return Ok(Reply::error(
            StatusCode::BAD_REQUEST,
            &RpcError::new(
                id,
                INVALID_REQUEST,
                format!(
                    "unsupported MCP-Protocol-Version; supported: {}",
                    VERSIONS.join(", ")
                ),
            ),
        ));
    }
    if session::find(gw.store.as_ref(), session_id, &agent.name, ttl)
        .await?
        .is_none()
    {
        return Ok(Reply::error(
            StatusCode::NOT_FOUND,
            &RpcError::new(
                id,
                INVALID_REQUEST,
                "no such MCP session; initialize a new one",
            ),
        ));
    }
    let (id, method, params) = match message {
        Message::Request { id, method, params } => (id, method, params),
        Message::Notification | Message::Response => return Ok(Reply::accepted()),
    };
    let session_sha256 = session::hash(session_id);
    let answer = match method.as_str() {
        "ping" => Ok(json!({})),
        "tools/list" if params.get("cursor").is_some_and(|c| !c.is_null()) => Err(RpcError::new(
            id.clone(),
            jsonrpc::INVALID_PARAMS,
            "invalid cursor: the list has one page",
        )),
        "tools/list" => Ok(tools::redacted(gw, tools::list(&agent))),
        "tools/call" => tools::call(gw, presented, headers, &session_sha256, &id, &params).await,
        _ => Err(RpcError::new(
            id.clone(),
            METHOD_NOT_FOUND,
            "method not found; this server offers initialize, ping, tools/list and tools/call",
        )),
    };
    Ok(match answer {
        Ok(result) => Reply::json(StatusCode::OK, jsonrpc::result(id, result)),
        Err(mut e) => {
            e.message = gw.redactor.load().redact_str(&e.message).0.into_owned();
            Reply::error(StatusCode::OK, &e)
        }
    })
}

/// `DELETE /mcp`: end the caller's session. `Ok(false)` when there is none.
pub(crate) async fn end(
    gw: &Gateway,
    presented: &Presented,
    headers: &HeaderMap,
) -> Result<Option<bool>, ApiError> {
    let agent = authenticate::agent(gw, presented)?;
    let Some(id) = header(headers, SESSION_HEADER) else {
        return Ok(None);
    };
    Ok(Some(
        session::end(gw.store.as_ref(), id, &agent.name).await?,
    ))
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
