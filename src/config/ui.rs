//! `ui:` — the web console at `/ui/`: on unless turned off, how long a
//! sign-in lasts, and single sign-on with OpenID Connect (`ui.oidc`): the
//! provider's issuer, the client toolgate is registered as there, its
//! secret (a `<source>`: env or file) and the scopes asked for.

use std::path::Path;
use std::time::Duration;

use super::document::FileCtx;
use super::raw::RawUi;
use super::sources::{SourceUse, endpoint, source};
use super::ui_model::{OidcConfig, UiConfig};

/// `ui:` as written; `public_url` (checked) gives the redirect URI.
pub(super) fn build(
    raw: Option<&RawUi>,
    public_url: Option<&str>,
    base_dir: &Path,
    ctx: &mut FileCtx<'_>,
) -> UiConfig {
    let mut config = UiConfig::default();
    let Some(raw) = raw else {
        return config;
    };
    if let Some(enabled) = raw.enabled {
        config.enabled = enabled;
    }
    match raw.session_ttl_seconds {
        None => {}
        Some(0) => ctx.error(
            "/ui/session_ttl_seconds",
            "ui.session_ttl_seconds must be at least 1",
        ),
        Some(s) => config.session_ttl = Duration::from_secs(s),
    }
    let Some(o) = &raw.oidc else {
        return config;
    };
    let pointer = "/ui/oidc";
    let before = ctx.count();
    let issuer = endpoint(&o.issuer, "issuer", ctx, pointer);
    if issuer.as_ref().is_some_and(|u| u.query().is_some()) {
        ctx.error(
            &format!("{pointer}/issuer"),
            "issuer is the provider's base URL, without a query",
        );
    }
    if o.client_id.trim().is_empty() {
        ctx.error(
            &format!("{pointer}/client_id"),
            "client_id is the client toolgate is registered as at the provider; it cannot be empty",
        );
    }
    let client_secret = source(
        &o.client_secret,
        base_dir,
        ctx,
        &format!("{pointer}/client_secret"),
        SourceUse::Setting,
    );
    let mut scopes = o
        .scopes
        .clone()
        .unwrap_or_else(|| vec!["openid".into(), "email".into()]);
    for (i, s) in scopes.iter().enumerate() {
        if s.is_empty()
            || !s
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        {
            ctx.error(
                &format!("{pointer}/scopes/{i}"),
                "a scope is one word of printable characters (no spaces, quotes or backslashes)",
            );
        }
    }
    if !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".into());
    }
    let redirect_uri = match public_url {
        Some(base) => Some(format!("{base}/ui/oidc/callback")),
        None => {
            ctx.error(
                pointer,
                "ui.oidc needs public_url: the provider sends the browser back to <public_url>/ui/oidc/callback, the redirect URI to register there",
            );
            None
        }
    };
    if ctx.count() > before {
        return config;
    }
    if let (Some(_), Some(client_secret), Some(redirect_uri)) =
        (issuer, client_secret, redirect_uri)
    {
        config.oidc = Some(OidcConfig {
            issuer: o.issuer.clone(),
            client_id: o.client_id.clone(),
            client_secret,
            scopes,
            redirect_uri,
        });
    }
    config
}
