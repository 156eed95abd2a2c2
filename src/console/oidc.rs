//! Single sign-on to the console with OpenID Connect (`ui.oidc`): the
//! authorization code flow with PKCE (S256), a `state` and a `nonce`.
//!
//! 1. [`start`] (`GET /ui/oidc/start`, a sign-in attempt counted against
//!    the per-address limit): a random state, nonce and browser cookie
//!    (`toolgate_sso`); the store keeps, by the state's SHA-256 for ten
//!    minutes (`ui_sign_ins`), the nonce and the cookie's SHA-256. The
//!    PKCE verifier is derived from the cookie, so it is never in the
//!    store: whoever reads the store cannot complete a sign-in. The
//!    browser is sent to the provider with the S256 challenge.
//! 2. [`callback`] (`GET /ui/oidc/callback?code&state`): the state is
//!    taken (single use; unknown, used or expired → `oauth_state_invalid`),
//!    the browser's cookie checked, the code exchanged with the client's
//!    secret, the ID token checked ([`crate::oidc::id_token`]), and the person matched
//!    by `oidc_subject` (the token's `sub`), else by an `email` the
//!    provider verified. Anyone else — and any failed check — gets one
//!    page that says sign-in was refused (`unauthenticated`), no session,
//!    and one more attempt counted.
//!
//! A match starts the same session as a key ([`super::session`]), marked
//! `oidc`, so what the person then does is recorded with
//! `approver_sign_in` / `admin_sign_in: "oidc"`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::csrf::Form;
use super::login;
use super::session::{self, SignIn};
use super::templates::Page;
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::identity::Caller;
use crate::oidc::{Provider, ProviderError, id_token};
use crate::store::{Inserted, Ns, now_ms};
use crate::tls::ClientCert;

/// How long a sign-in at the provider may take.
const STATE_TTL: Duration = Duration::from_secs(600);
/// The cookie binding a sign-in under way to the browser that began it.
const COOKIE: &str = "toolgate_sso";

/// A sign-in under way, until its callback.
#[derive(Serialize, Deserialize)]
struct Pending {
    nonce: String,
    /// The SHA-256 (hex) of the browser's `toolgate_sso` cookie.
    browser_sha256: String,
    started_ms: u64,
    expires_ms: u64,
}

fn hashed(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The PKCE verifier of the sign-in the browser's cookie began (RFC 7636
/// §4.1: 43 characters of base64url), and its S256 challenge.
fn pkce(browser: &str) -> (Zeroizing<String>, String) {
    let mut h = Sha256::new();
    h.update(b"toolgate single sign-on PKCE verifier\n");
    h.update(browser.as_bytes());
    let verifier = Zeroizing::new(URL_SAFE_NO_PAD.encode(h.finalize()));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn sso_cookie(gw: &Gateway, value: &str, max_age: u64) -> Option<HeaderValue> {
    // Lax, not Strict: the provider's redirect back is a cross-site navigation.
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/ui/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if session::secure(gw) { "; Secure" } else { "" }
    ))
    .ok()
}

fn browser_cookie(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

fn unavailable() -> Page {
    Page::from_error(
        &ApiError::new(
            Code::UpstreamError,
            "the single sign-on provider cannot be used now; try again, or sign in with your key",
        ),
        None,
    )
}

fn refused() -> Page {
    Page::from_error(
        &ApiError::new(
            Code::Unauthenticated,
            "Sign-in was refused: single sign-on did not sign you in to this console",
        ),
        None,
    )
}

pub(super) async fn start(State(gw): State<Arc<Gateway>>, parts: Parts) -> Response {
    let Some(provider) = gw.oidc.as_ref() else {
        return Page::not_found(None).into_response();
    };
    if session::required(&gw, &parts).await.is_ok() {
        return Redirect::to("/ui/").into_response();
    }
    let from = login::client(&parts);
    if let Err(r) = login::attempt(&gw, &from).await {
        return r;
    }
    let d = match provider.discovered().await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(reason = %e.0, "single sign-on discovery failed");
            return unavailable().into_response();
        }
    };
    let (state, nonce, browser) = (session::random(), session::random(), session::random());
    let (_, challenge) = pkce(&browser);
    let now = now_ms();
    let pending = Pending {
        nonce: nonce.clone(),
        browser_sha256: hashed(&browser),
        started_ms: now,
        expires_ms: now + STATE_TTL.as_millis() as u64,
    };
    let Ok(value) = serde_json::to_vec(&pending) else {
        return Page::from_error(&ApiError::internal("cannot encode a sign-in"), None)
            .into_response();
    };
    let key = hashed(&state);
    match gw
        .store
        .insert_new(Ns::UiSignIns, &key, &value, Some(STATE_TTL))
        .await
    {
        Ok(Inserted::New) => {}
        // 256 random bits do not collide; were they to, refuse.
        Ok(Inserted::Exists(_)) => {
            return Page::from_error(&ApiError::internal("a sign-in state collided"), None)
                .into_response();
        }
        Err(e) => return Page::from_error(&e.into(), None).into_response(),
    }
    let c = &provider.config;
    let mut url = d.authorization_endpoint.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &c.client_id)
        .append_pair("redirect_uri", &c.redirect_uri)
        .append_pair("scope", &c.scopes.join(" "))
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let mut r = Redirect::to(url.as_str()).into_response();
    if let Some(v) = sso_cookie(&gw, &browser, STATE_TTL.as_secs()) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// The sign-in under way for `state`, taken (never given out again).
