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

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::views::{Approver, DecisionView, rfc3339};
use crate::actions::{self, Action, Edit, State};
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::redact::{Redactor, is_sensitive_key};
use crate::request::FrozenRequest;
use crate::store::now_ms;

/// Where a credential goes: its slot in the manifest, and the credential
/// the workflow binds there — never its value.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CredentialRef {
    pub slot: Option<String>,
    pub name: String,
}

/// The frozen upstream request, every byte as it will be sent (only a
/// loaded secret would be hidden, and then the action cannot be approved).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RequestView {
    pub method: String,
    pub url: String,
    /// `[name, value]` pairs, sorted by name.
    #[schema(value_type = Vec<Vec<String>>)]
    pub headers: Vec<(String, String)>,
    /// What toolgate attaches when it sends: not shown, only named.
    pub credential: Option<CredentialRef>,
    /// The body as JSON when it is JSON, else as text; null when there is none.
    #[schema(value_type = Object)]
    pub body: Value,
    /// The body's exact bytes, as text.
    pub body_text: Option<String>,
    /// SHA-256 (hex) over exactly what is shown: method, URL, sorted
    /// headers (`name: value`), a blank line, the body — lines ending in
    /// `\n`. For the approver to check; it is not stored.
    pub sha256: String,
    /// The keyed digest (`hmac-sha256:…`) the audit records name this request by.
    pub digest: String,
}

/// Something in what is shown that deserves a second look.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Flag {
    /// A JSON pointer into this view: `/arguments/…`, `/request/url`,
    /// `/request/headers/NAME`, `/request/body`.
    pub at: String,
    pub kind: FlagKind,
    /// The detector, for a token shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detector: Option<&'static str>,
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FlagKind {
    /// Text shaped like a token; shown as it will be sent.
    TokenShape,
    /// A field whose name says it holds a secret; shown as it will be sent.
    SensitiveKey,
    /// A secret toolgate has loaded; hidden, so the action cannot be approved.
    LoadedSecret,
}

/// What an approver sees of an action: every byte that will be sent.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApproverView {
    pub action_id: String,
    pub status: State,
    pub workflow: String,
    pub agent: String,
    pub tool: String,
    pub call_id: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub approvals_required: u32,
    pub approvals: Vec<DecisionView>,
    pub denial: Option<DecisionView>,
    pub edits: Vec<Edit>,
    /// The call's arguments as the model wrote them.
    #[schema(value_type = Object)]
    pub arguments: Value,
    /// The keyed digest of the arguments.
    pub args_sha256: String,
    /// What to look at twice before approving.
    pub flags: Vec<Flag>,
    pub request: RequestView,
}

/// The approver's view of `a`, with its flags.
pub(crate) fn approver_view(gw: &Gateway, a: &Action) -> ApproverView {
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
    let headers = a
        .request
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), shown(&format!("/request/headers/{k}"), v)))
        .collect();
    let body_text = a
        .request
        .body_bytes()
        .map(|b| shown("/request/body", &String::from_utf8_lossy(&b)));
    let mut body = a.request.body_json();
    r.redact_known_json(&mut body);
    let credential = gw.binding(&a.workflow, &a.tool).and_then(|b| {
        Some(CredentialRef {
            slot: b.tool.upstream.credential_slot.clone(),
            name: b.credential.as_ref()?.name.clone(),
        })
    });
    ApproverView {
        action_id: a.id.clone(),
        status: a.state,
        workflow: a.workflow.clone(),
        agent: a.agent.clone(),
        tool: a.tool.clone(),
        // The caller's own label, not sent upstream: redacted like its other fields.
        call_id: r.redact_str(&a.call_id).0.into_owned(),
        created_at: rfc3339(a.created_at_ms),
        expires_at: (a.expires_at_ms != 0).then(|| rfc3339(a.expires_at_ms)),
        approvals_required: a.approvals_required,
        approvals: a.approvals.iter().map(DecisionView::from).collect(),
        denial: a.denial.as_ref().map(DecisionView::from),
        edits: a.edits.clone(),
        arguments: args,
        args_sha256: a.args_sha256.clone(),
        flags,
        request: RequestView {
            method: a.request.method.clone(),
            url,
            headers,
            credential,
            body,
            body_text,
            sha256: a.request.shown_sha256(),
            digest: a.request.sha256.clone(),
        },
    }
}

fn loaded_secret(at: &str) -> Flag {
    Flag {
        at: at.to_owned(),
        kind: FlagKind::LoadedSecret,
        detector: None,
        note: "holds a secret toolgate has loaded; it is hidden here, so this action cannot be approved"
            .into(),
    }
}

fn flag_text(r: &Redactor, text: &str, at: &str, flags: &mut Vec<Flag>) {
    for detector in r.token_shapes(text.as_bytes()) {
        flags.push(Flag {
            at: at.to_owned(),
            kind: FlagKind::TokenShape,
            detector: Some(detector),
            note: format!("looks like a token ({detector}); it is shown as it will be sent"),
        });
    }
}

/// Flags for every string and key under `v`, at JSON pointers below `at`.
fn flag_json(r: &Redactor, v: &Value, at: &str, flags: &mut Vec<Flag>) {
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

fn flag_object(r: &Redactor, map: &Map<String, Value>, at: &str, flags: &mut Vec<Flag>) {
    for (k, val) in map {
        let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
        flag_text(r, k, &here, flags);
        if is_sensitive_key(k) && !val.is_null() {
            flags.push(Flag {
                at: here.clone(),
                kind: FlagKind::SensitiveKey,
                detector: None,
                note: "a field whose name says it holds a secret; it is shown as it will be sent"
                    .into(),
            });
        }
        flag_json(r, val, &here, flags);
    }
}

/// Actions waiting in the approver's workflows.
pub(crate) async fn pending_for(
    gw: &Gateway,
    who: &Approver<'_>,
) -> Result<Vec<ApproverView>, ApiError> {
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
) -> Result<ApproverView, ApiError> {
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
