//! `toolgate check`'s lints: configurations that load but are risky.
//!
//! A credential shared by two workflows or agents; a credential holding
//! scopes no bound tool needs; an open input schema; a secret injected into
//! a query string; a secret too short to redact by value; a credential
//! older than its `max_age_days`. Secret values are only measured here,
//! never printed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use secrecy::ExposeSecret;
use serde_json::Value;

use super::{Config, Diagnostic, Inject, Loc, SourceDef};
use crate::secrets::{Credentials, EnvSource};

/// Credential name → the workflows that bind it.
type BoundIn<'c> = BTreeMap<&'c str, BTreeSet<&'c str>>;
/// Credential name → the scopes the tools it is bound to need.
type Needed<'c> = BTreeMap<&'c str, BTreeSet<&'c str>>;

/// Which workflows bind each credential, and which scopes their tools need.
pub(super) fn bindings(config: &Config) -> (BoundIn<'_>, Needed<'_>) {
    let mut bound_in: BoundIn<'_> = BTreeMap::new();
    let mut needed: Needed<'_> = BTreeMap::new();
    for w in config.workflows.values() {
        for t in config.tools.values().filter(|t| w.grants(t)) {
            if let Some(c) = w.credential_for(t) {
                bound_in.entry(c).or_default().insert(&w.name);
                needed
                    .entry(c)
                    .or_default()
                    .extend(t.scopes.iter().map(String::as_str));
            }
        }
    }
    (bound_in, needed)
}

pub fn lint(config: &Config, env: &dyn EnvSource, now: SystemTime) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let warn = |out: &mut Vec<Diagnostic>, loc: &Loc, key: &str, msg: String| {
        let mut loc = loc.clone();
        if !key.is_empty() {
            loc.key = format!("{}.{key}", loc.key);
        }
        out.push(Diagnostic::warning(loc, msg));
    };

    let (bound_in, needed) = bindings(config);
    let agents_of = |wf: &str| config.agents.values().filter(|a| a.workflow == wf).count();

    for c in config.credentials.values() {
        let workflows = bound_in.get(c.name.as_str()).cloned().unwrap_or_default();
        if workflows.len() > 1 {
            warn(
                &mut out,
                &c.loc,
                "",
                format!(
                    "credential is shared by workflows {workflows:?}; give each workflow its own credential so one can be revoked without the other"
                ),
            );
        } else if let Some(wf) = workflows.iter().next()
            && agents_of(wf) > 1
        {
            warn(
                &mut out,
                &c.loc,
                "",
                format!(
                    "credential is shared by {} agents of workflow {wf}; the upstream cannot tell them apart",
                    agents_of(wf)
                ),
            );
        }
        let need = needed.get(c.name.as_str()).cloned().unwrap_or_default();
        let extra: Vec<&str> = c
            .scopes
            .iter()
            .map(String::as_str)
            .filter(|s| !need.contains(s))
            .collect();
        if !extra.is_empty() {
            warn(
                &mut out,
                &c.loc,
                "scopes",
                format!(
                    "over-privileged: no bound tool needs {extra:?}; ask the vendor for a narrower credential"
                ),
            );
        }
        if let Inject::Query { .. } = c.inject {
            warn(&mut out, &c.loc, "inject", "the secret is sent in a query string, where proxies and upstream access logs keep it; prefer a header".into());
        }
        // A Vault value or an OAuth2 token is read at run time; there is
        // nothing to measure here but an OAuth2 client secret kept locally.
        let local = !matches!(
            c.source,
            SourceDef::Vault { .. }
                | SourceDef::OAuth2(_)
                | SourceDef::AwsSecretsManager(_)
                | SourceDef::Store { .. }
        );
        if let SourceDef::OAuth2(o) = &c.source
            && matches!(o.client_secret, SourceDef::Env(_) | SourceDef::File(_))
            && Credentials::read_source(&o.client_secret, env).is_none()
        {
            warn(
                &mut out,
                &c.loc,
                "source",
                format!(
                    "the OAuth2 client secret cannot be read now ({})",
                    o.client_secret.describe()
                ),
            );
        }
        match Credentials::probe(c, env).filter(|_| local) {
            Some(v) if crate::redact::too_short_to_redact(v.expose_secret()) => {
                warn(
                    &mut out,
                    &c.loc,
                    "source",
                    format!(
                        "the secret is shorter than {} characters: it cannot be redacted by value without mangling ordinary text",
                        crate::redact::MIN_REDACTABLE_LEN
                    ),
                );
            }
            Some(_) => {}
            None if !local => {}
            None => warn(
                &mut out,
                &c.loc,
                "source",
                format!("cannot be read now ({})", c.source.describe()),
            ),
        }
        if let Some(max) = c.max_age_days
            && let Some(age) = age(c, now)
            && age > Duration::from_secs(u64::from(max) * 86_400)
        {
            warn(
                &mut out,
                &c.loc,
                "max_age_days",
                format!(
                    "the secret is {} days old, past max_age_days ({max}); rotate it",
                    age.as_secs() / 86_400
                ),
            );
        }
    }

    for t in config.tools.values() {
        if t.upstream.timeout > config.limits.request_timeout {
            warn(
                &mut out,
                &t.loc,
                "upstream.timeout_ms",
                format!(
                    "longer than limits.request_timeout_ms ({} ms), which cuts the request first",
                    config.limits.request_timeout.as_millis()
                ),
            );
        }
        if t.input_schema.get("additionalProperties") != Some(&Value::Bool(false)) {
            warn(&mut out, &t.loc, "input_schema", "open input schema: add \"additionalProperties\": false so the model cannot pass fields nobody reviewed".into());
        }
    }
    for w in config.workflows.values() {
        if !config.tools.values().any(|t| w.grants(t)) {
            warn(
                &mut out,
                &w.loc,
                "scopes",
                "no tool is callable in this workflow".into(),
            );
        }
    }
    out
}

/// How old the secret is: `rotated_at` if given, else the file's modification time.
pub(crate) fn age(c: &super::CredentialDef, now: SystemTime) -> Option<Duration> {
    if let Some(date) = &c.rotated_at {
        let days = days_from_civil(date)?;
        let then = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(days).ok()? * 86_400);
        return now.duration_since(then).ok();
    }
    if let SourceDef::File(path) = &c.source {
        let modified = std::fs::metadata(path).ok()?.modified().ok()?;
        return now.duration_since(modified).ok();
    }
    None
}

/// Days since 1970-01-01 for a `YYYY-MM-DD` date (proleptic Gregorian).
fn days_from_civil(date: &str) -> Option<i64> {
    let mut it = date.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::days_from_civil;

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil("1970-01-01"), Some(0));
        assert_eq!(days_from_civil("2000-03-01"), Some(11_017));
        assert_eq!(days_from_civil("2026-11-22"), Some(20_779));
        assert_eq!(days_from_civil("2026-13-01"), None);
    }
}
