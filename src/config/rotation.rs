//! A credential's `rotation:` key: how often, how long the old key stays
//! valid, the backoff after a failure, and the mint and revoke requests.
//!
//! Every bad form is reported at its pointer: durations, JSON pointers,
//! placeholders (`{old_id}` and `{old_secret}` in revoke only), URLs, header
//! names, the credential a request names, and a source toolgate cannot write.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use serde_json::Value;

use super::document::{FORBIDDEN_HEADERS, FileCtx, duration, header_name};
use super::model::{CredentialDef, SourceDef};
use super::raw::{RawRotation, RawRotationRequest};
use super::rotation_model::{RotationDef, RotationRequest};

/// The placeholders a revoke request may use.
pub(super) const REVOKE_PLACEHOLDERS: [&str; 2] = ["old_id", "old_secret"];

/// The default backoff after a failed step: 10 s, doubling up to 10 min.
const RETRY_INITIAL: Duration = Duration::from_secs(10);
const RETRY_MAX: Duration = Duration::from_secs(600);

/// The checked `rotation:` of the credential at `p` whose source is `source`.
pub(super) fn build(
    raw: &RawRotation,
    source: Option<&SourceDef>,
    canary: bool,
    p: &str,
    ctx: &mut FileCtx<'_>,
) -> Option<RotationDef> {
    let p = format!("{p}/rotation");
    let before = ctx.count();
    if canary {
        ctx.error(
            &p,
            "a canary is a decoy that is never sent; it is not rotated",
        );
    }
    match source {
        Some(SourceDef::Vault { path, .. }) if path.contains("{subject}") => ctx.error(
            &p,
            "a per-subject vault path holds one key per subject; rotation needs one key (a path without {subject})",
        ),
        Some(SourceDef::Vault { .. } | SourceDef::Store { .. }) | None => {}
        Some(other) => ctx.error(
            &p,
            format!(
                "toolgate cannot write a {} source; rotation needs a vault (KV v2) source or a store source ({{store: {{initial: <source>}}}})",
                other.kind()
            ),
        ),
    }
    let span = |ctx: &mut FileCtx<'_>, text: &str, key: &str, min: Duration| {
        let d = duration(text).filter(|d| *d >= min);
        if d.is_none() {
            ctx.error(
                &format!("{p}/{key}"),
                format!(
                    "{key} must be a duration of at least {}s, such as 30d, 12h, 15m or 30s",
                    min.as_secs()
                ),
            );
        }
        d
    };
    let every = span(ctx, &raw.every, "every", Duration::from_secs(1));
    let grace = span(ctx, &raw.grace, "grace", Duration::ZERO);
    if let (Some(e), Some(g)) = (every, grace)
        && g >= e
    {
        ctx.error(
            &format!("{p}/grace"),
            "grace must be shorter than every: a key is revoked before the next one is minted",
        );
    }
    let (mut initial, mut max) = (Some(RETRY_INITIAL), Some(RETRY_MAX));
    if let Some(r) = &raw.retry {
        let rp = format!("{p}/retry");
        let one = |ctx: &mut FileCtx<'_>, text: &Option<String>, key: &str, default| match text {
            None => Some(default),
            Some(t) => {
                let d = duration(t).filter(|d| *d >= Duration::from_secs(1));
                if d.is_none() {
                    ctx.error(
                        &format!("{rp}/{key}"),
                        "a backoff is a duration of at least 1s, such as 10s or 5m",
                    );
                }
                d
            }
        };
        initial = one(ctx, &r.initial, "initial", RETRY_INITIAL);
        max = one(ctx, &r.max, "max", RETRY_MAX);
        if let (Some(i), Some(m)) = (initial, max)
            && i > m
        {
            ctx.error(&format!("{rp}/max"), "max must not be shorter than initial");
        }
    }
    let mint = request(&raw.mint, &format!("{p}/mint"), &[], ctx);
    let secret_at = match raw.mint.secret_at.as_deref() {
        None => {
            ctx.error(
                &format!("{p}/mint/secret_at"),
                "mint needs secret_at: the JSON pointer of the new secret in its answer (such as /key)",
            );
            None
        }
        Some(ptr) => pointer(ptr, &format!("{p}/mint/secret_at"), ctx),
    };
    let id_at = match raw.mint.id_at.as_deref() {
        None => Some(None),
        Some(ptr) => pointer(ptr, &format!("{p}/mint/id_at"), ctx).map(Some),
    };
    let revoke = match &raw.revoke {
        None => Some(None),
        Some(r) => {
            let rp = format!("{p}/revoke");
            for key in [("secret_at", &r.secret_at), ("id_at", &r.id_at)] {
                if key.1.is_some() {
                    ctx.error(
                        &format!("{rp}/{}", key.0),
                        format!("{} belongs to mint; revoke's answer is not read", key.0),
                    );
                }
            }
            request(r, &rp, &REVOKE_PLACEHOLDERS, ctx).map(Some)
        }
    };
    if let (Some(Some(r)), Some(None)) = (&revoke, &id_at)
        && r.uses("{old_id}")
    {
        ctx.error(
            &format!("{p}/revoke"),
            "revoke names {old_id}, and mint has no id_at to read the id from",
        );
    }
    if ctx.count() > before {
        return None;
    }
    Some(RotationDef {
        every: every?,
        grace: grace?,
        retry_initial: initial?,
        retry_max: max?,
        mint: mint?,
        secret_at: secret_at?,
        id_at: id_at?,
        revoke: revoke?,
    })
}

