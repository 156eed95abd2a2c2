//! A workflow's notifications: its `notify.webhook` hears that an action
//! is waiting, with the approver's (redacted) view — or that one of its
//! agents was quarantined — signed with an HMAC of the body so the receiver
//! can tell it came from toolgate; its `notify.slack_webhook` gets the same
//! news as a Slack message ([`super::slack`]). Both carry the action's
//! console link when `public_url` is set, and go out the same way
//! ([`deliver`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::slack;
use super::views::notice_view;
use crate::actions::Action;
use crate::config::WorkflowDef;
use crate::gateway::Gateway;

/// Tell the workflow's webhook and Slack that an action is waiting (no secret in either).
pub(crate) fn announce(gw: &Gateway, workflow: &WorkflowDef, a: &Action) {
    let link = console_link(gw, &a.id);
    let mut view = notice_view(gw, a);
    view["event"] = json!("action.pending");
    if let Some(link) = &link {
        view["console_url"] = json!(link);
    }
    let message = slack::pending(a, view["expires_at"].as_str(), link.as_deref());
    post(gw, workflow, &view, &message, &a.id);
}

/// `<public_url>/ui/actions/<id>`: the action's page in the console, when
/// the console is on and `public_url` says where people reach it.
pub(crate) fn console_link(gw: &Gateway, action_id: &str) -> Option<String> {
    let base = gw.config.public_url.as_deref()?;
    gw.config
        .ui
        .enabled
        .then(|| format!("{base}/ui/actions/{action_id}"))
}

/// Post `body` to the workflow's `notify.webhook`, signed with its secret,
/// and `message` (Block Kit) to its `notify.slack_webhook`, each if set, in
/// the background; `about` names them in the log.
pub(crate) fn post(
    gw: &Gateway,
    workflow: &WorkflowDef,
    body: &Value,
    message: &Value,
    about: &str,
) {
    let Some(notify) = &workflow.notify else {
        return;
    };
    if let Some((url, secret)) = &notify.webhook {
        match gw
            .credentials
            .read_extra(&format!("notify:{}", workflow.name), secret)
        {
            Ok(secret) => {
                if let Some(body) = encode(workflow, body) {
                    let ts = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0);
                    let signature = sign(&secret, ts, &body);
                    deliver(
                        gw,
                        Target::Webhook,
                        url.clone(),
                        Some(signature),
                        body,
                        about,
                    );
                }
            }
            Err(e) => {
                tracing::warn!(workflow = %workflow.name, error = %e, "cannot sign the webhook; not sent")
            }
        }
    }
    let slack = notify.slack_webhook.as_ref();
    if let Some(url) = slack.and_then(|source| slack_url(gw, workflow, source))
        && let Some(body) = encode(workflow, message)
    {
        deliver(gw, Target::Slack, url, None, body, about);
    }
}

/// The Slack webhook's URL, read from its source (and known to the redactor
/// from then on); `None`, logged without the value, when it is not one.
fn slack_url(
    gw: &Gateway,
    workflow: &WorkflowDef,
    source: &crate::config::SourceDef,
) -> Option<url::Url> {
    use secrecy::ExposeSecret;
    let value = match gw
        .credentials
        .read_extra(&format!("notify-slack:{}", workflow.name), source)
    {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(workflow = %workflow.name, error = %e, "cannot read the Slack webhook; not sent");
            return None;
        }
    };
    match url::Url::parse(value.expose_secret().trim()) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() => Some(u),
        _ => {
            tracing::warn!(
                workflow = %workflow.name,
                source = %source.describe(),
                "the Slack webhook read is not an http(s) URL; not sent"
            );
            None
        }
    }
}

fn encode(workflow: &WorkflowDef, body: &Value) -> Option<Vec<u8>> {
    serde_json::to_vec(body)
        .inspect_err(|e| {
            tracing::error!(workflow = %workflow.name, error = %e, "cannot encode the notification; not sent")
        })
        .ok()
}

/// Where a notification goes, as the log names it.
#[derive(Clone, Copy)]
enum Target {
    Webhook,
    Slack,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Webhook => "webhook",
            Target::Slack => "slack",
        }
    }
}

/// POST `body` (JSON) to `url` once, in the background, through the egress
/// client tools with private networks use (never a metadata address),
/// within 5 seconds. The URL is never logged: a Slack webhook's is a secret.
fn deliver(
    gw: &Gateway,
    target: Target,
    url: url::Url,
    signature: Option<String>,
    body: Vec<u8>,
    about: &str,
) {
    let client = gw.egress.client(true).clone();
    let about = about.to_owned();
    tokio::spawn(async move {
        let mut req = client
            .post(url)
            .header("content-type", "application/json")
            .timeout(Duration::from_secs(5))
            .body(body);
        if let Some(signature) = signature {
            req = req.header("x-toolgate-signature", signature);
        }
        let to = target.name();
        match req.send().await {
            Ok(resp) if resp.status().is_success() => {}
            Ok(resp) => {
                tracing::warn!(%about, to, status = resp.status().as_u16(), "notification refused")
            }
            Err(e) => {
                tracing::warn!(%about, to, error = %e.without_url(), "notification failed")
            }
        }
    });
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`.
pub(crate) fn sign(secret: &secrecy::SecretString, ts: u64, body: &[u8]) -> String {
    use secrecy::ExposeSecret;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes any key");
    mac.update(ts.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={ts},v1={}", hex::encode(mac.finalize().into_bytes()))
}
