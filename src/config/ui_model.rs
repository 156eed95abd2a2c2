//! `ui:` as loaded: whether the console is served, how long a sign-in
//! lasts, and single sign-on (`ui.oidc`).

use std::time::Duration;

use super::source_model::SourceDef;

/// `ui:` — the web console at `/ui/`.
#[derive(Debug, Clone)]
pub struct UiConfig {
    /// Served unless `ui.enabled: false`; then every `/ui` path is `404`.
    pub enabled: bool,
    /// A console session ends this long after sign-in.
    pub session_ttl: Duration,
    /// Single sign-on (`ui.oidc`), when configured.
    pub oidc: Option<OidcConfig>,
}

/// `ui.oidc`: sign-in to the console through an OpenID Connect provider.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The issuer exactly as written (and as the provider must name
    /// itself): `https://`, or `http://` on loopback only.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SourceDef,
    /// What is asked for; always holds `openid`.
    pub scopes: Vec<String>,
    /// `<public_url>/ui/oidc/callback`, where the provider sends the browser back.
    pub redirect_uri: String,
}

impl Default for UiConfig {
    fn default() -> UiConfig {
        UiConfig {
            enabled: true,
            session_ttl: Duration::from_secs(8 * 3600),
            oidc: None,
        }
    }
}
