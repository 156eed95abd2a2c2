//! The console's single sign-on provider, as toolgate talks to it: its
//! discovery document (`<issuer>/.well-known/openid-configuration`,
//! fetched when first needed and kept), its signing keys (JWKS, fetched
//! again once when a token names a key not among them), and the code
//! exchange at its token endpoint with the client's secret
//! (`client_secret_basic`, or `client_secret_post` when that is all the
//! provider offers).
//!
//! Every request goes out as toolgate's other clients of a provider do: no
//! proxy, no redirect followed, a timeout, and an answer of bounded size.
//! The secret is sent in a header marked sensitive (or the form body);
//! errors name the endpoint and its status, never a secret or a token.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::RwLock;

use crate::config::OidcConfig;

/// How long one request to the provider may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from the provider.
const MAX_ANSWER_BYTES: usize = 512 * 1024;
/// How long a discovery document (and its keys) is kept before it is
/// fetched again.
const KEEP: Duration = Duration::from_secs(3600);

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    Basic,
    Post,
}

/// What the console uses of a discovery document, checked.
#[derive(Debug)]
pub(crate) struct Discovered {
    pub authorization_endpoint: url::Url,
    pub token_endpoint: url::Url,
    pub jwks_uri: url::Url,
    pub auth: ClientAuth,
    fetched: tokio::time::Instant,
}

#[derive(Deserialize)]
struct Document {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
}

/// The console's provider: its configuration, client secret and what was
/// fetched from it.
pub(crate) struct Provider {
    pub(crate) config: OidcConfig,
    client_secret: SecretString,
    http: reqwest::Client,
    discovered: RwLock<Option<Arc<Discovered>>>,
    keys: RwLock<Option<Arc<JwkSet>>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

/// Why the provider could not be used; the text names no secret or token.
#[derive(Debug)]
pub(crate) struct ProviderError(pub String);

/// `https://`, or `http://` on loopback only: the rule for the issuer,
/// applied to every endpoint its document names.
fn endpoint(raw: &str, what: &str) -> Result<url::Url, ProviderError> {
    let u = url::Url::parse(raw)
        .map_err(|_| ProviderError(format!("the discovery document's {what} is not a URL")))?;
    let loopback = matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if u.scheme() == "https" || (u.scheme() == "http" && loopback) {
        Ok(u)
    } else {
        Err(ProviderError(format!(
            "the discovery document's {what} is not https://"
        )))
    }
}

impl Provider {
    pub(crate) fn new(config: OidcConfig, client_secret: SecretString) -> Result<Provider, String> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the single sign-on client: {e}"))?;
        Ok(Provider {
            config,
            client_secret,
            http,
            discovered: RwLock::new(None),
            keys: RwLock::new(None),
        })
    }

