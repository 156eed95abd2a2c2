//! Signing in and out. `/ui/login` takes an approver or admin key (agent
//! keys are refused, with the same answer as a wrong key), and offers
//! single sign-on beside it when `ui.oidc` is configured (`oidc`);
//! attempts are limited per client address, in the store, so replicas
//! share the limit. Signing out deletes the session from the store, not
//! only the cookie.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;

use super::csrf::{self, Form};
use super::session::{self, SignIn};
use super::templates::Page;
use crate::gateway::Gateway;
use crate::identity::Caller;
use crate::store::RateDecision;
use crate::tls::ClientCert;

/// Sign-in attempts from one client address: this many at once, then this
/// many a minute.
pub(super) const ATTEMPTS_BURST: u32 = 5;
pub(super) const ATTEMPTS_PER_MINUTE: u32 = 5;

fn login_page(gw: &Gateway, status: StatusCode, error: Option<&str>) -> Page {
    let sso = gw.config.ui.oidc.is_some();
    Page::render(status, "login.html", context! { error, sso })
}

pub(super) async fn form(State(gw): State<Arc<Gateway>>, parts: Parts) -> Response {
    match session::required(&gw, &parts).await {
        Ok(_) => Redirect::to("/ui/").into_response(),
        Err(_) => login_page(&gw, StatusCode::OK, None).into_response(),
    }
}

/// The client address a sign-in attempt came from.
pub(super) fn client(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string())
}

/// Count one sign-in attempt from `from` against the limit: `Err` holds the
/// page to answer with when it is spent (or the store cannot say).
pub(super) async fn attempt(gw: &Gateway, from: &str) -> Result<(), Response> {
    // A space keeps these keys apart from the per-tool limits (`agent\x1ftool`).
    let limit_key = format!("ui sign-in\u{1f}{from}");
    match gw
        .store
        .rate_limit(&limit_key, ATTEMPTS_PER_MINUTE, ATTEMPTS_BURST)
        .await
    {
        Ok(RateDecision::Allowed) => Ok(()),
        Ok(RateDecision::Limited { retry_after }) => {
            let secs = retry_after.as_millis().div_ceil(1000).max(1) as u64;
            tracing::warn!(client = %from, "console sign-in attempts limited");
            let mut r = login_page(
                gw,
                StatusCode::TOO_MANY_REQUESTS,
                Some(&format!(
                    "Too many sign-in attempts from your address; try again in {secs} s."
                )),
            )
            .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            Err(r)
        }
        Err(e) => Err(Page::from_error(&e.into(), None).into_response()),
    }
}

/// The answer that starts a session: the cookie, and `then`.
pub(super) fn signed_in(gw: &Gateway, token: &str, mut then: Response) -> Response {
    let cookie = session::set_cookie(token, gw.config.ui.session_ttl, session::secure(gw));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        then.headers_mut().append(header::SET_COOKIE, v);
    }
    then
}

pub(super) async fn submit(State(gw): State<Arc<Gateway>>, parts: Parts, body: Bytes) -> Response {
    if !csrf::same_origin(&gw, &parts.headers) {
        return csrf::refused(None, "it did not come from this console's own pages")
            .into_response();
    }
    let from = client(&parts);
    if let Err(r) = attempt(&gw, &from).await {
        return r;
    }
    let form = Form::parse(&body);
    let key = form.get("key").unwrap_or_default().trim();
    let cert = parts
        .extensions
        .get::<ClientCert>()
        .and_then(|c| c.0.as_deref());
    let person = gw
        .identities
        .authenticate(key)
        .filter(|(c, _)| matches!(c.as_ref(), Caller::Approver { .. } | Caller::Admin { .. }))
        .filter(|(c, _)| gw.identities.cert_allows(c, cert));
    let Some((caller, key_sha256)) = person else {
        tracing::info!(client = %from, "a console sign-in was refused");
        return login_page(
            &gw,
            StatusCode::UNAUTHORIZED,
            Some("That is not an approver or admin key."),
        )
        .into_response();
    };
    let token = match session::start(&gw, &caller, &key_sha256, SignIn::Key).await {
        Ok(t) => t,
        Err(e) => return Page::from_error(&e.into(), None).into_response(),
    };
    tracing::info!(who = caller.name(), "signed in to the console");
    signed_in(&gw, &token, Redirect::to("/ui/").into_response())
}

pub(super) async fn logout(State(gw): State<Arc<Gateway>>, parts: Parts, body: Bytes) -> Response {
    let (person, _) = match csrf::posted(&gw, &parts, &body).await {
        Ok(posted) => posted,
        Err(r) => return r,
    };
    if let Err(e) = session::end(&gw, &person).await {
        return Page::from_error(&e.into(), Some(person.name())).into_response();
    }
    tracing::info!(who = person.name(), "signed out of the console");
    let mut r = Redirect::to("/ui/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&session::clear_cookie(session::secure(&gw))) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}