/// A JSON pointer (`""` or `/…`).
fn pointer(ptr: &str, p: &str, ctx: &mut FileCtx<'_>) -> Option<String> {
    if ptr.starts_with('/') {
        Some(ptr.to_owned())
    } else {
        ctx.error(
            p,
            "a JSON pointer into the answer starts with / (such as /key or /data/0/secret)",
        );
        None
    }
}

fn request(
    raw: &RawRotationRequest,
    p: &str,
    allowed: &[&str],
    ctx: &mut FileCtx<'_>,
) -> Option<RotationRequest> {
    let before = ctx.count();
    let method = Method::from_bytes(raw.method.as_bytes()).ok();
    if method.is_none() {
        ctx.error(&format!("{p}/method"), "not an HTTP method");
    }
    placeholders(&raw.url, &format!("{p}/url"), allowed, ctx);
    match url::Url::parse(&raw.url.replace(['{', '}'], "")) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => {
            if raw.url.split("://").nth(1).is_some_and(|rest| {
                rest.split(['/', '?'])
                    .next()
                    .is_some_and(|h| h.contains('{'))
            }) {
                ctx.error(
                    &format!("{p}/url"),
                    "the scheme, host and port are fixed text; a placeholder may only be in the path or query",
                );
            }
        }
        _ => ctx.error(
            &format!("{p}/url"),
            "url must be an absolute http:// or https:// URL",
        ),
    }
    let mut headers = Vec::new();
    for (name, value) in &raw.headers {
        let hp = format!("{p}/headers/{}", super::yaml::escape_token(name));
        let Some(h) = header_name(name, ctx, &hp) else {
            continue;
        };
        if FORBIDDEN_HEADERS.contains(&h.as_str()) {
            ctx.error(&hp, format!("toolgate sets {name} itself"));
            continue;
        }
        if value.contains(['\r', '\n']) {
            ctx.error(&hp, "a header value cannot hold CR or LF");
            continue;
        }
        placeholders(value, &hp, allowed, ctx);
        headers.push((h, value.clone()));
    }
    if let Some(body) = &raw.body {
        body_placeholders(body, &format!("{p}/body"), allowed, ctx);
    }
    let timeout = Duration::from_millis(raw.timeout_ms.unwrap_or(30_000));
    if ctx.count() > before {
        return None;
    }
    Some(RotationRequest {
        method: method?,
        url: raw.url.clone(),
        headers,
        body: raw.body.clone(),
        credential: raw.credential.clone(),
        allow_private_network: raw.allow_private_network,
        timeout,
    })
}

fn body_placeholders(v: &Value, p: &str, allowed: &[&str], ctx: &mut FileCtx<'_>) {
    match v {
        Value::String(s) => placeholders(s, p, allowed, ctx),
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                body_placeholders(v, &format!("{p}/{i}"), allowed, ctx);
            }
        }
        Value::Object(o) => {
            for (k, v) in o {
                body_placeholders(
                    v,
                    &format!("{p}/{}", super::yaml::escape_token(k)),
                    allowed,
                    ctx,
                );
            }
        }
        _ => {}
    }
}

/// Report every `{name}` in `text` that is not one of `allowed`.
fn placeholders(text: &str, p: &str, allowed: &[&str], ctx: &mut FileCtx<'_>) {
    for name in names(text) {
        if !allowed.contains(&name) {
            let known = if allowed.is_empty() {
                "mint takes no placeholders".to_owned()
            } else {
                format!(
                    "the placeholders here are {}",
                    allowed
                        .iter()
                        .map(|a| format!("{{{a}}}"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                )
            };
            ctx.error(p, format!("unknown placeholder {{{name}}}: {known}"));
        }
    }
}

/// The names of the `{name}` placeholders in `text`.
pub(crate) fn names(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                out.push(&after[..end]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

/// A request's `credential:` must name a configured credential that is
/// sent as one value (not per subject or per agent) and is no canary.
pub(super) fn check_credentials(
    credentials: &BTreeMap<String, Arc<CredentialDef>>,
    ctx: &mut FileCtx<'_>,
) {
    for c in credentials.values() {
        let Some(r) = &c.rotation else {
            continue;
        };
        let p = format!(
            "/credentials/{}/rotation",
            super::yaml::escape_token(&c.name)
        );
        let requests = [("mint", Some(&r.mint)), ("revoke", r.revoke.as_ref())];
        for (step, req) in requests {
            let Some(name) = req.and_then(|r| r.credential.as_deref()) else {
                continue;
            };
            let at = format!("{p}/{step}/credential");
            match credentials.get(name) {
                None => ctx.error(&at, format!("no credential named {name}")),
                Some(other) if other.canary => {
                    ctx.error(&at, format!("{name} is a canary; it is never sent"))
                }
                Some(other) if one_value(&other.source).is_none() => ctx.error(
                    &at,
                    format!(
                        "{name} has one value per subject or agent; a rotation request needs one value"
                    ),
                ),
                Some(_) => {}
            }
        }
    }
}

/// `Some` when the source gives one value for every caller.
pub(super) fn one_value(source: &SourceDef) -> Option<()> {
    match source {
        SourceDef::Vault { path, .. } if path.contains("{subject}") => None,
        SourceDef::AwsSecretsManager(a)
            if a.secret_id.contains("{agent}") || a.secret_id.contains("{subject}") =>
        {
            None
        }
        _ => Some(()),
    }
}
