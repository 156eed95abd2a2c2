//! `/mcp`: toolgate as a Model Context Protocol server (streamable HTTP),
//! a second front door to the one pipeline. Both eras are served from the
//! one endpoint: a POST with `MCP-Protocol-Version: 2026-07-28` is answered
//! statelessly ([`stateless`]); every other request follows the 2025
//! session rules ([`session`]).
//!
//! The HTTP side (`api::mcp`) authenticates at the gate like every agent
//! route and hands the body here; this module reads the JSON-RPC message,
//! applies the era's rules and answers `initialize`, `ping` or
//! `server/discover`, `tools/list` and `tools/call`. A tool call runs `pipeline::call` exactly
//! as `POST /v1/calls` does, with `via = mcp`.
//!
//! - [`jsonrpc`]: messages and the standard error codes;
//! - [`session`]: `Mcp-Session-Id`, kept in the store;
//! - [`stateless`]: the 2026-07-28 revision's headers, `_meta` and results;
//! - [`tools`]: the tool list and a call's result.

pub(crate) mod jsonrpc;
pub(crate) mod session;
pub(crate) mod stateless;
pub(crate) mod tools;

use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::pipeline::authenticate::{self, Agent, Presented};
use jsonrpc::{INVALID_REQUEST, METHOD_NOT_FOUND, Message, RpcError};

/// The revisions served, newest first; an `initialize` asking for another
/// gets the newest.
pub(crate) const VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];
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
    let id = match &message {
        Message::Request { id, .. } => id.clone(),
        _ => Value::Null,
    };
    let asked = header(headers, VERSION_HEADER);
    if let Some(v) = asked
        && !SUPPORTED.contains(&v)
    {
        return Ok(stateless::unsupported(&id, v, &SUPPORTED));
    }
    if asked == Some(stateless::VERSION) || modern_without_header(headers, &message) {
        return stateless_post(gw, &agent, presented, headers, message).await;
    }
    session_post(gw, &agent, presented, headers, message).await
}

/// Every revision served, newest first (`server/discover`, `-32022`).
const SUPPORTED: [&str; 4] = [stateless::VERSION, VERSIONS[0], VERSIONS[1], VERSIONS[2]];

/// A request shaped for the stateless revision (its version in `_meta`, no
/// session) that did not send the version header: served by that
/// revision's rules, which refuse it for the missing header.
fn modern_without_header(headers: &HeaderMap, message: &Message) -> bool {
    let Message::Request { method, params, .. } = message else {
        return false;
    };
    method != "initialize"
        && header(headers, SESSION_HEADER).is_none()
        && params
            .get("_meta")
            .and_then(|m| m.get(stateless::META_VERSION))
            .is_some()
}

/// The `2026-07-28` revision: each request stands alone.
async fn stateless_post(
    gw: &Gateway,
    agent: &Agent<'_>,
    presented: &Presented,
    headers: &HeaderMap,
    message: Message,
) -> Result<Reply, ApiError> {
    let (id, method, params) = match message {
        Message::Request { id, method, params } => (id, method, params),
        Message::Notification => return Ok(Reply::accepted()),
        Message::Response => {
            return Ok(Reply::error(
                StatusCode::BAD_REQUEST,
                &RpcError::new(
                    Value::Null,
                    INVALID_REQUEST,
                    "this server sends no requests, so it takes no responses",
                ),
            ));
        }
    };
    if let Err(refused) = stateless::check(headers, &id, &method, &params) {
        return Ok(refused);
    }
    let answer = match method.as_str() {
        "server/discover" => Ok(stateless::discover(&SUPPORTED)),
        "tools/list" | "tools/call" => {
            answer(gw, agent, presented, headers, None, &id, &method, &params).await
        }
        _ => return Ok(stateless::unknown_method(&id, &method)),
    };
    Ok(reply(
        gw,
        id,
        answer.map(|r| stateless::complete(&method, r)),
    ))
}

/// The 2025 revisions: `initialize` opens a session, which every later
/// request names.
async fn session_post(
    gw: &Gateway,
    agent: &Agent<'_>,
    presented: &Presented,
    headers: &HeaderMap,
    message: Message,
) -> Result<Reply, ApiError> {
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
        "tools/list" | "tools/call" => {
            let session = Some(session_sha256.as_str());
            answer(
                gw, agent, presented, headers, session, &id, &method, &params,
            )
            .await
        }
        _ => Err(RpcError::new(
            id.clone(),
            METHOD_NOT_FOUND,
            "method not found; this server offers initialize, ping, tools/list and tools/call",
        )),
    };
    Ok(reply(gw, id, answer))
}

/// `tools/list` or `tools/call`, the same in every revision.
#[allow(clippy::too_many_arguments)]
async fn answer(
    gw: &Gateway,
    agent: &Agent<'_>,
    presented: &Presented,
    headers: &HeaderMap,
    session_sha256: Option<&str>,
    id: &Value,
    method: &str,
    params: &Map<String, Value>,
) -> Result<Value, RpcError> {
    if method == "tools/call" {
        return tools::call(gw, presented, headers, session_sha256, id, params).await;
    }
    if params.get("cursor").is_some_and(|c| !c.is_null()) {
        return Err(RpcError::new(
            id.clone(),
            jsonrpc::INVALID_PARAMS,
            "invalid cursor: the list has one page",
        ));
    }
    Ok(tools::redacted(gw, tools::list(agent)))
}

/// A JSON-RPC answer, its error message redacted like every other surface.
fn reply(gw: &Gateway, id: Value, answer: Result<Value, RpcError>) -> Reply {
    match answer {
        Ok(result) => Reply::json(StatusCode::OK, jsonrpc::result(id, result)),
        Err(mut e) => {
            e.message = gw.redactor.load().redact_str(&e.message).0.into_owned();
            Reply::error(StatusCode::OK, &e)
        }
    }
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
