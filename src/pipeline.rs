//! The call pipeline of SPEC §4 — the file to read first.
//!
//! Every tool call runs these stages, in this order, each called once. The
//! order is the security argument: nothing is built before the caller is
//! known and the arguments are valid; the credential is fetched only for a
//! request that is fully built and allowed; nothing reaches the caller
//! unredacted; every call ends in [`finish`], which writes its outcome.
//!
//! ```text
//!  1. authenticate  ─┐
//!  2. resolve        │ refused: call_denied record, error answer
//!  3. validate       │ (an idempotency claim made in 4 is released)
//!  4. idempotency ───┼─▶ a repeated key: the first call's answer, nothing run
//!  5. rate_limit     │
//!  6. build         ─┘
//!  7. approve  ──────────▶ policy matches: request frozen, pending record, 202
//!  8. run:  credential ─▶ executing record ─▶ dispatch ─▶ egress + forward ─▶ shape
//!             │                 │                 │                 │
//!             └─ refused        └─ failed, nothing sent             └─ failed, sent
//!  9. finish   the outcome record (executed | failed | call_denied), the
//!              detail logged once, then what to keep: the idempotency
//!              action's result, a dead letter for a credential failure
//! ```
//!
//! A request that waited — an approved action, a retried dead letter — enters
//! at 8 through [`replay`] with the exact frozen bytes, and ends in the same
//! [`finish`]; its caller (`approvals`, `dead_letters`) decides what to keep
//! from the [`Failure`] it gets back.
//!
//! The stages live in `pipeline/`, one module each; they know nothing of
//! this file. Approvals, dead letters and the HTTP API sit above it.
//!
//! A call runs inside its `execute_tool` span (`telemetry::spans`), which
//! the front door makes; each stage here runs in a child span of its name.

pub(crate) mod approve;
pub(crate) mod audit;
pub(crate) mod authenticate;
pub(crate) mod build;
pub(crate) mod call;
pub(crate) mod credential;
pub mod egress;
pub(crate) mod forward;
pub(crate) mod idempotency;
pub(crate) mod rate_limit;
pub(crate) mod resolve;
pub(crate) mod shape;
pub(crate) mod validate;

use std::time::Instant;

use tracing::Instrument;

use crate::actions::{self, Action, Outcome, State};
use crate::audit::Event;
use crate::catalog::ToolBinding;
use crate::dead_letters::record as dead_letter;
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::quarantine::{self, Seen};
use crate::request::{FrozenRequest, UpstreamRequest};
use crate::telemetry::spans::{CallSpan, stage};
use audit::Trail;
use authenticate::Presented;
pub(crate) use call::Kept;
use call::{Call, CallOutcome, CallReply, CallRequest, Door, Failure, Origin, Reached, Timing};

/// A direct tool call, `POST /v1/calls` or MCP's `tools/call` (`door`):
/// every stage, then [`finish`], in the call's span.
pub(crate) async fn call(
    gw: &Gateway,
    presented: &Presented,
    request: CallRequest,
    span: CallSpan,
    door: Door,
) -> (Result<CallReply, ApiError>, Timing) {
    let started = Instant::now();
    span.call_id(&request.call_id);
    let mut call = Call::new(gw, request, Origin::Direct, span.clone());
    if let Door::Mcp { session_sha256 } = &door {
        call.trail.via(door.as_str(), session_sha256.as_deref());
    }
    let reply = async {
        let ended = stages(&mut call, presented).await;
        let reply = match ended {
            Ok(Stop::Answered(reply)) => Ok(reply),
            Ok(Stop::Ran(ran)) => finish(&mut call, Ok(ran)).await.map(CallReply::Done),
            Err(failure) => finish(&mut call, Err(failure)).await.map(CallReply::Done),
        };
        let reply = match reply {
            Ok(r) => Ok(r),
            Err(failure) => Err(keep_after_failure(&mut call, failure).await),
        };
        if let Ok(CallReply::Done(outcome)) = &reply {
            keep_after_success(&call, outcome).await;
        }
        reply
    }
    .instrument(span.span().clone())
    .await;
    span.ended(reply.as_ref().err().map(|e| e.code.as_str()));
    count(&call, &door, &reply, started.elapsed());
    (reply, call.timing)
}

