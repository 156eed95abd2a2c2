//! Talking to an OAuth2 token endpoint: one token request by the
//! client-credentials, the refresh-token or the authorization-code grant
//! with its PKCE verifier (RFC 6749 §4.4, §6, §4.1; RFC 7636), with `scope`,
//! `audience` and `resource` (RFC 8707) parameters, the token as issued
//! ([`TokenState`]) with the times toolgate keeps for it, and a token's
//! revocation (RFC 7009).
//!
//! Owns no state between requests. The client secret is sent as
//! `client_secret_basic`, in a header marked sensitive; error messages name
//! the endpoint's status and error code, never a token or a secret.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::config::OAuth2Def;
use crate::store::now_ms;

/// How long a token request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Lifetime assumed when the provider gives no `expires_in`.
const DEFAULT_LIFETIME_MS: u64 = 300_000;

/// A token as issued, with the times toolgate keeps for it.
#[derive(Serialize, Deserialize)]
pub(super) struct TokenState {
    access_token: String,
    refresh_token: Option<String>,
    obtained_ms: u64,
    expires_ms: u64,
    /// The scope the provider granted, when it said.
    #[serde(default)]
    scope: Option<String>,
}

impl std::fmt::Debug for TokenState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenState")
            .field("obtained_ms", &self.obtained_ms)
            .field("expires_ms", &self.expires_ms)
            .finish_non_exhaustive()
    }
}

impl Drop for TokenState {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.access_token.zeroize();
        if let Some(r) = self.refresh_token.as_mut() {
            r.zeroize();
        }
    }
}

impl TokenState {
    /// When to stop using it: a fifth of its lifetime early, at most a minute.
    pub(super) fn refresh_at_ms(&self) -> u64 {
        let life = self.expires_ms.saturating_sub(self.obtained_ms);
        self.expires_ms - (life / 5).min(60_000)
    }

    pub(super) fn expires_ms(&self) -> u64 {
        self.expires_ms
    }

    pub(super) fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// Fresh enough to use, and (after a reload at `since`) obtained since.
    pub(super) fn usable(&self, since: Option<u64>) -> bool {
        now_ms() < self.refresh_at_ms() && since.is_none_or(|t| self.obtained_ms >= t)
    }

    pub(super) fn access_token(&self) -> SecretString {
        SecretString::from(self.access_token.clone())
    }

    pub(super) fn refresh_token(&self) -> Option<SecretString> {
        self.refresh_token.clone().map(SecretString::from)
    }

    /// A provider that does not rotate refresh tokens returns none: the one
    /// used stays valid.
    pub(super) fn keep_refresh_token(&mut self, used: &SecretString) {
        if self.refresh_token.is_none() {
            self.refresh_token = Some(used.expose_secret().to_owned());
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
    scope: Option<String>,
}

/// What a token request asks with: the grant and what it needs.
pub(super) enum Ask<'a> {
    ClientCredentials,
    Refresh(&'a SecretString),
    /// An authorization code, the PKCE verifier it was asked with, and the
    /// redirect URI it was sent to.
    Code {
        code: &'a SecretString,
        verifier: &'a SecretString,
        redirect_uri: &'a str,
    },
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
}

/// Talks to token endpoints.
pub(crate) struct TokenClient {
    http: reqwest::Client,
}

impl TokenClient {
    pub(crate) fn new() -> Result<TokenClient, String> {
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map(|http| TokenClient { http })
            .map_err(|e| format!("cannot build the OAuth2 client: {e}"))
    }

    /// One token request.
    pub(super) async fn request(
        &self,
        def: &OAuth2Def,
        client_secret: &SecretString,
        ask: Ask<'_>,
    ) -> Result<TokenState, TokenError> {
        let mut form: Vec<(&str, &str)> = Vec::new();
        let scope = def.scopes.join(" ");
        match ask {
            Ask::ClientCredentials => form.push(("grant_type", "client_credentials")),
            Ask::Refresh(rt) => {
                form.push(("grant_type", "refresh_token"));
                form.push(("refresh_token", rt.expose_secret()));
            }
            Ask::Code {
                code,
                verifier,
                redirect_uri,
            } => {
                form.push(("grant_type", "authorization_code"));
                form.push(("code", code.expose_secret()));
                form.push(("code_verifier", verifier.expose_secret()));
                form.push(("redirect_uri", redirect_uri));
            }
        }
        if !scope.is_empty() && !form.iter().any(|(k, _)| *k == "code") {
            form.push(("scope", &scope));
        }
        if let Some(a) = &def.audience {
            form.push(("audience", a));
        }
        if let Some(r) = &def.resource {
            form.push(("resource", r));
        }
        let started = now_ms();
        let response = self
            .http
            .post(def.token_url.clone())
            .basic_auth_secret(&client_basic(def, client_secret))
            .header(http::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                TokenError::Unreachable(if e.is_timeout() {
                    "the token endpoint timed out".into()
                } else {
                    "the token endpoint cannot be reached".into()
                })
            })?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|_| TokenError::Unreachable("the token response was cut off".into()))?;
        if !status.is_success() {
            let code = serde_json::from_slice::<ErrorResponse>(&body)
                .map(|e| e.error)
                .unwrap_or_default();
            let code: String = code
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(40)
                .collect();
            return Err(if code == "invalid_grant" {
                TokenError::InvalidGrant
            } else {
                TokenError::Other(format!(
                    "the token endpoint answered {} {code}",
                    status.as_u16()
                ))
            });
        }
        let t: TokenResponse = serde_json::from_slice(&body)
            .map_err(|_| TokenError::Other("the token response is not valid".into()))?;
        if t.access_token.is_empty() {
            return Err(TokenError::Other("the token response has no token".into()));
        }
        let life = t
            .expires_in
            .map(|s| s.saturating_mul(1000))
            .unwrap_or(DEFAULT_LIFETIME_MS);
        Ok(TokenState {
            access_token: t.access_token,
            refresh_token: t.refresh_token.filter(|r| !r.is_empty()),
            obtained_ms: started,
            expires_ms: started.saturating_add(life),
            scope: t.scope.filter(|s| s.len() <= 1000),
        })
    }