async fn take(gw: &Gateway, state: &str) -> Result<Option<Pending>, ApiError> {
    if state.is_empty() || state.len() > 200 {
        return Ok(None);
    }
    let key = hashed(state);
    let Some(v) = gw.store.get(Ns::UiSignIns, &key).await? else {
        return Ok(None);
    };
    if !gw
        .store
        .delete(Ns::UiSignIns, &key, Some(v.version))
        .await?
    {
        return Ok(None);
    }
    let pending: Option<Pending> = serde_json::from_slice(&v.value).ok();
    Ok(pending.filter(|p| now_ms() < p.expires_ms))
}

pub(super) async fn callback(State(gw): State<Arc<Gateway>>, parts: Parts) -> Response {
    let Some(provider) = gw.oidc.as_ref() else {
        return Page::not_found(None).into_response();
    };
    let from = login::client(&parts);
    let query = Form::parse(parts.uri.query().unwrap_or_default().as_bytes());
    let outcome = sign_in(&gw, provider, &parts, &query).await;
    let mut r = match outcome {
        Ok(r) => r,
        Err(page) => {
            // A failed attempt counts against the address's limit.
            let _ = login::attempt(&gw, &from).await;
            page.into_response()
        }
    };
    if let Some(v) = sso_cookie(&gw, "", 0) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

async fn sign_in(
    gw: &Gateway,
    provider: &Provider,
    parts: &Parts,
    query: &Form,
) -> Result<Response, Page> {
    let pending = match take(gw, query.get("state").unwrap_or_default()).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            tracing::info!(
                "a sign-in callback with a state that is unknown, used or expired; refused"
            );
            return Err(state_refused());
        }
        Err(e) => return Err(Page::from_error(&e, None)),
    };
    let browser = browser_cookie(parts).filter(|c| {
        bool::from(
            hashed(c)
                .as_bytes()
                .ct_eq(pending.browser_sha256.as_bytes()),
        )
    });
    let Some(browser) = browser else {
        tracing::info!("a sign-in callback in another browser than the one that began it; refused");
        return Err(state_refused());
    };
    let (verifier, _) = pkce(browser);
    if let Some(error) = query.get("error") {
        let error: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(40)
            .collect();
        tracing::info!(error = %error, "single sign-on was refused at the provider");
        return Err(Page::from_error(
            &ApiError::new(
                Code::OauthDenied,
                "sign-in was not completed at the single sign-on provider",
            ),
            None,
        ));
    }
    let code = query
        .get("code")
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or_else(refused)?;
    let d = provider.discovered().await.map_err(|e| {
        tracing::warn!(reason = %e.0, "single sign-on discovery failed");
        unavailable()
    })?;
    let token = provider.exchange(&d, code, &verifier).await.map_err(|e| {
        tracing::info!(reason = %e.0, "a single sign-on code exchange failed");
        refused()
    })?;
    let expected = id_token::Expected {
        issuer: &provider.config.issuer,
        client_id: &provider.config.client_id,
        nonce: &pending.nonce,
        started_secs: pending.started_ms / 1000,
        now_secs: now_ms() / 1000,
    };
    let keys_failed = |e: ProviderError| {
        tracing::warn!(reason = %e.0, "the single sign-on provider's keys cannot be read");
        unavailable()
    };
    let keys = provider.keys(&d, false).await.map_err(keys_failed)?;
    let mut checked = id_token::check(&token, &keys, &expected);
    if checked.as_ref().err() == Some(&id_token::Refused::UnknownKey) {
        let keys = provider.keys(&d, true).await.map_err(keys_failed)?;
        checked = id_token::check(&token, &keys, &expected);
    }
    let person = checked.map_err(|e| {
        let why = match e {
            id_token::Refused::UnknownKey => {
                "the ID token names a key the provider does not have".to_owned()
            }
            id_token::Refused::Other(why) => why,
        };
        tracing::info!(reason = %why, "a single sign-on ID token was refused");
        refused()
    })?;
    let cert = parts
        .extensions
        .get::<ClientCert>()
        .and_then(|c| c.0.as_deref());
    let matched = gw
        .identities
        .by_oidc(&person.sub, person.email.as_deref(), person.email_verified)
        .filter(|(c, _)| matches!(c.as_ref(), Caller::Approver { .. } | Caller::Admin { .. }))
        .filter(|(c, _)| gw.identities.cert_allows(c, cert));
    let Some((caller, holder)) = matched else {
        tracing::info!("a single sign-on identity matched no approver or admin; refused");
        return Err(refused());
    };
    let token = session::start(gw, &caller, &holder, SignIn::Oidc)
        .await
        .map_err(|e| Page::from_error(&e.into(), None))?;
    tracing::info!(
        who = caller.name(),
        sign_in = "oidc",
        "signed in to the console"
    );
    // A page, not a redirect: the session cookie is SameSite=Strict, and a
    // redirect at the end of the provider's cross-site one would go
    // without it. The page's own refresh is a same-site navigation.
    let page = Page::render(
        StatusCode::OK,
        "signed_in.html",
        minijinja::context! { name => caller.name() },
    );
    Ok(login::signed_in(gw, &token, page.into_response()))
}

fn state_refused() -> Page {
    Page::from_error(
        &ApiError::new(
            Code::OauthStateInvalid,
            "this sign-in link is not valid: it was already used, has expired, or was not issued to this browser; sign in again",
        ),
        None,
    )
}