/// The call in `/metrics`: by configured names only (a tool not resolved
/// is `unknown`), its outcome, and the time in the gateway and upstream.
fn count(
    call: &Call<'_>,
    door: &Door,
    reply: &Result<CallReply, ApiError>,
    total: std::time::Duration,
) {
    use crate::metrics::CallOutcome;
    let workflow = call
        .caller
        .as_ref()
        .map_or("unknown", |a| a.workflow.name.as_str());
    let tool = call
        .binding
        .as_ref()
        .map_or("unknown", |b| b.tool.name.as_str());
    let outcome = match reply {
        Ok(CallReply::Action { status, .. }) if *status == http::StatusCode::ACCEPTED => {
            CallOutcome::Pending
        }
        Ok(_) => CallOutcome::Succeeded,
        Err(e) => match e.code {
            Code::CredentialUnavailable
            | Code::CredentialRejected
            | Code::UpstreamError
            | Code::UpstreamTimeout => CallOutcome::Failed(e.code),
            code => CallOutcome::Refused(code),
        },
    };
    let upstream = call.timing.upstream;
    let gateway = total.saturating_sub(upstream.unwrap_or_default());
    call.gateway
        .metrics
        .call(workflow, tool, door.as_str(), outcome, gateway, upstream);
}

/// Where the stages stopped, short of a failure.
enum Stop {
    /// Answered without running: a replayed idempotency key, or held for approval.
    Answered(CallReply),
    /// The upstream answered; [`finish`] records it.
    Ran(Ran),
}

async fn stages(call: &mut Call<'_>, presented: &Presented) -> Result<Stop, Failure> {
    let gw = call.gateway;
    // 1. Who is asking, before anything else is looked at.
    let agent = stage("authenticate").in_scope(|| authenticate::agent(gw, presented))?;
    call.span.caller(&agent.name, &agent.workflow.name);
    call.trail.agent(&agent.name, &agent.workflow.name);
    call.trail.subject = agent.subject.clone();
    call.trail.tool(&call.request.tool);
    //    A canary's value in anything it sent: the agent is quarantined, and
    //    refused as for any loaded secret (stage 3), whatever tool it named.
    if let Some(canary) = validate::canary_in(&gw.redactor.load(), &call.request)? {
        quarantine::canary_seen(gw, &agent.name, canary, Seen::Call).await;
        return Err(validate::refused(canary).into());
    }
    // 2. Only a tool of the caller's workflow, with the same answer for
    //    unknown and not granted.
    let binding = stage("resolve").in_scope(|| resolve::tool(&agent, &call.request.tool))?;
    call.span.tool(&binding.tool.name);
    let args_sha256 = gw.digest_key().await?.json(&call.request.arguments);
    call.trail
        .arguments(&binding, &call.request.arguments, &args_sha256);
    // Every part of the binding is applied by a stage below, or says why not:
    // a new field must be placed here before this compiles.
    let ToolBinding {
        tool: _,             // 6. build and 8. run read the manifest
        validator: _,        // 3. validate
        effective_schema: _, // what GET /v1/tools shows; never a call's check
        credential: _,       // 8. run, credential
        rate_limit,          // 5.
        approval,            // 7.
    } = binding.as_ref();
    let agent_name = agent.name.clone();
    call.caller = Some(agent);
    call.binding = Some(binding.clone());
    // 3. No secret toolgate holds (nor, where the tool asks, a token shape),
    //    then both schemas, before any state is touched.
    stage("validate").in_scope(|| {
        let redactor = gw.redactor.load();
        validate::no_loaded_secret(&redactor, &call.request)?;
        validate::no_token_shape(&redactor, &binding, &call.request.arguments)?;
        validate::arguments(&binding, &call.request.arguments)
    })?;
    call.span.arguments(
        gw.config.telemetry.record_payloads,
        &gw.redactor.load(),
        &binding.tool,
        &call.request.arguments,
    );
    // 4. Before the rate limit, so a replay costs no budget; the claim is
    //    released by `finish` unless an action is created for it.
    if let Some(answer) = idempotency::claim(call, &args_sha256)
        .instrument(stage("idempotency"))
        .await?
    {
        return Ok(Stop::Answered(answer));
    }
    // 5. Per agent and tool, shared by every replica.
    rate_limit::check(
        gw.store.as_ref(),
        &agent_name,
        &binding.tool.name,
        *rate_limit,
    )
    .instrument(stage("rate_limit"))
    .await?;
    // 6. The exact request, before any decision that freezes it.
    let request = stage("build").in_scope(|| build::request(&binding, &call.request.arguments))?;
    // 7. A person decides, or the call runs now.
    if approval.applies(&call.request.arguments) {
        let held = approve::hold(call, request)
            .instrument(stage("approve"))
            .await?;
        return Ok(Stop::Answered(held));
    }
    idempotency::keep(call, &request)
        .instrument(stage("idempotency"))
        .await?;
    // 8.
    run(call, &binding, request)
        .instrument(stage("run"))
        .await
        .map(Stop::Ran)
}

