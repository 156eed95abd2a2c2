//! The HTTP interface: routes by audience, and the layers in front of them.
//!
//! Layers, outermost first, and why:
//! 1. request id — set (or kept) first so every log line and answer carries it;
//! 2. trace — one span per request, inside the id;
//! 3. the gate (agent, approver and admin routes) — the credential is
//!    checked from the headers, before the body is read or a slot taken, and
//!    the body is paced ([`gate`]);
//! 4. overload handling — turns a shed request into SPEC's error shape, and
//!    counts it for `/readyz`;
//! 5. load shed + concurrency limit — `max_concurrency` is one limit for the
//!    whole gateway: one pool of slots shared by every agent route, and a
//!    reserved tenth (at least one) shared by the approver and operator
//!    routes, so people can act during an overload; beyond them requests are
//!    refused at once (503 `overloaded`) rather than queued without bound.
//!    `/healthz`, `/readyz`, `/metrics` and `/openapi.json` take no slot;
//!    the console's signed-in pages take a people's slot after their session
//!    is checked, its open pages (sign-in) an agent's;
//! 6. timeout — `request_timeout_ms` bounds a request inside its slot, so a
//!    client sending its body slowly cannot hold a slot for ever (408);
//! 7. body limit — on the routes, so a too-large body is refused (413)
//!    before it is buffered.

mod admin;
mod approvals;
pub(crate) mod calls;
mod connections;
mod gate;
mod health;
mod mcp;
pub(crate) mod metrics;
mod openapi;
mod rotate;
mod sessions;
mod tools;

pub use openapi::document_text;

use std::sync::Arc;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use tokio::sync::Semaphore;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::error::{ApiError, Code};
use crate::gateway::Gateway;

pub(crate) fn router(gw: Arc<Gateway>) -> Router {
    let limits = gw.config.limits.clone();
    let slots = |permits: &Arc<Semaphore>| {
        let timeout = limits.request_timeout;
        let gw = gw.clone();
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(move |err: tower::BoxError| {
                let gw = gw.clone();
                async move { refused_in_front(&gw, err.as_ref()).into_response() }
            }))
            .load_shed()
            .layer(GlobalConcurrencyLimitLayer::with_semaphore(permits.clone()))
            .timeout(timeout)
    };
    let gate = || axum::middleware::from_fn_with_state(gw.clone(), gate::gate);
    let openapi::Routes {
        agents,
        people,
        browser,
        open,
    } = openapi::routes();
    // Agents: tool calls and what goes with them.
    let agents = Router::from(agents.routes)
        .layer(slots(&gw.load.agents))
        .layer(gate());
    // People: approvers and operators keep slots of their own, so they can
    // act while agents overload the gateway.
    let people = Router::from(people.routes)
        .layer(slots(&gw.load.people))
        .layer(gate());
    // The connect callback: an end user's browser, with no credential,
    // taking an agent slot.
    let browser = Router::from(browser.routes).layer(slots(&gw.load.agents));
    // MCP: an agent route with a guard in front of the gate (`mcp`); not
    // in the OpenAPI document, as JSON-RPC is not describable there.
    let mcp = mcp::routes()
        .layer(slots(&gw.load.agents))
        .layer(gate())
        .layer(axum::middleware::from_fn_with_state(gw.clone(), mcp::guard));
    // The console: signed-in pages take the people's slots, the rest an agent's.
    let console = if gw.config.ui.enabled {
        crate::console::routes(
            &gw,
            |r| r.layer(slots(&gw.load.people)),
            |r| r.layer(slots(&gw.load.agents)),
        )
    } else {
        Router::new()
    };
    Router::new()
        .merge(agents)
        .merge(console)
        .merge(people)
        .merge(browser)
        .merge(mcp)
        .merge(mcp::metadata_routes())
        // Health and the document answer even when every slot is taken.
        .merge(Router::from(open.routes))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .with_state(gw)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        // A 5xx here is usually an upstream's; calls log their own outcome.
                        .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
                )
                .layer(PropagateRequestIdLayer::x_request_id()),
        )
}

/// One span per request, carrying the request id so every line of the request can be found.
/// The path is logged, never the query string or headers.
fn request_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
}

/// What the layers in front of the routes can fail with: shed for load
/// (counted, for `/readyz`), out of time, or — anything else — a real
/// internal error, logged.
fn refused_in_front(
    gw: &Gateway,
    err: &(dyn std::error::Error + Send + Sync + 'static),
) -> ApiError {
    let e = layer_error(err);
    if e.code == Code::Overloaded {
        gw.load.shed_one();
        gw.metrics.shed();
    }
    e
}

fn layer_error(err: &(dyn std::error::Error + Send + Sync + 'static)) -> ApiError {
    if err.is::<tower::timeout::error::Elapsed>() {
        ApiError::new(
            Code::RequestTimeout,
            "the request took longer than this gateway allows",
        )
    } else if err.is::<tower::load_shed::error::Overloaded>() {
        ApiError::new(Code::Overloaded, "toolgate is at capacity; retry shortly")
            .with_retry_after(1)
    } else {
        ApiError::internal(format!("a layer in front of the routes failed: {err}"))
    }
}

async fn not_found() -> ApiError {
    ApiError::new(Code::NotFound, "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::bad_request("this endpoint does not accept that method")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layer_error_handler_tells_overload_timeout_and_internal_apart() {
        let code = |e: tower::BoxError| layer_error(e.as_ref()).code;
        assert_eq!(
            code(Box::new(tower::timeout::error::Elapsed::new())),
            Code::RequestTimeout
        );
        assert_eq!(
            code(Box::new(tower::load_shed::error::Overloaded::new())),
            Code::Overloaded
        );
        assert_eq!(code("something broke".into()), Code::Internal);
    }
}
