//! What an approver is shown of an action: every byte of the frozen
//! request that will be sent — only the credential toolgate attaches is
//! missing, named by its slot and credential instead — so that an approval
//! binds a person to bytes they could read. Text that looks like a token is
//! shown and *flagged* (the detector named), never hidden: hiding it would
//! mean approving blind. `request.sha256` is a plain SHA-256 over exactly
//! what is shown (method, URL, sorted headers, a blank line, the body), for
//! the approver to check; it is computed here and never stored.
//!
//! A loaded secret cannot be in a frozen request (the call would have been
//! refused); were one there, it is hidden, flagged, and the action cannot be
//! approved (`decide::approve` refuses it).

use serde_json::{Map, Value, json};

use super::views::{Approver, rfc3339};
use crate::actions::{self, Action, State};
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::redact::{Redactor, is_sensitive_key};
use crate::request::FrozenRequest;
use crate::store::now_ms;

/// The approver's view of `a`, with its flags.
pub(crate) fn approver_view(gw: &Gateway, a: &Action) -> Value {
    let r = gw.redactor.load();
    let mut flags = Vec::new();
    let mut args = a.arguments.clone();
    flag_json(&r, &args, "/arguments", &mut flags);
    if r.redact_known_json(&mut args) > 0 {
        flags.push(loaded_secret("/arguments"));
    }
    let mut shown = |at: &str, text: &str| -> String {
        flag_text(&r, text, at, &mut flags);
        let (clean, n) = r.redact_known_str(text);
        if n > 0 {
            flags.push(loaded_secret(at));
        }
        clean.into_owned()
    };
    let url = shown("/request/url", &a.request.url);
    let headers: Vec<Value> = a
        .request
        .headers
        .iter()
        .map(|(k, v)| json!([k, shown(&format!("/request/headers/{k}"), v)]))
        .collect();
    let body_bytes = a.request.body_bytes();
    let body_text = body_bytes
        .as_deref()
        .map(|b| shown("/request/body", &String::from_utf8_lossy(b)));
    let mut body = a.request.body_json();
    r.redact_known_json(&mut body);
    let binding = gw.binding(&a.workflow, &a.tool);
    let credential = binding.and_then(|b| {
        let c = b.credential.as_ref()?;
        let slot = b.tool.upstream.credential_slot.clone();
        Some(json!({ "slot": slot, "name": c.name }))
    });
    json!({
        "action_id": a.id,
        "status": a.state.as_str(),
        "workflow": a.workflow,
        "agent": a.agent,
        "tool": a.tool,
        "call_id": a.call_id,
        "created_at": rfc3339(a.created_at_ms),
        "expires_at": if a.expires_at_ms != 0 { json!(rfc3339(a.expires_at_ms)) } else { Value::Null },
        "approvals_required": a.approvals_required,
        "approvals": a.approvals.iter().map(|d| json!({"by": d.by, "reason": d.reason, "at": rfc3339(d.at_ms)})).collect::<Vec<_>>(),
        "denial": a.denial.as_ref().map(|d| json!({"by": d.by, "reason": d.reason, "at": rfc3339(d.at_ms)})),
        "edits": a.edits,
        "arguments": args,
        "args_sha256": a.args_sha256,
        "flags": flags,
        "request": {
            "method": a.request.method,
            "url": url,
            "headers": headers,
            "credential": credential,
            "body": body,
            "body_text": body_text,
            "sha256": a.request.shown_sha256(),
            "digest": a.request.sha256,
        },
    })
}

fn loaded_secret(at: &str) -> Value {
    json!({
        "at": at,
        "kind": "loaded_secret",
        "note": "holds a secret toolgate has loaded; it is hidden here, so this action cannot be approved",
    })
}

fn flag_text(r: &Redactor, text: &str, at: &str, flags: &mut Vec<Value>) {
    for detector in r.token_shapes(text.as_bytes()) {
        flags.push(json!({
            "at": at,
            "kind": "token_shape",
            "detector": detector,
            "note": format!("looks like a token ({detector}); it is shown as it will be sent"),
        }));
    }
}

/// Flags for every string and key under `v`, at JSON pointers below `at`.
fn flag_json(r: &Redactor, v: &Value, at: &str, flags: &mut Vec<Value>) {
    match v {
        Value::String(s) => flag_text(r, s, at, flags),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flag_json(r, item, &format!("{at}/{i}"), flags);
            }
        }
        Value::Object(map) => flag_object(r, map, at, flags),
        _ => {}
    }
}

fn flag_object(r: &Redactor, map: &Map<String, Value>, at: &str, flags: &mut Vec<Value>) {
    for (k, val) in map {
        let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
        flag_text(r, k, &here, flags);
        if is_sensitive_key(k) && !val.is_null() {
            flags.push(json!({
                "at": here,
                "kind": "sensitive_key",
                "note": "a field whose name says it holds a secret; it is shown as it will be sent",
            }));
        }
        flag_json(r, val, &here, flags);
    }
}

/// Actions waiting in the approver's workflows.
pub(crate) async fn pending_for(gw: &Gateway, who: &Approver<'_>) -> Result<Vec<Value>, ApiError> {
    let now = now_ms();
    let all = actions::open(gw.store.as_ref()).await?;
    Ok(all
        .iter()
        .filter(|a| who.may_see(a) && a.state == State::PendingApproval && a.expires_at_ms > now)
        .map(|a| approver_view(gw, a))
        .collect())
}

pub(crate) async fn view_for(
    gw: &Gateway,
    who: &Approver<'_>,
    id: &str,
) -> Result<Value, ApiError> {
    match actions::load(gw.store.as_ref(), id).await? {
        Some(a) if who.may_see(&a) => Ok(approver_view(gw, &a)),
        _ => Err(ApiError::new(Code::NotFound, "no such action")),
    }
}

/// The name of a loaded secret the frozen request holds, if any: such a
/// request was not fully shown, so it cannot be approved.
pub(crate) fn hidden_secret(r: &Redactor, f: &FrozenRequest) -> Option<String> {
    let body = f.body_bytes().unwrap_or_default();
    let parts = [f.url.as_bytes(), body.as_slice()];
    parts
        .into_iter()
        .chain(f.headers.iter().map(|(_, v)| v.as_bytes()))
        .find_map(|p| r.known_secret_in(p))
        .map(str::to_owned)
}
