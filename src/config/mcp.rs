//! `public_url:`, `mcp:` and `connections:` — the address clients use, the
//! Model Context Protocol endpoint's browser origins, session lifetime and
//! how long a held call waits for its decision, and where a per-user
//! connection may send the browser back to.

use std::time::Duration;

use url::Url;

use super::connections::ConnectionsConfig;
use super::document::FileCtx;
use super::mcp_model::McpConfig;
use super::raw::{RawConnections, RawMcp};

/// `public_url`: an absolute `http(s)` URL with no query or fragment, kept
/// without its trailing `/`.
pub(super) fn public_url(raw: Option<&str>, ctx: &mut FileCtx<'_>) -> Option<String> {
    let raw = raw?;
    match Url::parse(raw) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.query().is_none()
                && u.fragment().is_none()
                && u.username().is_empty()
                && u.password().is_none() =>
        {
            Some(u.as_str().trim_end_matches('/').to_owned())
        }
        _ => {
            ctx.error(
                "/public_url",
                "public_url must be an http(s) URL without credentials, query or fragment, e.g. https://toolgate.example.com",
            );
            None
        }
    }
}

/// The longest a held `tools/call` may be configured to wait.
const MAX_APPROVAL_WAIT_SECONDS: u64 = 300;

pub(super) fn build(raw: Option<&RawMcp>, ctx: &mut FileCtx<'_>) -> McpConfig {
    let Some(raw) = raw else {
        return McpConfig::default();
    };
    let mut config = McpConfig::default();
    for (i, o) in raw.allowed_origins.iter().enumerate() {
        match origin(o) {
            Some(o) => {
                config.allowed_origins.insert(o);
            }
            None => ctx.error(
                &format!("/mcp/allowed_origins/{i}"),
                "an allowed origin is scheme://host[:port], e.g. https://app.example.com",
            ),
        }
    }
    match raw.session_ttl_seconds {
        None => {}
        Some(0) => ctx.error(
            "/mcp/session_ttl_seconds",
            "mcp.session_ttl_seconds must be at least 1",
        ),
        Some(s) => config.session_ttl = Duration::from_secs(s),
    }
    match raw.approval_wait_seconds {
        None => {}
        Some(s) if s > MAX_APPROVAL_WAIT_SECONDS => ctx.error(
            "/mcp/approval_wait_seconds",
            format!(
                "mcp.approval_wait_seconds is at most {MAX_APPROVAL_WAIT_SECONDS} (0: answer a held call at once)"
            ),
        ),
        Some(s) => config.approval_wait = Duration::from_secs(s),
    }
    config
}

/// The longest a connect URL may be configured to stay usable.
const MAX_STATE_TTL_SECONDS: u64 = 3600;

pub(super) fn connections(
    raw: Option<&RawConnections>,
    ctx: &mut FileCtx<'_>,
) -> ConnectionsConfig {
    let mut config = ConnectionsConfig::default();
    let Some(raw) = raw else {
        return config;
    };
    for (i, o) in raw.return_to_origins.iter().enumerate() {
        match origin(o) {
            Some(o) => {
                config.return_to_origins.insert(o);
            }
            None => ctx.error(
                &format!("/connections/return_to_origins/{i}"),
                "a return_to origin is scheme://host[:port], e.g. https://app.example.com",
            ),
        }
    }
    match raw.state_ttl_seconds {
        None => {}
        Some(s) if s == 0 || s > MAX_STATE_TTL_SECONDS => ctx.error(
            "/connections/state_ttl_seconds",
            format!("connections.state_ttl_seconds is 1 to {MAX_STATE_TTL_SECONDS}"),
        ),
        Some(s) => config.state_ttl = Duration::from_secs(s),
    }
    config
}

/// An origin as browsers send it: `scheme://host[:port]`, the port left out
/// when it is the scheme's default.
pub(crate) fn origin(raw: &str) -> Option<String> {
    let u = Url::parse(raw).ok()?;
    let bare = u.path() == "/" && !raw.ends_with('/');
    if !bare || u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() {
        return None;
    }
    match u.origin() {
        o @ url::Origin::Tuple(..) => Some(o.ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn origins_are_kept_as_browsers_send_them() {
        assert_eq!(
            origin("https://app.example.com").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            origin("https://app.example.com:443").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            origin("http://localhost:6274").as_deref(),
            Some("http://localhost:6274")
        );
        assert_eq!(origin("https://app.example.com/"), None);
        assert_eq!(origin("https://app.example.com/x"), None);
        assert_eq!(origin("app.example.com"), None);
    }
}
