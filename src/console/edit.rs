//! Edit the arguments, then approve: the new arguments are checked, built
//! and frozen exactly as an approval with `arguments` over the API does
//! ([`decide::preview`]) and shown — the request as it would be sent, its
//! new hash, a line diff of the arguments — before anything is stored. The
//! approval then carries both hashes: if the action, or what the edit
//! builds, changed since the page was shown, it is refused.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use serde_json::{Value, json};

use super::csrf;
use super::pages::{approver, page, pretty, reason, request_ctx, visible};
use super::session::Person;
use super::templates::Page;
use crate::actions::{Action, State as ActionState};
use crate::approvals::decide;
use crate::approvals::shown::approver_view;
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::store::now_ms;

/// One line of a diff: `" "` kept, `"-"` removed, `"+"` added.
#[derive(Debug, Serialize, PartialEq, Eq)]
struct Line {
    op: &'static str,
    text: String,
}

/// A line diff (longest common subsequence; arguments are small).
fn diff(old: &str, new: &str) -> Vec<Line> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    let line = |op, text: &str| Line {
        op,
        text: text.to_owned(),
    };
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push(line(" ", a[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(line("-", a[i]));
            i += 1;
        } else {
            out.push(line("+", b[j]));
            j += 1;
        }
    }
    out
}

/// The action, if this person may edit and approve it now.
async fn editable(gw: &Gateway, p: &Person, id: &str) -> Result<Action, Page> {
    let a = visible(gw, p, id).await?;
    if a.state != ActionState::PendingApproval || a.expires_at_ms <= now_ms() {
        let e = ApiError::new(
            Code::Conflict,
            "this action is no longer pending; it can no longer be edited",
        );
        return Err(Page::from_error(&e, Some(p.name())));
    }
    if a.agent == p.name() {
        let e = ApiError::forbidden("the identity that requested an action cannot approve it");
        return Err(Page::from_error(&e, Some(p.name())));
    }
    Ok(a)
}

/// The edit page: the arguments as typed, and either what is wrong with
/// them or what they would send.
fn edit_page(p: &Person, a: &Action, text: &str, outcome: Result<Value, ApiError>) -> Page {
    let mut ctx = json!({
        "a": {"id": a.id, "tool": a.tool, "agent": a.agent, "workflow": a.workflow},
        "text": text,
        "original_sha256": a.request.shown_sha256(),
    });
    let status = match outcome {
        Ok(preview) => {
            ctx["preview"] = preview;
            StatusCode::OK
        }
        Err(e) => {
            ctx["error"] = json!(format!("{} ({})", e.message, e.code.as_str()));
            ctx["details"] = json!(e.details);
            e.code.status()
        }
    };
    page(status, "edit.html", p, ctx)
}

/// What the typed arguments would send, or why they cannot be used.
async fn previewed(gw: &Gateway, a: &Action, text: &str) -> Result<(Value, Action), ApiError> {
    let args: Value = serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("the arguments are not valid JSON ({e})")))?;
    let edited = decide::preview(gw, a, args.clone()).await?;
    Ok((args, edited))
}

pub(super) async fn preview(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let (p, form) = match csrf::posted(&gw, &parts, &body).await {
        Ok(posted) => posted,
        Err(r) => return r,
    };
    let a = match editable(&gw, &p, &id).await {
        Ok(a) => a,
        Err(page) => return page.into_response(),
    };
    // Shown first with the arguments as they are.
    let text = form
        .get("arguments")
        .map_or_else(|| pretty(&a.arguments), str::to_owned);
    if form.get("arguments").is_none() {
        return edit_page(
            &p,
            &a,
            &text,
            Err(ApiError::bad_request(
                "change the arguments, then check them",
            )),
        )
        .into_response();
    }
    let outcome = previewed(&gw, &a, &text).await.map(|(args, edited)| {
        let view = approver_view(&gw, &edited);
        json!({
            "request": request_ctx(&view),
            "flags": view.flags,
            "diff": diff(&pretty(&a.arguments), &pretty(&args)),
            "arguments": serde_json::to_string(&args).unwrap_or_default(),
        })
    });
    edit_page(&p, &a, &text, outcome).into_response()
}

pub(super) async fn approve(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let (p, form) = match csrf::posted(&gw, &parts, &body).await {
        Ok(posted) => posted,
        Err(r) => return r,
    };
    let a = match editable(&gw, &p, &id).await {
        Ok(a) => a,
        Err(page) => return page.into_response(),
    };
    let Some(who) = approver(&p) else {
        return Page::not_found(Some(p.name())).into_response();
    };
    let fail = |e: ApiError| Page::from_error(&e, Some(p.name())).into_response();
    let reason = match reason(&form) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let changed = || {
        ApiError::new(
            Code::Conflict,
            "the action changed since this page was shown; check the edit again",
        )
    };
    if form.get("original_sha256") != Some(a.request.shown_sha256().as_str()) {
        return fail(changed());
    }
    let text = form.get("arguments").unwrap_or_default();
    let args = match previewed(&gw, &a, text).await {
        Ok((args, edited))
            if form.get("request_sha256") == Some(edited.request.shown_sha256().as_str()) =>
        {
            args
        }
        Ok(_) => return fail(changed()),
        Err(e) => return fail(e),
    };
    match decide::approve(&gw, &who, &id, reason, Some(args)).await {
        Ok(_) => Redirect::to(&format!("/ui/actions/{id}")).into_response(),
        Err(e) => fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::diff;

    #[test]
    fn the_diff_keeps_common_lines_and_marks_the_changed_ones() {
        let d = diff(
            "{\n  \"a\": 1,\n  \"b\": 2\n}",
            "{\n  \"a\": 1,\n  \"b\": 3\n}",
        );
        let ops: Vec<(&str, &str)> = d.iter().map(|l| (l.op, l.text.as_str())).collect();
        assert_eq!(
            ops,
            [
                (" ", "{"),
                (" ", "  \"a\": 1,"),
                ("-", "  \"b\": 2"),
                ("+", "  \"b\": 3"),
                (" ", "}"),
            ]
        );
        assert!(diff("x", "x").iter().all(|l| l.op == " "));
    }
}
