//! Console sign-ins: a random cookie whose SHA-256 keys a record in the
//! store (`ui_sessions`), so a session works on every replica and across
//! restarts and ends for all of them at sign-out. The record names the
//! holder by their key's hash — or, signed in by single sign-on, by the
//! hash of the issuer and the name the provider knows them by — looked up
//! again on every request: a key (or a name) that was removed or changed
//! ends its sessions. It holds the session's CSRF token too, and how its
//! holder signed in, which the records of what they do in the console say.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::gateway::Gateway;
use crate::identity::{Caller, Via};
use crate::store::{Inserted, Ns, StoreError, now_ms};
use crate::tls::{ClientCert, PeerCert};

use super::templates::Page;

pub(super) const COOKIE: &str = "toolgate_session";

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    name: String,
    /// The holder's hash (hex): the key's, or with `sign_in: oidc` the
    /// single sign-on name's ([`crate::identity::Identities::by_oidc`]).
    key_sha256: String,
    csrf: String,
    expires_at_ms: u64,
    #[serde(default)]
    sign_in: SignIn,
}

/// How a person signed in to the console.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum SignIn {
    /// With their approver or admin key.
    #[default]
    Key,
    /// By single sign-on (`ui.oidc`).
    Oidc,
}

impl SignIn {
    fn as_str(self) -> &'static str {
        match self {
            SignIn::Key => "key",
            SignIn::Oidc => "oidc",
        }
    }
}

/// A signed-in person: who, and the token their forms must carry.
#[derive(Debug, Clone)]
pub(super) struct Person {
    pub caller: Arc<Caller>,
    pub csrf: String,
    pub sign_in: SignIn,
    /// The cookie's SHA-256, the record's key.
    id: String,
}

impl Person {
    pub(super) fn name(&self) -> &str {
        self.caller.name()
    }

    pub(super) fn role(&self) -> &'static str {
        match self.caller.as_ref() {
            Caller::Approver { .. } => "approver",
            Caller::Admin { .. } => "admin",
            Caller::Agent { .. } => "agent",
        }
    }

    /// How what this person does reaches toolgate: the console, and how
    /// they signed in to it.
    pub(super) fn via(&self) -> Via {
        Via {
            door: "console",
            sign_in: self.sign_in.as_str(),
        }
    }
}

/// 32 random bytes, base64url (a cookie, a form token, a nonce).
pub(super) fn random() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Start a session for `caller`, signed in with the key hashing to
/// `key_sha256` (by single sign-on: the name hashing to it). The cookie's
/// value is returned once; only its hash is kept.
pub(super) async fn start(
    gw: &Gateway,
    caller: &Caller,
    key_sha256: &[u8; 32],
    sign_in: SignIn,
) -> Result<String, StoreError> {
    let ttl = gw.config.ui.session_ttl;
    let stored = Stored {
        name: caller.name().to_owned(),
        key_sha256: hex::encode(key_sha256),
        csrf: random(),
        expires_at_ms: now_ms() + u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
        sign_in,
    };
    let value = serde_json::to_vec(&stored)
        .map_err(|e| StoreError(format!("cannot encode a console session: {e}")))?;
    loop {
        let token = random();
        if let Inserted::New = gw
            .store
            .insert_new(Ns::UiSessions, &hash(&token), &value, Some(ttl))
            .await?
        {
            return Ok(token);
        }
    }
}

/// The session cookie a request carries, if any.
fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// The person signed in on this request: a live session whose key (or
/// single sign-on name) still belongs to an approver or admin, allowed over
/// this connection's certificate.
pub(super) async fn signed_in(
    gw: &Gateway,
    headers: &HeaderMap,
    cert: Option<&PeerCert>,
) -> Result<Option<Person>, StoreError> {
    let Some(token) = cookie(headers) else {
        return Ok(None);
    };
    let id = hash(token);
    let Some(v) = gw.store.get(Ns::UiSessions, &id).await? else {
        return Ok(None);
    };
    let Ok(s) = serde_json::from_slice::<Stored>(&v.value) else {
        tracing::warn!("a damaged console session record was ignored");
        return Ok(None);
    };
    if s.expires_at_ms <= now_ms() {
        return Ok(None);
    }
    let Some(key) = hex::decode(&s.key_sha256)
        .ok()
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
    else {
        return Ok(None);
    };
    let caller = match s.sign_in {
        SignIn::Key => gw.identities.by_key_sha256(&key),
        SignIn::Oidc => gw.identities.by_sso_sha256(&key),
    };
    let Some(caller) = caller else {
        return Ok(None);
    };
    let person_like = matches!(
        caller.as_ref(),
        Caller::Approver { .. } | Caller::Admin { .. }
    );
    if !person_like || caller.name() != s.name || !gw.identities.cert_allows(&caller, cert) {
        return Ok(None);
    }
    Ok(Some(Person {
        caller,
        csrf: s.csrf,
        sign_in: s.sign_in,
        id,
    }))
}

/// The gate in front of the pages for a signed-in person: no live session,
/// and the answer sends them to sign in (or says the store cannot be read);
/// otherwise the [`Person`] rides on the request.
pub(super) async fn gate(State(gw): State<Arc<Gateway>>, req: Request, next: Next) -> Response {
    let cert = req
        .extensions()
        .get::<ClientCert>()
        .and_then(|c| c.0.clone());
    match signed_in(&gw, req.headers(), cert.as_deref()).await {
        Ok(Some(p)) => {
            let mut req = req;
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Ok(None) => Redirect::to("/ui/login").into_response(),
        Err(e) => Page::from_error(&e.into(), None).into_response(),
    }
}

/// The person [`gate`] let in; outside the gate (sign-in, unknown paths),
/// the person signed in on the request, if any.
pub(super) async fn required(gw: &Gateway, parts: &Parts) -> Result<Person, Response> {
    if let Some(p) = parts.extensions.get::<Person>() {
        return Ok(p.clone());
    }
    let cert = parts
        .extensions
        .get::<ClientCert>()
        .and_then(|c| c.0.as_deref());
    match signed_in(gw, &parts.headers, cert).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(Redirect::to("/ui/login").into_response()),
        Err(e) => Err(Page::from_error(&e.into(), None).into_response()),
    }
}

/// End `person`'s session, for every replica.
pub(super) async fn end(gw: &Gateway, person: &Person) -> Result<(), StoreError> {
    gw.store.delete(Ns::UiSessions, &person.id, None).await?;
    Ok(())
}

/// Whether cookies must be `Secure`: the listener speaks TLS, or clients
/// reach the gateway over https.
pub(super) fn secure(gw: &Gateway) -> bool {
    gw.tls.is_some()
        || gw
            .config
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
}

/// `Set-Cookie` for a new session.
pub(super) fn set_cookie(token: &str, ttl: Duration, secure: bool) -> String {
    format!(
        "{COOKIE}={token}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{}",
        ttl.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` that removes the session cookie.
pub(super) fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; toolgate_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h), Some("abc"));
        h.insert(header::COOKIE, "toolgate_session_x=1".parse().unwrap());
        assert_eq!(cookie(&h), None);
    }

    #[test]
    fn cookies_are_http_only_strict_and_scoped_to_the_console() {
        let c = set_cookie("t", Duration::from_secs(60), true);
        assert_eq!(
            c,
            "toolgate_session=t; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
        assert!(!clear_cookie(false).contains("Secure"));
    }
}
