//! `/mcp` over HTTP, and its RFC 9728 resource metadata.
//!
//! In front of the gate: a token in the query string is refused (400), and
//! so is a browser `Origin` not in `mcp.allowed_origins` (403); a `401`
//! from the gate gains `WWW-Authenticate: Bearer resource_metadata=…`
//! pointing at `/.well-known/oauth-protected-resource/mcp`. Behind it the
//! request takes an agent slot like every agent route. `/mcp` is left out
//! of the OpenAPI document: it is one JSON-RPC endpoint whose methods
//! OpenAPI cannot describe (README, "MCP"). A call that waits for its
//! approval and was given a progress token is answered as server-sent
//! events: its progress, then its answer.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::json;

use super::gate::WholeBody;
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::mcp;
use crate::pipeline::authenticate::Presented;

/// Where the resource metadata is served.
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource/mcp";

/// `/mcp` (behind the gate the caller adds).
pub(super) fn routes() -> Router<Arc<Gateway>> {
    Router::new().route("/mcp", post(post_message).get(no_stream).delete(end))
}

/// The resource metadata (no credential, no slot).
pub(super) fn metadata_routes() -> Router<Arc<Gateway>> {
    Router::new().route(METADATA_PATH, get(metadata))
}

/// In front of the gate: refuse a token in the URL and a foreign browser
/// origin; point a 401 at the resource metadata.
pub(super) async fn guard(State(gw): State<Arc<Gateway>>, req: Request, next: Next) -> Response {
    if req.uri().query().is_some() {
        return ApiError::bad_request(
            "/mcp takes no query string; send the key as Authorization: Bearer",
        )
        .into_response();
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let allowed = origin
            .to_str()
            .is_ok_and(|o| gw.config.mcp.allowed_origins.contains(o));
        if !allowed {
            return ApiError::forbidden("this Origin may not call /mcp (mcp.allowed_origins)")
                .into_response();
        }
    }
    let base = base_url(&gw, req.headers());
    let mut response = next.run(req).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        let challenge = format!("Bearer resource_metadata=\"{base}{METADATA_PATH}\"");
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    response
}

/// `public_url`, else the scheme and `Host` the request came with.
pub(super) fn base_url(gw: &Gateway, headers: &HeaderMap) -> String {
    if let Some(url) = &gw.config.public_url {
        return url.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    // Behind a proxy that ends TLS, set public_url.
    let scheme = if gw.config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

/// A POST's answer: one JSON body, or — once a waiting call sends its
/// first progress notification — a stream of server-sent events ending
/// with the answer. The message is handled in a task of its own, so a
/// client that goes away does not cut a call short; a waiter whose
/// stream is gone stops waiting (the action stays pending).
async fn post_message(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    headers: HeaderMap,
    WholeBody(body): WholeBody,
) -> Response {
    let (progress, mut notes) = if takes_events(&headers) {
        mcp::Progress::channel()
    } else {
        let (_, rx) = mcp::Progress::channel();
        (mcp::Progress::none(), rx)
    };
    let id = request_id(&body);
    let mut task = tokio::spawn({
        let gw = gw.clone();
        async move { mcp::post(&gw, &who, &headers, &body, &progress).await }
    });
    tokio::select! {
        biased;
        done = &mut task => answered(done),
        first = notes.recv() => match first {
            None => answered(task.await),
            Some(first) => streamed(gw, id, first, notes, task),
        },
    }
}

/// Whether the client takes `text/event-stream` answers (MCP clients
/// accept both it and JSON).
fn takes_events(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/event-stream"))
}

/// The JSON-RPC id of a request body, for an answer made here.
fn request_id(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("id").cloned())
        .unwrap_or(serde_json::Value::Null)
}

type Handled = Result<Result<mcp::Reply, ApiError>, tokio::task::JoinError>;

/// The answer as one response.
fn answered(done: Handled) -> Response {
    let reply = match done {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => return e.into_response(),
        Err(_) => return ApiError::internal("the MCP request ended abnormally").into_response(),
    };
    let mut response = match reply.body {
        Some(body) => (reply.status, Json(body)).into_response(),
        None => reply.status.into_response(),
    };
    if let Some(id) = reply.session_id
        && let Ok(v) = HeaderValue::from_str(&id)
    {
        response.headers_mut().insert(mcp::SESSION_HEADER, v);
    }
    response
}

/// The notifications as they come, then the answer as the last event.
fn streamed(
    gw: Arc<Gateway>,
    id: serde_json::Value,
    first: serde_json::Value,
    notes: tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
    task: tokio::task::JoinHandle<Result<mcp::Reply, ApiError>>,
) -> Response {
    let event = |v: &serde_json::Value| {
        Ok::<_, std::convert::Infallible>(Event::default().event("message").data(v.to_string()))
    };
    let start = (Some(first), notes, Some(task));
    let events = futures_util::stream::unfold(start, move |(first, mut notes, task)| {
        let gw = gw.clone();
        let id = id.clone();
        async move {
            if let Some(first) = first {
                return Some((event(&first), (None, notes, task)));
            }
            if let Some(note) = notes.recv().await {
                return Some((event(&note), (None, notes, task)));
            }
            // The sender is gone: the call has ended.
            let last = match task?.await {
                Ok(Ok(mcp::Reply {
                    body: Some(body), ..
                })) => body,
                Ok(Ok(_)) => json!({"jsonrpc": "2.0", "id": id, "result": {}}),
                Ok(Err(e)) => {
                    let message = gw.redactor.load().redact_str(&e.message).0.into_owned();
                    json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32603, "message": message}})
                }
                Err(_) => {
                    json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32603, "message": "the request ended abnormally"}})
                }
            };
            Some((event(&last), (None, notes, None)))
        }
    });
    Sse::new(events).into_response()
}

/// No server-initiated stream is offered.
async fn no_stream() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "POST, DELETE")],
        ApiError::bad_request("GET /mcp (a server stream) is not offered; POST messages"),
    )
        .into_response()
}

async fn end(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Presented>,
    headers: HeaderMap,
) -> Response {
    match mcp::end(&gw, &who, &headers).await {
        Ok(Some(true)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Some(false)) => ApiError::new(Code::NotFound, "no such MCP session").into_response(),
        Ok(None) => ApiError::bad_request("an Mcp-Session-Id header is required").into_response(),
        Err(e) => e.into_response(),
    }
}

/// RFC 9728 protected resource metadata for `/mcp`.
async fn metadata(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let base = base_url(&gw, &headers);
    let scopes: std::collections::BTreeSet<&str> = gw
        .config
        .workflows
        .values()
        .flat_map(|w| w.scopes.iter().map(String::as_str))
        .collect();
    Json(json!({
        "resource": format!("{base}/mcp"),
        "bearer_methods_supported": ["header"],
        "scopes_supported": scopes,
        "resource_name": "toolgate",
    }))
    .into_response()
}