/// Run a request that was frozen earlier — an approved action or a retried
/// dead letter — exactly as frozen: stage 8, then [`finish`]. What to keep
/// of a failure is the caller's to decide.
pub(crate) async fn replay(
    gw: &Gateway,
    kept: Kept<'_>,
    trail: Trail<'_>,
) -> Result<CallOutcome, Failure> {
    let span = CallSpan::replay(match kept.origin {
        Origin::Direct => "direct",
        Origin::Approved(_) => "approved",
        Origin::DeadLetter(_) => "dead_letter",
    });
    span.call_id(kept.call_id);
    let mut call = Call::replaying(gw, &kept, trail, span.clone());
    let done = replay_run(&mut call, &kept)
        .instrument(span.span().clone())
        .await;
    span.ended(done.as_ref().err().map(|f| f.error.code.as_str()));
    done
}

async fn replay_run(call: &mut Call<'_>, kept: &Kept<'_>) -> Result<CallOutcome, Failure> {
    let gw = call.gateway;
    let key = match gw.digest_key().await {
        Ok(key) => key,
        Err(e) => return finish(call, Err(Failure::from(e))).await,
    };
    let ran = match (gw.binding(kept.workflow, kept.tool), kept.request.thaw(key)) {
        (Some(binding), Some(request)) => {
            call.binding = Some(binding.clone());
            call.span.tool(&binding.tool.name);
            run(call, binding, request).instrument(stage("run")).await
        }
        (None, _) => Err(Failure::from(ApiError::new(
            Code::Conflict,
            "this tool is no longer available in its workflow; nothing was sent",
        ))),
        (_, None) => Err(Failure::from(ApiError::internal(
            "the frozen request does not match its hash; nothing was sent",
        ))),
    };
    finish(call, ran).await
}

/// A canary's name, if the upstream's answer (body or any header) holds
/// its value. The answer is redacted as always; the agent is quarantined.
fn canary_in_answer(gw: &Gateway, response: &forward::UpstreamResponse) -> Option<String> {
    let redactor = gw.redactor.load();
    if !redactor.has_canaries() {
        return None;
    }
    let found = redactor.canary_in(&response.body).or_else(|| {
        response
            .headers
            .values()
            .find_map(|v| redactor.canary_in(v.as_bytes()))
    });
    found.map(str::to_owned)
}

/// What the upstream answered, shaped for the caller, not yet recorded.
struct Ran {
    status: u16,
    shaped: shape::Shaped,
    latency_ms: f64,
}

