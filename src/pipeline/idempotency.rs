//! Stage 4 — idempotency: a call with an `idempotency_key` claims the key
//! for this agent; a repeat of the key is answered from the first call's
//! action and runs nothing.
//!
//! It sits after validation (a malformed call claims nothing) and before the
//! rate limit (a replay costs no budget). A claim is kept only once an
//! action exists for it — a held call's pending action, or the action kept
//! for a call that runs now; a call refused or failed before anything was
//! sent lets its claim go (see `pipeline::finish`), so a client retrying
//! after `429 Retry-After` with the same key is served, not refused. A
//! claim that could not be let go (the store failed, the process died) and
//! has no action after `limits.request_timeout_ms` is taken over by the
//! next call with the key.

use super::approve;
use super::call::{Call, CallReply, Claim};
use crate::actions::{self, IdempotencyRecord, State};
use crate::approvals::views::call_answer;
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::request::UpstreamRequest;
use crate::store::{StoreError, now_ms};

/// Claim the call's key; the first call's answer when the key was used before.
pub(crate) async fn claim(
    call: &mut Call<'_>,
    args_sha256: &str,
) -> Result<Option<CallReply>, ApiError> {
    let (Some(key), Some(agent)) = (&call.request.idempotency_key, &call.caller) else {
        return Ok(None);
    };
    let gw = call.gateway;
    let record = IdempotencyRecord {
        tool: call.request.tool.clone(),
        args_sha256: args_sha256.to_owned(),
        action_id: actions::new_id(),
        claimed_at_ms: now_ms(),
    };
    let store = gw.store.as_ref();
    if let Some(first) = actions::claim_idempotency(store, &agent.name, key, &record).await? {
        let abandoned = match replay(gw, &first, &record).await {
            Err(e) if e.code == Code::Conflict && is_abandoned(gw, &first, &record) => e,
            answered => return answered.map(Some),
        };
        // Its call ended long ago without an action: this call takes the key.
        if !actions::take_over_idempotency(store, &agent.name, key, &first, &record).await? {
            return Err(abandoned);
        }
    }
    call.trail.action(&record.action_id);
    call.claim = Some(Claim {
        agent: agent.name.clone(),
        key: key.clone(),
        action_id: record.action_id,
        kept: false,
    });
    Ok(None)
}

/// A claim with no action behind it, older than any call may take: the call
/// that made it ended (its process died, or the store failed before the
/// action was created, and the claim could not be let go either).
/// Only the same call (tool and arguments) takes it over.
fn is_abandoned(gw: &Gateway, first: &IdempotencyRecord, this: &IdempotencyRecord) -> bool {
    let bound = u64::try_from(gw.config.limits.request_timeout.as_millis()).unwrap_or(u64::MAX);
    first.tool == this.tool
        && first.args_sha256 == this.args_sha256
        && now_ms().saturating_sub(first.claimed_at_ms) > bound
}

/// A repeated key: the first call's action, or 409 if this call differs.
async fn replay(
    gw: &Gateway,
    first: &IdempotencyRecord,
    this: &IdempotencyRecord,
) -> Result<CallReply, ApiError> {
    if first.tool != this.tool || first.args_sha256 != this.args_sha256 {
        return Err(ApiError::new(
            Code::Conflict,
            "this idempotency key was used for a different call; use a new key for new arguments",
        ));
    }
    match actions::load(gw.store.as_ref(), &first.action_id).await? {
        Some(a) => {
            let (status, body) = call_answer(&a);
            Ok(CallReply::Action { status, body })
        }
        None => Err(ApiError::new(
            Code::Conflict,
            "an earlier call with this idempotency key is still being made; retry shortly",
        )
        .with_retry_after(1)),
    }
}

/// The call runs now: keep an action for its key, so a retry finds the result.
pub(crate) async fn keep(call: &mut Call<'_>, request: &UpstreamRequest) -> Result<(), ApiError> {
    let Some(claim) = &call.claim else {
        return Ok(());
    };
    let (Some(agent), Some(binding)) = (&call.caller, &call.binding) else {
        return Err(ApiError::internal("an idempotency claim without a caller"));
    };
    let mut action = approve::action(
        claim.action_id.clone(),
        &call.trail,
        agent,
        binding,
        &call.request,
        request,
        call.gateway.digest_key().await?,
    );
    action.state = State::Executing;
    action.approvals_required = 0;
    action.lease_until_ms = actions::lease_for(binding.tool.upstream.timeout);
    // Sent as soon as it is kept: a crash from here on leaves it `unknown`.
    action.dispatched = true;
    actions::create(call.gateway.store.as_ref(), &action).await?;
    if let Some(claim) = &mut call.claim {
        claim.kept = true;
    }
    Ok(())
}

/// Let go of a key whose call created no action.
pub(crate) async fn release(gw: &Gateway, claim: &Claim) -> Result<(), StoreError> {
    actions::release_idempotency(
        gw.store.as_ref(),
        &claim.agent,
        &claim.key,
        &claim.action_id,
    )
    .await
}

/// Let go of a key whose action was never sent, and of the action.
pub(crate) async fn forget(gw: &Gateway, claim: &Claim) -> Result<(), StoreError> {
    actions::discard_undispatched(
        gw.store.as_ref(),
        &claim.action_id,
        &claim.agent,
        &claim.key,
    )
    .await?;
    gw.action_events.notify_waiters();
    Ok(())
}
