//! `{aws_secrets_manager: {…}}` as a checked [`AwsSecretDef`]: the secret id
//! and its `{agent}` / `{subject}` placeholders, the region, the version
//! stage and the endpoint. Everything wrong here is reported at load.

use std::time::Duration;

use super::document::FileCtx;
use super::model::{AwsSecretDef, SourceDef};
use super::raw::RawAwsSecret;

/// The placeholders a secret id may hold, filled from the caller's session.
const AWS_PLACEHOLDERS: [&str; 2] = ["{agent}", "{subject}"];

pub(super) fn aws_source(
    a: &RawAwsSecret,
    ctx: &mut FileCtx<'_>,
    pointer: &str,
) -> Option<SourceDef> {
    let before = ctx.count();
    if let Err(why) = check_secret_id(&a.secret_id) {
        ctx.error(&format!("{pointer}/secret_id"), why);
    }
    if a.field.as_deref().is_some_and(str::is_empty) {
        ctx.error(
            &format!("{pointer}/field"),
            "field names a key of the secret's JSON; leave it out to use the whole SecretString",
        );
    }
    if let Some(region) = &a.region
        && !valid_region(region)
    {
        ctx.error(
            &format!("{pointer}/region"),
            format!("{region:?} is not an AWS region name (e.g. eu-west-1)"),
        );
    }
    let stage = a.version_stage.as_deref().unwrap_or("AWSCURRENT");
    if stage.is_empty()
        || stage.len() > 256
        || !stage
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
    {
        ctx.error(
            &format!("{pointer}/version_stage"),
            "version_stage is a staging label such as AWSCURRENT (letters, digits, _ and -)",
        );
    }
    let endpoint = a.endpoint_url.as_deref().and_then(|e| match endpoint(e) {
        Ok(u) => Some(u),
        Err(why) => {
            ctx.error(&format!("{pointer}/endpoint_url"), why);
            None
        }
    });
    if ctx.count() > before {
        return None;
    }
    Some(SourceDef::AwsSecretsManager(Box::new(AwsSecretDef {
        secret_id: a.secret_id.clone(),
        field: a.field.clone(),
        region: a.region.clone(),
        version_stage: stage.to_owned(),
        endpoint_url: endpoint,
        cache: Duration::from_secs(a.cache_seconds.unwrap_or(30)),
    })))
}

/// A secret name or ARN, with `{agent}` / `{subject}` and no other braces.
fn check_secret_id(id: &str) -> Result<(), String> {
    let mut literal = id.to_owned();
    for p in AWS_PLACEHOLDERS {
        literal = literal.replace(p, "");
    }
    if id.is_empty() || id.len() > 2048 {
        return Err("secret_id is the secret's name or ARN (at most 2048 characters)".into());
    }
    if literal.contains(['{', '}']) {
        return Err(format!(
            "secret_id {id:?} holds a placeholder other than {{agent}} and {{subject}}"
        ));
    }
    if literal.is_empty() {
        return Err("secret_id needs a fixed part besides its placeholders (e.g. toolgate/{agent}/crm), or any session could name any secret".into());
    }
    if !literal
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@:-".contains(&b))
    {
        return Err(format!(
            "secret_id {id:?} has a character a secret name or ARN cannot hold (letters, digits and /_+=.@:- only)"
        ));
    }
    Ok(())
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, …
pub(crate) fn valid_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    r.len() <= 32
        && parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

fn endpoint(e: &str) -> Result<url::Url, String> {
    let why = || {
        format!(
            "endpoint_url {e:?} must be an https:// base URL without path, query or user (http:// only on loopback)"
        )
    };
    let u = url::Url::parse(e).map_err(|_| why())?;
    let loopback = matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    let scheme_ok = u.scheme() == "https" || (u.scheme() == "http" && loopback);
    if !scheme_ok
        || u.host_str().is_none()
        || u.path() != "/"
        || u.query().is_some()
        || u.fragment().is_some()
        || !u.username().is_empty()
        || u.password().is_some()
    {
        return Err(why());
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names() {
        for ok in ["us-east-1", "eu-central-2", "us-gov-west-1", "cn-north-1"] {
            assert!(valid_region(ok), "{ok}");
        }
        for bad in [
            "",
            "us",
            "us-east",
            "US-EAST-1",
            "us-east-1a",
            "us--1",
            "x-y-1",
        ] {
            assert!(!valid_region(bad), "{bad}");
        }
    }

    #[test]
    fn secret_ids() {
        for ok in [
            "prod/crm",
            "toolgate/{agent}/crm",
            "users/{subject}/{agent}",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:crm-AbCdEf",
        ] {
            assert!(check_secret_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "{subject}",
            "{agent}{subject}",
            "a/{user}",
            "a b",
            "a/{subject",
        ] {
            assert!(check_secret_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoints() {
        assert!(endpoint("https://secretsmanager.example.com").is_ok());
        assert!(endpoint("http://127.0.0.1:4566/").is_ok());
        for bad in [
            "http://example.com/",
            "https://example.com/v1",
            "https://u:p@example.com/",
            "https://example.com/?a=1",
            "ftp://example.com/",
        ] {
            assert!(endpoint(bad).is_err(), "{bad}");
        }
    }
}
