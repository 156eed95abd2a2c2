//! Approvers decide: approve (optionally with edited arguments) or deny.
//! The approval that completes the quorum runs the frozen request through
//! [`pipeline::replay`] and decides what to keep of its end.
//!
//! ```text
//! approve ─▶ CAS (pending → pending | executing) ─▶ `approved` record ─▶ replay ─▶ settle
//!                                                      │ cannot write       │ failed before dispatch
//!                                                      └─▶ withdrawn        └─▶ requeued
//! ```

use serde_json::Value;

use super::shown::{ApproverView, approver_view, hidden_secret};
use super::trail::{requeued, settled};
use super::views::Approver;
use crate::actions::{self, Action, Decision, Edit, State, Step};
use crate::audit::Event;
use crate::dead_letters::record as dead_letter;
use crate::digest::DigestKey;
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::identity::Via;
use crate::pipeline::audit::Trail;
use crate::pipeline::call::Origin;
use crate::pipeline::{self, Kept, build, validate};
use crate::request::FrozenRequest;
use crate::store::now_ms;

fn not_found() -> ApiError {
    ApiError::new(Code::NotFound, "no such action")
}

fn conflict(a: &Action) -> ApiError {
    match a.state {
        State::Expired => ApiError::new(
            Code::ApprovalExpired,
            "this action expired before it was approved",
        ),
        s => ApiError::new(
            Code::Conflict,
            format!("this action is {}; it can no longer be decided", s.as_str()),
        ),
    }
}

/// An edit: the new arguments, validated, built and frozen again.
struct Edited {
    args_sha256: String,
    args: Value,
    request: FrozenRequest,
}

fn edit(gw: &Gateway, key: &DigestKey, a: &Action, args: Value) -> Result<Edited, ApiError> {
    let b = gw.binding(&a.workflow, &a.tool).ok_or_else(|| {
        ApiError::new(
            Code::Conflict,
            "this tool is no longer available in its workflow",
        )
    })?;
    validate::no_loaded_secret_in(&gw.redactor.load(), &args)?;
    validate::no_token_shape(&gw.redactor.load(), b, &args)?;
    validate::arguments(b, &args)?;
    let req = build::request(b, &args)?;
    Ok(Edited {
        args_sha256: key.json(&args),
        args,
        request: FrozenRequest::freeze(&req, key),
    })
}

/// What approving `a` with these arguments would send: validated, built
/// and frozen exactly as [`approve`] does with them; nothing is stored.
pub(crate) async fn preview(gw: &Gateway, a: &Action, args: Value) -> Result<Action, ApiError> {
    let key = gw.digest_key().await?;
    let e = edit(gw, key, a, args)?;
    let mut edited = a.clone();
    edited.arguments = e.args;
    edited.args_sha256 = e.args_sha256;
    edited.request = e.request;
    Ok(edited)
}

