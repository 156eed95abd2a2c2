//! Secret sources (`env`, `file`, `vault`, `oauth2`, `aws_secrets_manager`,
//! `store`)
//! as `SourceDef`s, and where each kind may be used: a credential's source
//! may be any of them; the secrets of an OAuth2 source come from env, file or
//! vault; every other setting that names a secret (audit keys, store key,
//! Vault login, webhook secrets) takes env or file.

use std::path::Path;

use super::document::FileCtx;
use super::model::{Grant, OAuth2Def, SourceDef};
use super::raw::{RawGrant, RawOAuth2, RawSource, RawVaultRef};
use super::sources_aws::aws_source;

/// What a source is for, which decides the kinds it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SourceUse {
    /// `credentials.<name>.source`.
    Credential,
    /// A secret an OAuth2 source needs (client secret, first refresh token).
    OAuth2Secret,
    /// Any other key that names a secret.
    Setting,
}

/// The source at `pointer`, or `None` after reporting why it cannot be used there.
pub(super) fn source(
    raw: &RawSource,
    base_dir: &Path,
    ctx: &mut FileCtx<'_>,
    pointer: &str,
    usage: SourceUse,
) -> Option<SourceDef> {
    match raw {
        RawSource::Env(var) => Some(SourceDef::Env(var.clone())),
        RawSource::File(file) => Some(SourceDef::File(base_dir.join(file))),
        RawSource::Vault(v) => {
            if usage == SourceUse::Setting {
                ctx.unsupported(
                    &format!("{pointer}/vault"),
                    "a vault source outside credentials",
                );
                return None;
            }
            vault_source(v, ctx, &format!("{pointer}/vault"))
        }
        RawSource::Oauth2(o) => {
            let pointer = format!("{pointer}/oauth2");
            if usage != SourceUse::Credential {
                ctx.error(
                    &pointer,
                    "an oauth2 source gives a credential's access tokens; its own secrets come from env, file or vault",
                );
                return None;
            }
            oauth2_source(o, base_dir, ctx, &pointer)
        }
        RawSource::Store(s) => {
            let pointer = format!("{pointer}/store");
            if usage != SourceUse::Credential {
                ctx.error(
                    &pointer,
                    "a store source holds a credential toolgate rotates; this setting takes env or file (or vault for an OAuth2 secret)",
                );
                return None;
            }
            store_source(&s.initial, base_dir, ctx, &pointer)
        }
        RawSource::AwsSecretsManager(a) => {
            let pointer = format!("{pointer}/aws_secrets_manager");
            if usage != SourceUse::Credential {
                ctx.error(
                    &pointer,
                    "an aws_secrets_manager source is for credentials only; this setting takes env or file (or vault for an OAuth2 secret)",
                );
                return None;
            }
            aws_source(a, ctx, &pointer)
        }
    }
}

/// `{store: {initial: <source>}}`: `initial` gives one value for every
/// caller, read from anything but another store or an OAuth2 endpoint.
fn store_source(
    initial: &RawSource,
    base_dir: &Path,
    ctx: &mut FileCtx<'_>,
    pointer: &str,
) -> Option<SourceDef> {
    let at = format!("{pointer}/initial");
    if matches!(initial, RawSource::Store(_) | RawSource::Oauth2(_)) {
        ctx.error(
            &at,
            "initial is where the first value is read once: env, file, vault or aws_secrets_manager (not store or oauth2)",
        );
        return None;
    }
    let initial = source(initial, base_dir, ctx, &at, SourceUse::Credential)?;
    if super::rotation::one_value(&initial).is_none() {
        ctx.error(
            &at,
            "initial must give one value for every caller (no {subject} or {agent}): the store keeps one key",
        );
        return None;
    }
    Some(SourceDef::Store {
        initial: Box::new(initial),
    })
}

fn vault_source(v: &RawVaultRef, ctx: &mut FileCtx<'_>, pointer: &str) -> Option<SourceDef> {
    let (path, field) = (v.path.as_str(), v.field.as_str());
    let braces_ok = path
        .replace("{subject}", "")
        .chars()
        .all(|c| c != '{' && c != '}');
    if path.is_empty()
        || field.is_empty()
        || path.contains("..")
        || path.starts_with('/')
        || !braces_ok
    {
        ctx.error(
            pointer,
            "vault needs a relative API path (e.g. secret/data/app/crm, or secret/data/users/{subject}/crm) and a field",
        );
        return None;
    }
    Some(SourceDef::Vault {
        path: path.to_owned(),
        field: field.to_owned(),
    })
}