/// Stage 8, run: attach the credential, record `executing` durably, mark a
/// queued item dispatched, forward (egress checked at connect), shape the
/// answer.
async fn run(
    call: &mut Call<'_>,
    binding: &ToolBinding,
    mut request: UpstreamRequest,
) -> Result<Ran, Failure> {
    let gw = call.gateway;
    // Kept, without its credential, in case the credential fails it; frozen
    // (hashed) only if it does fail, never on the way to a success.
    let unsent = request.clone();
    let key = gw.digest_key().await?;
    let failed = |error: ApiError, reached: Reached| Failure {
        error,
        frozen: Some(FrozenRequest::freeze(&unsent, key)),
        reached,
    };
    if let Err(e) = credential::attach(gw, binding, &mut request, &mut call.trail)
        .instrument(stage("credential"))
        .await
    {
        if let Some(c) = &binding.credential {
            gw.metrics.credential_error(&c.name, e.code);
        }
        return Err(failed(e, Reached::Nothing));
    }
    if let Err(e) = call.trail.record(Event::Executing, |_| {}).await {
        return Err(failed(e, Reached::Nothing));
    }
    if let Err(e) = dispatch(gw, &call.origin).await {
        return Err(failed(e, Reached::Executing));
    }
    let started = Instant::now();
    let record = gw.config.telemetry.record_payloads;
    let sent = match forward::send(&gw.egress, &binding.tool, request, record).await {
        Ok(response) => {
            gw.metrics
                .upstream(&binding.tool.name, Some(response.status.as_u16()));
            if let (Some(canary), Some(agent)) =
                (canary_in_answer(gw, &response), call.trail.agent_name())
            {
                quarantine::canary_seen(gw, agent, &canary, Seen::Answer).await;
            }
            call.timing.upstream = Some(response.elapsed);
            let redactor = gw.redactor.load();
            stage("shape").in_scope(|| {
                let shaped = shape::response(&redactor, &binding.tool, &response);
                match &shaped {
                    Ok(shaped) => gw.metrics.redactions(&shaped.redactions),
                    Err(e) if e.code == Code::CredentialRejected => {
                        if let Some(c) = &binding.credential {
                            gw.metrics.credential_error(&c.name, e.code);
                        }
                    }
                    Err(_) => {}
                }
                let shaped = shaped?;
                call.span.result(record, &redactor, &shaped.result);
                Ok((response.status.as_u16(), shaped))
            })
        }
        Err(e) => {
            // Refused at connect, nothing was sent; else no answer came.
            if e.code != Code::EgressDenied {
                gw.metrics.upstream(&binding.tool.name, None);
            }
            Err(e)
        }
    };
    let latency_ms = (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;

    call.trail.latency(latency_ms);
    match sent {
        Ok((status, shaped)) => Ok(Ran {
            status,
            shaped,
            latency_ms,
        }),
        Err(error) => {
            // Refused at connect by the egress check: nothing left toolgate.
            let reached = if error.code == Code::EgressDenied {
                Reached::Executing
            } else {
                Reached::Upstream
            };
            Err(failed(error, reached))
        }
    }
}

/// Before a queued request leaves: mark it dispatched, so that a failure or
/// a crash from here on is never taken for "not sent".
async fn dispatch(gw: &Gateway, origin: &Origin) -> Result<(), ApiError> {
    let held = match origin {
        Origin::Direct => return Ok(()),
        Origin::Approved(id) => actions::mark_dispatched(gw.store.as_ref(), id).await?,
        Origin::DeadLetter(id) => dead_letter::mark_dispatched(gw.store.as_ref(), id).await?,
    };
    if held {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::Conflict,
            "this request is no longer held by this run; nothing was sent",
        ))
    }
}

/// Stage 9, finish: every call ends here. The outcome record (`executed`,
/// `failed` or `call_denied`), and the internal detail of a failure logged once.
async fn finish(call: &mut Call<'_>, ran: Result<Ran, Failure>) -> Result<CallOutcome, Failure> {
    record_outcome(call, ran).instrument(stage("finish")).await
}