/// Approve (optionally with edited arguments). Runs the action when the quorum is reached.
pub(crate) async fn approve(
    gw: &Gateway,
    who: &Approver<'_>,
    id: &str,
    reason: String,
    edited: Option<Value>,
) -> Result<ApproverView, ApiError> {
    let current = actions::load(gw.store.as_ref(), id)
        .await?
        .filter(|a| who.may_see(a))
        .ok_or_else(not_found)?;
    if gw.agent_revoked(&current.agent) {
        return Err(ApiError::new(
            Code::Conflict,
            "the agent that asked for this action has been revoked; it cannot be approved",
        ));
    }
    let key = gw.digest_key().await?;
    let edit = edited
        .map(|args| edit(gw, key, &current, args))
        .transpose()?;
    // What is approved must have been shown whole.
    let request = edit.as_ref().map_or(&current.request, |e| &e.request);
    if let Some(name) = hidden_secret(&gw.redactor.load(), request) {
        return Err(validate::refused(&name));
    }
    let now = now_ms();
    let mut before = None;
    let decided = actions::transition(gw.store.as_ref(), id, |a| {
        if a.state != State::PendingApproval {
            return Step::Keep(Err(conflict(a)));
        }
        if a.expires_at_ms <= now {
            a.state = State::Expired;
            return Step::Write(Err(conflict(a)));
        }
        if a.agent == who.name {
            return Step::Keep(Err(ApiError::forbidden(
                "the identity that requested an action cannot approve it",
            )));
        }
        if edit.is_none() && a.approvals.iter().any(|d| d.by == who.name) {
            return Step::Keep(Err(ApiError::new(
                Code::Conflict,
                "you have already approved this action",
            )));
        }
        before = Some(a.clone());
        if let Some(e) = &edit {
            a.edits.push(Edit {
                by: who.name.to_owned(),
                reason: reason.clone(),
                at_ms: now,
                previous_args_sha256: a.args_sha256.clone(),
                previous_request_sha256: a.request.sha256.clone(),
                args_sha256: e.args_sha256.clone(),
                request_sha256: e.request.sha256.clone(),
            });
            a.arguments = e.args.clone();
            a.args_sha256 = e.args_sha256.clone();
            a.request = e.request.clone();
            // Earlier approvals were for another request.
            a.approvals.clear();
        }
        a.approvals.push(Decision {
            by: who.name.to_owned(),
            reason: reason.clone(),
            at_ms: now,
        });
        if a.approvals.len() >= a.approvals_required as usize {
            a.state = State::Executing;
            a.dispatched = false;
            let timeout = gw
                .binding(&a.workflow, &a.tool)
                .map(|b| b.tool.upstream.timeout)
                .unwrap_or_default();
            a.lease_until_ms = actions::lease_for(timeout);
            Step::Write(Ok(true))
        } else {
            Step::Write(Ok(false))
        }
    })
    .await?;
    let Some((action, decision)) = decided else {
        return Err(not_found());
    };
    gw.action_events.notify_waiters();
    let quorum = match decision {
        Ok(quorum) => quorum,
        Err(e) => {
            if action.state == State::Expired {
                settled(gw, &action).await;
            }
            return Err(e);
        }
    };
    let recorded = Trail::for_action(gw, &action)
        .record(Event::Approved, |e| {
            e.approver = Some(who.name.to_owned());
            (e.approver_via, e.approver_sign_in) = Via::fields(who.via);
            e.reason = Some(reason.clone());
            e.decision = Some(format!(
                "approved {}/{}",
                action.approvals.len(),
                action.approvals_required
            ));
            if let Some(ed) = action
                .edits
                .last()
                .filter(|e| e.by == who.name && e.at_ms == now)
            {
                e.previous_args_sha256 = Some(ed.previous_args_sha256.clone());
                e.previous_request_sha256 = Some(ed.previous_request_sha256.clone());
            }
        })
        .await;
    if let Err(e) = recorded {
        // An approval the trail does not hold did not happen.
        if let Some(before) = before {
            withdraw(gw, before, who.name, now).await;
        }
        return Err(e);
    }
    tracing::info!(action_id = %action.id, approver = %who.name, state = action.state.as_str(), "approval recorded");
    if !quorum {
        return Ok(approver_view(gw, &action));
    }
    let done = run(gw, &action).await?;
    Ok(approver_view(gw, &done))
}

/// Put the action back as it was before this approval, if nothing has
/// happened to it since. A failure is logged; a lease sweep puts an
/// executing action that never went out back in the queue.
async fn withdraw(gw: &Gateway, before: Action, approver: &str, at_ms: u64) {
    let r = actions::transition(gw.store.as_ref(), &before.id, |a| {
        let ours_last = a
            .approvals
            .last()
            .is_some_and(|d| d.by == approver && d.at_ms == at_ms);
        let open = matches!(a.state, State::PendingApproval | State::Executing);
        if !ours_last || !open || a.dispatched {
            return Step::Keep(());
        }
        *a = before.clone();
        Step::Write(())
    })
    .await;
    gw.action_events.notify_waiters();
    if let Err(e) = r {
        tracing::error!(action_id = %before.id, error = %e, "cannot withdraw an approval that was not recorded");
    }
}