    /// Revoke a token at the provider's RFC 7009 endpoint. The provider's
    /// answer for a token it no longer knows is a success too.
    pub(super) async fn revoke(
        &self,
        def: &OAuth2Def,
        url: &url::Url,
        client_secret: &SecretString,
        token: &SecretString,
        hint: &str,
    ) -> Result<(), String> {
        let form = [("token", token.expose_secret()), ("token_type_hint", hint)];
        let response = self
            .http
            .post(url.clone())
            .basic_auth_secret(&client_basic(def, client_secret))
            .form(&form)
            .send()
            .await
            .map_err(|_| "the revocation endpoint cannot be reached".to_owned())?;
        match response.status() {
            s if s.is_success() => Ok(()),
            s => Err(format!("the revocation endpoint answered {}", s.as_u16())),
        }
    }
}

/// client_secret_basic (RFC 6749 §2.3.1): each part form-encoded, joined.
fn client_basic(def: &OAuth2Def, client_secret: &SecretString) -> SecretString {
    basic_pair(&def.client_id, client_secret)
}

fn basic_pair(client_id: &str, client_secret: &SecretString) -> SecretString {
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    SecretString::from(format!(
        "{}:{}",
        enc(client_id),
        enc(client_secret.expose_secret())
    ))
}

/// `Authorization: Basic …` for a client's id and secret
/// (client_secret_basic), marked sensitive.
pub(crate) fn basic_authorization(
    client_id: &str,
    client_secret: &SecretString,
) -> Option<http::HeaderValue> {
    basic_header(&basic_pair(client_id, client_secret))
}

fn basic_header(pair: &SecretString) -> Option<http::HeaderValue> {
    use base64::Engine as _;
    let value = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair.expose_secret())
    );
    let mut v = http::HeaderValue::from_str(&value).ok()?;
    v.set_sensitive(true);
    Some(v)
}

trait BasicSecret {
    fn basic_auth_secret(self, pair: &SecretString) -> Self;
}

impl BasicSecret for reqwest::RequestBuilder {
    /// `Authorization: Basic …` from an already joined `id:secret`, marked sensitive.
    fn basic_auth_secret(self, pair: &SecretString) -> Self {
        match basic_header(pair) {
            Some(v) => self.header(http::header::AUTHORIZATION, v),
            None => self,
        }
    }
}

#[derive(Debug)]
pub(super) enum TokenError {
    /// The provider did not answer.
    Unreachable(String),
    /// The refresh token was refused (used, revoked or expired).
    InvalidGrant,
    Other(String),
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::Unreachable(m) | TokenError::Other(m) => f.write_str(m),
            TokenError::InvalidGrant => f.write_str("the provider refused the refresh token"),
        }
    }
}
