//! Workflows (`workflows:`): environment, granted scopes, credential slots,
//! rate limit, the approval webhook, and the per-tool entries (overlay
//! schema, approval keys, rate limit) read and checked against the loaded
//! tools and credentials. Binding tools to a workflow is `catalog`'s job.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::document::{FileCtx, duration, load_schema};
use super::model::{CredentialDef, NotifyDef, ToolDef, ToolOverride, WorkflowDef};
use super::raw::{RawDeadLetters, RawNotify, RawWorkflow};
use super::sources::{SourceUse, source};
use super::tools::{approval_spec, rate_limit};
use super::yaml;

/// Every workflow in the file (a workflow with errors is kept, so later
/// steps can report their own problems with it too; the load fails anyway).
pub(super) fn build(
    raw: BTreeMap<String, RawWorkflow>,
    env: &str,
    base_dir: &Path,
    tools: &BTreeMap<String, Arc<ToolDef>>,
    credentials: &BTreeMap<String, Arc<CredentialDef>>,
    ctx: &mut FileCtx<'_>,
) -> BTreeMap<String, WorkflowDef> {
    raw.into_iter()
        .map(|(name, rw)| {
            let w = build_workflow(&name, rw, env, base_dir, tools, credentials, ctx);
            (name, w)
        })
        .collect()
}

fn build_workflow(
    name: &str,
    rw: RawWorkflow,
    env: &str,
    base_dir: &Path,
    tools: &BTreeMap<String, Arc<ToolDef>>,
    credentials: &BTreeMap<String, Arc<CredentialDef>>,
    ctx: &mut FileCtx<'_>,
) -> WorkflowDef {
    let p = format!("/workflows/{}", yaml::escape_token(name));
    if rw.environment != env {
        ctx.error(
            &format!("{p}/environment"),
            format!(
                "workflow of environment \"{}\" in a gateway for \"{env}\": toolgate refuses to start rather than mix environments",
                rw.environment
            ),
        );
    }
    let notify = rw
        .notify
        .as_ref()
        .and_then(|n| notify(n, base_dir, ctx, &format!("{p}/notify")));
    for (slot, cred) in &rw.credentials {
        let at = format!("{p}/credentials/{}", yaml::escape_token(slot));
        match credentials.get(cred) {
            None => ctx.error(&at, format!("unknown credential \"{cred}\"")),
            Some(c) if c.canary => ctx.error(
                &at,
                format!("credential \"{cred}\" is a canary: toolgate never injects it, so no workflow may bind it"),
            ),
            Some(_) => {}
        }
    }
    let scopes: BTreeSet<String> = rw.scopes.into_iter().collect();
    let mut overrides = BTreeMap::new();
    for (tname, ov) in rw.tools {
        let tp = format!("{p}/tools/{}", yaml::escape_token(&tname));
        match tools.get(&tname) {
            None => ctx.error(&tp, format!("unknown tool \"{tname}\"")),
            Some(t) if !t.scopes.is_subset(&scopes) => {
                let missing: Vec<&str> = t.scopes.difference(&scopes).map(String::as_str).collect();
                ctx.error(
                    &tp,
                    format!(
                        "tool \"{tname}\" is not callable here: scopes {missing:?} are not granted"
                    ),
                );
            }
            Some(_) => {
                let schema_pointer = format!("{tp}/schema");
                let schema = ov
                    .schema
                    .as_ref()
                    .and_then(|s| load_schema(s, base_dir, ctx, &schema_pointer));
                let approval = approval_spec(
                    ov.approval.as_ref(),
                    ov.approvals_required,
                    ov.expires_in.as_deref(),
                    ctx,
                    &tp,
                );
                overrides.insert(
                    tname,
                    ToolOverride {
                        schema,
                        approval,
                        rate_limit: rate_limit(ov.rate_limit.as_ref()),
                        schema_loc: ctx.at(&schema_pointer),
                    },
                );
            }
        }
    }
    WorkflowDef {
        loc: ctx.at(&p),
        credentials_loc: ctx.at(&format!("{p}/credentials")),
        name: name.to_owned(),
        environment: rw.environment,
        scopes,
        credentials: rw.credentials,
        rate_limit: rate_limit(rw.rate_limit.as_ref()),
        overrides,
        notify,
        dead_letter_retention: dead_letter_retention(rw.dead_letters.as_ref(), ctx, &p),
    }
}

/// How long a dead letter is kept when its workflow does not say.
pub(crate) const DEFAULT_DEAD_LETTER_RETENTION: Duration = Duration::from_secs(7 * 86_400);
/// The longest `dead_letters.retention` a workflow may set.
pub(crate) const MAX_DEAD_LETTER_RETENTION: Duration = Duration::from_secs(365 * 86_400);

/// `dead_letters.retention`: 1s to 365d, 7d when unset.
fn dead_letter_retention(raw: Option<&RawDeadLetters>, ctx: &mut FileCtx<'_>, p: &str) -> Duration {
    let Some(text) = raw.and_then(|d| d.retention.as_deref()) else {
        return DEFAULT_DEAD_LETTER_RETENTION;
    };
    match duration(text) {
        Some(d) if d > Duration::ZERO && d <= MAX_DEAD_LETTER_RETENTION => d,
        _ => {
            ctx.error(
                &format!("{p}/dead_letters/retention"),
                "retention must be a duration between 1s and 365d, such as 7d or 12h",
            );
            DEFAULT_DEAD_LETTER_RETENTION
        }
    }
}

fn notify(n: &RawNotify, base_dir: &Path, ctx: &mut FileCtx<'_>, np: &str) -> Option<NotifyDef> {
    let webhook = match (&n.webhook, &n.secret) {
        (Some(url), Some(secret)) => {
            let url = match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() => {
                    Some(u)
                }
                _ => {
                    ctx.error(
                        &format!("{np}/webhook"),
                        "the webhook must be an http(s) URL",
                    );
                    None
                }
            };
            let secret = source(
                secret,
                base_dir,
                ctx,
                &format!("{np}/secret"),
                SourceUse::Setting,
            );
            url.zip(secret).map(Some)
        }
        (Some(_), None) | (None, Some(_)) => {
            ctx.error(
                np,
                "webhook and secret go together: the secret signs what is posted to the webhook",
            );
            None
        }
        (None, None) => Some(None),
    };
    let slack_webhook = match &n.slack_webhook {
        Some(raw) => source(
            raw,
            base_dir,
            ctx,
            &format!("{np}/slack_webhook"),
            SourceUse::Setting,
        )
        .map(Some),
        None => Some(None),
    };
    let (webhook, slack_webhook) = (webhook?, slack_webhook?);
    if webhook.is_none() && slack_webhook.is_none() {
        ctx.error(
            np,
            "notify needs webhook (with secret), slack_webhook (a <source> holding the Slack webhook URL), or both",
        );
        return None;
    }
    Some(NotifyDef {
        webhook,
        slack_webhook,
    })
}