/// An endpoint of the provider: `https://`, or `http://` on loopback only.
pub(super) fn endpoint(
    raw: &str,
    key: &str,
    ctx: &mut FileCtx<'_>,
    pointer: &str,
) -> Option<url::Url> {
    match url::Url::parse(raw) {
        Ok(u)
            if (u.scheme() == "https"
                || (u.scheme() == "http"
                    && matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))))
                && u.username().is_empty()
                && u.password().is_none()
                && u.fragment().is_none() =>
        {
            Some(u)
        }
        _ => {
            ctx.error(
                &format!("{pointer}/{key}"),
                format!("{key} must be an https:// URL (http:// only on loopback), without credentials or fragment"),
            );
            None
        }
    }
}

fn oauth2_source(
    o: &RawOAuth2,
    base_dir: &Path,
    ctx: &mut FileCtx<'_>,
    pointer: &str,
) -> Option<SourceDef> {
    let before = ctx.count();
    let token_url = endpoint(&o.token_url, "token_url", ctx, pointer);
    let client_secret = source(
        &o.client_secret,
        base_dir,
        ctx,
        &format!("{pointer}/client_secret"),
        SourceUse::OAuth2Secret,
    );
    let refresh_token = o.refresh_token.as_ref().and_then(|r| {
        source(
            r,
            base_dir,
            ctx,
            &format!("{pointer}/refresh_token"),
            SourceUse::OAuth2Secret,
        )
    });
    let grant = match o.grant {
        RawGrant::RefreshToken => Grant::RefreshToken,
        RawGrant::ClientCredentials => Grant::ClientCredentials,
        RawGrant::AuthorizationCode => Grant::AuthorizationCode,
    };
    let (authorize_url, revocation_url) = connection_endpoints(o, &grant, ctx, pointer);
    match (&grant, &refresh_token) {
        (Grant::RefreshToken, None) => ctx.error(
            &format!("{pointer}/refresh_token"),
            "grant: refresh_token needs refresh_token: <source> (the first refresh token)",
        ),
        (Grant::ClientCredentials | Grant::AuthorizationCode, Some(_)) => ctx.error(
            &format!("{pointer}/refresh_token"),
            "a refresh_token is only used with grant: refresh_token (with grant: authorization_code each subject's comes from its connection)",
        ),
        _ => {}
    }
    if ctx.count() > before {
        return None;
    }
    Some(SourceDef::OAuth2(Box::new(OAuth2Def {
        token_url: token_url?,
        client_id: o.client_id.clone(),
        client_secret: client_secret?,
        grant,
        refresh_token,
        scopes: o.scopes.clone(),
        audience: o.audience.clone(),
        resource: o.resource.clone(),
        authorize_url,
        revocation_url,
        per_subject: o.per_subject,
    })))
}

/// `authorize_url`, `revocation_url` and `per_subject`: the keys of a
/// per-user connection, required with `grant: authorization_code` and
/// refused with any other grant.
fn connection_endpoints(
    o: &RawOAuth2,
    grant: &Grant,
    ctx: &mut FileCtx<'_>,
    pointer: &str,
) -> (Option<url::Url>, Option<url::Url>) {
    if *grant != Grant::AuthorizationCode {
        for (key, set) in [
            ("authorize_url", o.authorize_url.is_some()),
            ("revocation_url", o.revocation_url.is_some()),
            ("per_subject", o.per_subject),
        ] {
            if set {
                ctx.error(
                    &format!("{pointer}/{key}"),
                    format!(
                        "{key} is only used with grant: authorization_code (per-user connections)"
                    ),
                );
            }
        }
        return (None, None);
    }
    if !o.per_subject {
        ctx.error(
            &format!("{pointer}/per_subject"),
            "grant: authorization_code connects each end user's own account: set per_subject: true",
        );
    }
    let authorize_url = match &o.authorize_url {
        Some(u) => endpoint(u, "authorize_url", ctx, pointer),
        None => {
            ctx.error(
                &format!("{pointer}/authorize_url"),
                "grant: authorization_code needs authorize_url (the provider's authorization endpoint)",
            );
            None
        }
    };
    let revocation_url = o
        .revocation_url
        .as_ref()
        .and_then(|u| endpoint(u, "revocation_url", ctx, pointer));
    (authorize_url, revocation_url)
}
