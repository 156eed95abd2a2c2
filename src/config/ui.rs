//! `ui:` — the web console at `/ui/`: on unless turned off, and how long a
//! sign-in lasts. Single sign-on (`ui.oidc`) is not built yet; the key is
//! refused rather than ignored, so nobody believes it is in force.

use std::time::Duration;

use super::raw::RawUi;

/// `ui:` — the web console at `/ui/`.
#[derive(Debug, Clone)]
pub struct UiConfig {
    /// Served unless `ui.enabled: false`; then every `/ui` path is `404`.
    pub enabled: bool,
    /// A console session ends this long after sign-in.
    pub session_ttl: Duration,
}

impl Default for UiConfig {
    fn default() -> UiConfig {
        UiConfig {
            enabled: true,
            session_ttl: Duration::from_secs(8 * 3600),
        }
    }
}

/// `ui:` as written; each problem goes to `error` (a JSON pointer, a message).
pub(super) fn build(raw: Option<&RawUi>, mut error: impl FnMut(&str, &str)) -> UiConfig {
    let mut config = UiConfig::default();
    let Some(raw) = raw else {
        return config;
    };
    if let Some(enabled) = raw.enabled {
        config.enabled = enabled;
    }
    match raw.session_ttl_seconds {
        None => {}
        Some(0) => error(
            "/ui/session_ttl_seconds",
            "ui.session_ttl_seconds must be at least 1",
        ),
        Some(s) => config.session_ttl = Duration::from_secs(s),
    }
    if raw.oidc.is_some() {
        error(
            "/ui/oidc",
            "ui.oidc (single sign-on) is not available in this version; remove it — approvers and admins sign in to the console with their key",
        );
    }
    config
}