    /// A JSON answer of bounded size from `url`.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: url::Url,
        what: &str,
    ) -> Result<T, ProviderError> {
        let r = self
            .http
            .get(url)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| unreachable(what, &e))?;
        let status = r.status();
        let body = bounded(r, what).await?;
        if !status.is_success() {
            return Err(ProviderError(format!(
                "the {what} answered {}",
                status.as_u16()
            )));
        }
        serde_json::from_slice(&body).map_err(|_| ProviderError(format!("the {what} is not valid")))
    }

    /// The discovery document, fetched when first needed and kept an hour.
    pub(crate) async fn discovered(&self) -> Result<Arc<Discovered>, ProviderError> {
        if let Some(d) = self.discovered.read().await.as_ref()
            && d.fetched.elapsed() < KEEP
        {
            return Ok(d.clone());
        }
        let mut slot = self.discovered.write().await;
        if let Some(d) = slot.as_ref()
            && d.fetched.elapsed() < KEEP
        {
            return Ok(d.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let url = url::Url::parse(&url)
            .map_err(|_| ProviderError("the issuer gives no discovery URL".into()))?;
        let doc: Document = self.get_json(url, "discovery document").await?;
        if doc.issuer != self.config.issuer {
            return Err(ProviderError(
                "the discovery document names another issuer than ui.oidc.issuer".into(),
            ));
        }
        if doc
            .code_challenge_methods_supported
            .as_ref()
            .is_some_and(|m| !m.iter().any(|m| m == "S256"))
        {
            return Err(ProviderError(
                "the provider does not offer PKCE with S256".into(),
            ));
        }
        // OpenID Connect Discovery: client_secret_basic when none is listed.
        let methods = doc
            .token_endpoint_auth_methods_supported
            .unwrap_or_else(|| vec!["client_secret_basic".into()]);
        let auth = if methods.iter().any(|m| m == "client_secret_basic") {
            ClientAuth::Basic
        } else if methods.iter().any(|m| m == "client_secret_post") {
            ClientAuth::Post
        } else {
            return Err(ProviderError(
                "the provider offers neither client_secret_basic nor client_secret_post".into(),
            ));
        };
        let d = Arc::new(Discovered {
            authorization_endpoint: endpoint(
                &doc.authorization_endpoint,
                "authorization_endpoint",
            )?,
            token_endpoint: endpoint(&doc.token_endpoint, "token_endpoint")?,
            jwks_uri: endpoint(&doc.jwks_uri, "jwks_uri")?,
            auth,
            fetched: tokio::time::Instant::now(),
        });
        *slot = Some(d.clone());
        // New document, new keys.
        *self.keys.write().await = None;
        Ok(d)
    }

    /// The provider's signing keys: those kept, unless `again` (a token
    /// named a key not among them), then fetched anew.
    pub(crate) async fn keys(
        &self,
        d: &Discovered,
        again: bool,
    ) -> Result<Arc<JwkSet>, ProviderError> {
        if !again && let Some(k) = self.keys.read().await.as_ref() {
            return Ok(k.clone());
        }
        let set: JwkSet = self.get_json(d.jwks_uri.clone(), "JWKS").await?;
        let set = Arc::new(set);
        *self.keys.write().await = Some(set.clone());
        Ok(set)
    }

    /// The ID token the token endpoint gives for `code`.
    pub(crate) async fn exchange(
        &self,
        d: &Discovered,
        code: &str,
        verifier: &str,
    ) -> Result<String, ProviderError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.config.redirect_uri.as_str()),
            ("code_verifier", verifier),
        ];
        let mut req = self
            .http
            .post(d.token_endpoint.clone())
            .header(http::header::ACCEPT, "application/json");
        match d.auth {
            ClientAuth::Basic => {
                let v = crate::secrets::basic_authorization(
                    &self.config.client_id,
                    &self.client_secret,
                )
                .ok_or_else(|| ProviderError("the client secret cannot be sent".into()))?;
                req = req.header(http::header::AUTHORIZATION, v);
            }
            ClientAuth::Post => {
                form.push(("client_id", self.config.client_id.as_str()));
                form.push(("client_secret", self.client_secret.expose_secret()));
            }
        }
        let r = req
            .form(&form)
            .send()
            .await
            .map_err(|e| unreachable("token endpoint", &e))?;
        let status = r.status();
        let body = bounded(r, "token endpoint").await?;
        if !status.is_success() {
            #[derive(Deserialize)]
            struct Refused {
                error: String,
            }
            let code: String = serde_json::from_slice::<Refused>(&body)
                .map(|e| e.error)
                .unwrap_or_default()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(40)
                .collect();
            return Err(ProviderError(format!(
                "the token endpoint answered {} {code}",
                status.as_u16()
            )));
        }
        #[derive(Deserialize)]
        struct Tokens {
            id_token: Option<String>,
        }
        let t: Tokens = serde_json::from_slice(&body)
            .map_err(|_| ProviderError("the token response is not valid".into()))?;
        t.id_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ProviderError("the token response has no ID token".into()))
    }
}

fn unreachable(what: &str, e: &reqwest::Error) -> ProviderError {
    ProviderError(if e.is_timeout() {
        format!("the {what} timed out")
    } else {
        format!("the {what} cannot be reached")
    })
}

/// A body of at most [`MAX_ANSWER_BYTES`].
async fn bounded(mut r: reqwest::Response, what: &str) -> Result<Vec<u8>, ProviderError> {
    let mut body = Vec::new();
    while let Some(chunk) = r
        .chunk()
        .await
        .map_err(|_| ProviderError(format!("the {what}'s answer was cut off")))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(ProviderError(format!("the {what}'s answer is too large")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
