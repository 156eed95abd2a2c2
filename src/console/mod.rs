//! The web console at `/ui/`: server-rendered pages for approvers, on the
//! gateway's own listener, working without JavaScript. People sign in with
//! their approver or admin key (`login`), or by single sign-on with OpenID
//! Connect (`oidc`); an approver sees the queue of
//! their workflows, each action's frozen request exactly as it will be
//! sent, and decides it through the same code as the REST API (`pages`),
//! after editing its arguments if need be (`edit`). An admin switches and
//! reloads credentials (`admin`, showing what `credentials` gathers), and
//! retries or discards dead letters (`admin`); revokes agents (`agents`),
//! verifies the audit trail (`trail`) and reads the access review
//! (`review`).
//!
//! Every answer under `/ui` carries the security headers below: nothing
//! from another origin, no framing, no scripts, no referrer, no caching.
//! Forms are guarded against forgery (`csrf`), sessions are kept in the
//! store (`session`), and pages are templates embedded in the binary
//! (`templates`).

mod admin;
mod agents;
mod credentials;
mod csrf;
mod edit;
mod login;
mod oidc;
mod pages;
mod review;
mod session;
mod templates;
mod trail;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};

use crate::gateway::Gateway;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's routes, each answer with the security headers. Pages for
/// a signed-in person pass [`session::gate`] first — the session is checked
/// before a slot is taken, as the API's gate checks keys — and then take
/// one of the people's slots (`people` adds that layer); sign-in, the style
/// sheet and unknown paths, open to anyone, take an agent's (`anyone`), so
/// anonymous traffic cannot use up the slots kept for people.
pub(crate) fn routes(
    gw: &Arc<Gateway>,
    people: impl FnOnce(Router<Arc<Gateway>>) -> Router<Arc<Gateway>>,
    anyone: impl FnOnce(Router<Arc<Gateway>>) -> Router<Arc<Gateway>>,
) -> Router<Arc<Gateway>> {
    let signed_in = Router::new()
        .route("/ui/", get(pages::home))
        .route("/ui/logout", post(login::logout))
        .route("/ui/history", get(pages::history))
        .route("/ui/actions/{id}", get(pages::action))
        .route("/ui/actions/{id}/approve", post(pages::approve))
        .route("/ui/actions/{id}/deny", post(pages::deny))
        .route("/ui/actions/{id}/edit", post(edit::preview))
        .route("/ui/actions/{id}/approve-edited", post(edit::approve))
        .route("/ui/credentials", get(admin::credentials))
        .route("/ui/credentials/{name}/disable", post(admin::disable))
        .route("/ui/credentials/{name}/enable", post(admin::enable))
        .route("/ui/credentials/{name}/reload", post(admin::reload))
        .route("/ui/dead-letters", get(admin::dead_letters))
        .route("/ui/dead-letters/{id}/retry", post(admin::retry_letter))
        .route("/ui/dead-letters/{id}/discard", post(admin::discard_letter))
        .route("/ui/agents", get(agents::agents))
        .route("/ui/agents/{name}/revoke", post(agents::revoke))
        .route("/ui/agents/{name}/release", post(agents::release))
        .route("/ui/audit", get(trail::trail))
        .route("/ui/audit/verify", post(trail::verify))
        .route("/ui/access-review", get(review::review));
    let signed_in = people(signed_in).layer(axum::middleware::from_fn_with_state(
        gw.clone(),
        session::gate,
    ));
    let open = Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/login", get(login::form).post(login::submit))
        .route("/ui/oidc/start", get(oidc::start))
        .route("/ui/oidc/callback", get(oidc::callback))
        .route("/ui/static/console.css", get(style))
        .route("/ui/{*rest}", any(pages::nothing));
    Router::new()
        .merge(signed_in)
        .merge(anyone(open))
        .layer(axum::middleware::map_response(secured))
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        templates::STYLE,
    )
}

async fn secured(mut r: Response) -> Response {
    let h = r.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::CACHE_CONTROL, "no-store");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    r
}