async fn record_outcome(
    call: &mut Call<'_>,
    ran: Result<Ran, Failure>,
) -> Result<CallOutcome, Failure> {
    match ran {
        Ok(Ran {
            status,
            shaped,
            latency_ms,
        }) => {
            let receipt = call
                .trail
                .record(Event::Executed, |e| {
                    e.decision = Some("executed".into());
                    e.upstream_status = Some(status);
                    e.latency_ms = Some(latency_ms);
                    e.redactions = Some(shaped.redactions.total());
                })
                .await
                .map_err(|error| Failure {
                    error,
                    frozen: None,
                    reached: Reached::Upstream,
                })?;
            tracing::info!(
                tool = %call.request.tool,
                call_id = %call.request.call_id,
                upstream_status = status,
                redactions = shaped.redactions.total(),
                "call executed"
            );
            Ok(CallOutcome {
                call_id: call.request.call_id.clone(),
                result: shaped.result,
                upstream_status: status,
                headers: shaped.headers,
                audit_id: receipt.id(),
            })
        }
        Err(mut failure) => {
            failure.error.log_detail(&call.request.call_id);
            // Nothing more can be recorded when the trail itself refused.
            if failure.error.code != Code::AuditUnavailable
                && let Err(unrecorded) = call.trail.outcome(&failure.error, failure.reached).await
                && failure.error.code != Code::StoreUnavailable
            {
                // The refusal itself could not be recorded. (When the shared
                // store is down the trail usually is too; the cause is kept.)
                failure.error = unrecorded;
            }
            Err(failure)
        }
    }
}

/// After a direct call failed: a claim or an action that nothing happened
/// to is let go, a sent one keeps its result; a credential failure is kept
/// as a dead letter.
async fn keep_after_failure(call: &mut Call<'_>, failure: Failure) -> ApiError {
    let gw = call.gateway;
    if let Some(claim) = call.claim.take() {
        let kept = if !claim.kept {
            idempotency::release(gw, &claim)
                .await
                .map_err(ApiError::from)
        } else if failure.dispatched() {
            settle(gw, &claim.action_id, Err(&failure.error))
                .await
                .map(|_| ())
        } else {
            idempotency::forget(gw, &claim)
                .await
                .map_err(ApiError::from)
        };
        if let Err(e) = kept {
            tracing::error!(error = %e, call_id = %call.request.call_id, "cannot settle the idempotency key of a failed call");
        }
    }
    if let (Some(frozen), Some(binding)) = (failure.frozen, &call.binding) {
        dead_letter::keep_if_recoverable(
            gw,
            call.trail.entry(),
            call.trail.subject.clone(),
            &binding.tool.name,
            failure.error.code,
            frozen,
        )
        .await;
    }
    failure.error
}

/// After a direct call succeeded: its action, if it has one, keeps the answer.
async fn keep_after_success(call: &Call<'_>, outcome: &CallOutcome) {
    if let Some(claim) = &call.claim
        && claim.kept
        && let Err(e) = settle(call.gateway, &claim.action_id, Ok(outcome)).await
    {
        tracing::error!(error = %e, action_id = %claim.action_id, "cannot keep the result of a call with an idempotency key");
    }
}

/// Record how an executing action ended, for whoever asks for it later.
pub(crate) async fn settle(
    gw: &Gateway,
    id: &str,
    result: Result<&CallOutcome, &ApiError>,
) -> Result<Option<Action>, ApiError> {
    let (state, outcome) = match result {
        Ok(o) => (
            State::Succeeded,
            Outcome {
                http_status: http::StatusCode::OK.as_u16(),
                body: o.body()?,
            },
        ),
        Err(e) => (
            State::Failed,
            Outcome {
                http_status: e.code.status().as_u16(),
                body: e.body(),
            },
        ),
    };
    let settled = actions::transition(gw.store.as_ref(), id, |a| {
        if a.state != State::Executing {
            return actions::Step::Keep(());
        }
        a.state = state;
        a.lease_until_ms = 0;
        a.outcome = Some(outcome.clone());
        actions::Step::Write(())
    })
    .await?;
    gw.action_events.notify_waiters();
    Ok(settled.map(|(a, ())| a))
}