/// Send an action this process moved to `executing`, and keep how it ended.
async fn run(gw: &Gateway, a: &Action) -> Result<Action, ApiError> {
    let kept = Kept {
        origin: Origin::Approved(a.id.clone()),
        workflow: &a.workflow,
        tool: &a.tool,
        call_id: &a.call_id,
        request: &a.request,
    };
    match pipeline::replay(gw, kept, Trail::for_action(gw, a)).await {
        Ok(outcome) => {
            pipeline::settle(gw, &a.id, Ok(&outcome)).await?;
        }
        Err(failure) if !failure.dispatched() => {
            // Nothing was sent: the action waits for approval again.
            if let Some(back) = actions::requeue(gw.store.as_ref(), &a.id).await? {
                requeued(gw, &back).await;
            }
            gw.action_events.notify_waiters();
            return Err(failure.error);
        }
        Err(failure) => {
            if let Some(frozen) = failure.frozen {
                let trail = Trail::for_action(gw, a);
                dead_letter::keep_if_recoverable(
                    gw,
                    trail.entry(),
                    a.subject.clone(),
                    &a.tool,
                    failure.error.code,
                    frozen,
                )
                .await;
            }
            pipeline::settle(gw, &a.id, Err(&failure.error)).await?;
        }
    }
    actions::load(gw.store.as_ref(), &a.id)
        .await?
        .ok_or_else(not_found)
}

pub(crate) async fn deny(
    gw: &Gateway,
    who: &Approver<'_>,
    id: &str,
    reason: String,
) -> Result<ApproverView, ApiError> {
    let now = now_ms();
    let mut before = None;
    let decided = actions::transition(gw.store.as_ref(), id, |a| {
        if !who.may_see(a) {
            return Step::Keep(Err(not_found()));
        }
        if a.state != State::PendingApproval {
            return Step::Keep(Err(conflict(a)));
        }
        if a.expires_at_ms <= now {
            a.state = State::Expired;
            return Step::Write(Err(conflict(a)));
        }
        before = Some(a.clone());
        a.state = State::Denied;
        a.denial = Some(Decision {
            by: who.name.to_owned(),
            reason: reason.clone(),
            at_ms: now,
        });
        Step::Write(Ok(()))
    })
    .await?;
    let Some((action, r)) = decided else {
        return Err(not_found());
    };
    gw.action_events.notify_waiters();
    if let Err(e) = r {
        if action.state == State::Expired {
            settled(gw, &action).await;
        }
        return Err(e);
    }
    let recorded = Trail::for_action(gw, &action)
        .record(Event::Denied, |e| {
            e.approver = Some(who.name.to_owned());
            (e.approver_via, e.approver_sign_in) = Via::fields(who.via);
            e.reason = Some(reason.clone());
            e.decision = Some("denied".into());
        })
        .await;
    if let Err(e) = recorded {
        // A denial the trail does not hold did not happen.
        if let Some(before) = before {
            undeny(gw, before, who.name, now).await;
        }
        return Err(e);
    }
    tracing::info!(action_id = %action.id, approver = %who.name, "action denied");
    Ok(approver_view(gw, &action))
}

async fn undeny(gw: &Gateway, before: Action, approver: &str, at_ms: u64) {
    let r = actions::transition(gw.store.as_ref(), &before.id, |a| {
        let ours = a.state == State::Denied
            && a.denial
                .as_ref()
                .is_some_and(|d| d.by == approver && d.at_ms == at_ms);
        if !ours {
            return Step::Keep(());
        }
        *a = before.clone();
        Step::Write(())
    })
    .await;
    if let Ok(Some(_)) = &r {
        // Denied was final: the action left the open index; it is open again.
        if let Err(e) = gw
            .store
            .insert_new(crate::store::Ns::OpenActions, &before.id, b"", None)
            .await
        {
            tracing::error!(action_id = %before.id, error = %e, "cannot reopen an action whose denial was not recorded");
        }
    }
    gw.action_events.notify_waiters();
    if let Err(e) = r {
        tracing::error!(action_id = %before.id, error = %e, "cannot withdraw a denial that was not recorded");
    }
}
