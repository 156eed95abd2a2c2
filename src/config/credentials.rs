//! Credentials (`credentials:`): where each secret lives, which environment
//! it belongs to, the scopes it holds and how it is attached to a request.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::document::{FORBIDDEN_HEADERS, FileCtx, header_name};
use super::model::{CredentialDef, Inject};
use super::raw::{RawCredential, RawInject, RawSource};
use super::sources::{SourceUse, source};
use super::yaml;

/// Every credential that validates, by name; the others are reported.
pub(super) fn build(
    raw: BTreeMap<String, RawCredential>,
    env: &str,
    base_dir: &Path,
    ctx: &mut FileCtx<'_>,
) -> BTreeMap<String, Arc<CredentialDef>> {
    let mut credentials = BTreeMap::new();
    for (name, rc) in raw {
        if let Some(c) = build_credential(&name, rc, env, base_dir, ctx) {
            credentials.insert(name, Arc::new(c));
        }
    }
    super::rotation::check_credentials(&credentials, ctx);
    credentials
}

fn build_credential(
    name: &str,
    raw: RawCredential,
    env: &str,
    base_dir: &Path,
    ctx: &mut FileCtx<'_>,
) -> Option<CredentialDef> {
    let p = format!("/credentials/{}", yaml::escape_token(name));
    if raw.environment != env {
        ctx.error(
            &format!("{p}/environment"),
            format!(
                "credential of environment \"{}\" in a gateway for \"{env}\": toolgate refuses to start rather than mix environments",
                raw.environment
            ),
        );
    }
    let source = source(
        &raw.source,
        base_dir,
        ctx,
        &format!("{p}/source"),
        SourceUse::Credential,
    );
    let inject = match (&raw.inject, raw.canary) {
        (None, true) => Some(Inject::Never),
        (Some(_), true) => {
            ctx.error(
                &format!("{p}/inject"),
                "a canary is never injected; remove inject",
            );
            None
        }
        (None, false) => {
            ctx.error(
                &p,
                "inject is required: one of header, basic, query (or canary: true for a decoy that is never sent)",
            );
            None
        }
        (Some(i), false) => inject(i, &p, ctx),
    };
    if raw.canary && matches!(raw.source, RawSource::Oauth2(_)) {
        ctx.error(
            &format!("{p}/source"),
            "a canary's value is a decoy to watch for; it cannot come from an OAuth2 token endpoint",
        );
    }
    if raw.canary
        && let RawSource::AwsSecretsManager(a) = &raw.source
        && (a.secret_id.contains("{agent}") || a.secret_id.contains("{subject}"))
    {
        ctx.error(
            &format!("{p}/source"),
            "a canary's value must be one value to watch for; its secret_id cannot hold {agent} or {subject}",
        );
    }
    let rotation = match &raw.rotation {
        None => Some(None),
        Some(r) => super::rotation::build(r, source.as_ref(), raw.canary, &p, ctx)
            .map(|r| Some(Arc::new(r))),
    };
    Some(CredentialDef {
        loc: ctx.at(&p),
        name: name.to_owned(),
        environment: raw.environment,
        source: source?,
        scopes: raw.scopes.into_iter().collect(),
        inject: inject?,
        canary: raw.canary,
        max_age_days: raw.max_age_days,
        rotated_at: raw.rotated_at,
        rotation: rotation?,
    })
}

/// How a credential is attached: exactly one of header (with its format),
/// basic or query.
fn inject(i: &RawInject, p: &str, ctx: &mut FileCtx<'_>) -> Option<Inject> {
    let forms = [i.header.is_some(), i.basic.is_some(), i.query.is_some()];
    if forms.iter().filter(|f| **f).count() != 1 {
        ctx.error(
            &format!("{p}/inject"),
            "inject needs exactly one of header, basic, query",
        );
        None
    } else if i.format.is_some() && i.header.is_none() {
        ctx.error(
            &format!("{p}/inject/format"),
            "format applies only to header injection",
        );
        None
    } else if let Some(h) = &i.header {
        let format = i.format.clone().unwrap_or_else(|| "{secret}".into());
        let mut name = header_name(h, ctx, &format!("{p}/inject/header"));
        if name
            .as_ref()
            .is_some_and(|n| FORBIDDEN_HEADERS.contains(&n.as_str()))
        {
            ctx.error(
                &format!("{p}/inject/header"),
                format!("toolgate sets {h} itself; inject the secret elsewhere"),
            );
            name = None;
        }
        match format.split_once("{secret}") {
            Some((prefix, suffix))
                if !suffix.contains("{secret}") && !format.contains(['\r', '\n']) =>
            {
                name.map(|name| Inject::Header {
                    name,
                    prefix: prefix.to_owned(),
                    suffix: suffix.to_owned(),
                })
            }
            _ => {
                ctx.error(
                    &format!("{p}/inject/format"),
                    "format must contain {secret} exactly once and no CR or LF",
                );
                None
            }
        }
    } else if let Some(b) = &i.basic {
        if b.username.contains(':') {
            ctx.error(
                &format!("{p}/inject/basic/username"),
                "a Basic auth username cannot contain ':'",
            );
            None
        } else {
            Some(Inject::Basic {
                username: b.username.clone(),
            })
        }
    } else {
        i.query.as_ref().map(|q| Inject::Query { param: q.clone() })
    }
}
