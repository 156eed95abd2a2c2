//! The approval webhook: tell a workflow's `notify.webhook` that an action
//! is waiting, with the approver's (redacted) view, signed with an HMAC of
//! the body so the receiver can tell it came from toolgate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::views::approver_view;
use crate::actions::Action;
use crate::config::WorkflowDef;
use crate::gateway::Gateway;

/// Tell the workflow's webhook that an action is waiting (signed; no secret in it).
pub(crate) fn announce(gw: &Gateway, workflow: &WorkflowDef, a: &Action) {
    let Some(notify) = &workflow.notify else {
        return;
    };
    let secret = match gw
        .credentials
        .read_extra(&format!("notify:{}", workflow.name), &notify.secret)
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(workflow = %workflow.name, error = %e, "cannot sign the approval webhook; not sent");
            return;
        }
    };
    let mut view = serde_json::to_value(approver_view(gw, a)).unwrap_or(Value::Null);
    view["event"] = json!("action.pending");
    let body = match serde_json::to_vec(&view) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(workflow = %workflow.name, error = %e, "cannot encode the approval webhook; not sent");
            return;
        }
    };
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let signature = sign(&secret, ts, &body);
    let client = gw.egress.client(true).clone();
    let url = notify.webhook.clone();
    let action_id = a.id.clone();
    tokio::spawn(async move {
        let r = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-toolgate-signature", signature)
            .timeout(Duration::from_secs(5))
            .body(body)
            .send()
            .await;
        match r {
            Ok(resp) if resp.status().is_success() => {}
            Ok(resp) => {
                tracing::warn!(%action_id, status = resp.status().as_u16(), "approval webhook refused")
            }
            Err(e) => {
                tracing::warn!(%action_id, error = %e.without_url(), "approval webhook failed")
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
