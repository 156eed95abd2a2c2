//! An admin's steps on a dead letter: retry it once with the credential
//! current now (through [`pipeline::replay`], exactly the kept bytes), or
//! discard it. Each step is audited before it takes effect; a step whose
//! record cannot be written, or a retry that fails before anything is
//! sent, leaves the letter `pending`.

use http::StatusCode;

use super::record::{self, DeadLetterView, LetterState};
use crate::actions::Outcome;
use crate::audit::Event;
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::identity::Acting;
use crate::pipeline::audit::Trail;
use crate::pipeline::call::Origin;
use crate::pipeline::{self, Kept};
use crate::store::Ns;

fn already(what: &str) -> ApiError {
    ApiError::new(
        Code::Conflict,
        format!("this dead letter was already retried or is being {what}"),
    )
}

/// Send the kept request again, once, with the credential current now.
pub(crate) async fn retry(
    gw: &Gateway,
    admin: &Acting<'_>,
    id: &str,
) -> Result<DeadLetterView, ApiError> {
    let store = gw.store.as_ref();
    let Some(d) = record::claim(store, id, LetterState::Retrying, admin.name).await? else {
        return Err(already("retried"));
    };
    if d.agent.as_deref().is_some_and(|a| gw.agent_revoked(a)) {
        record::release(store, id).await?;
        return Err(ApiError::new(
            Code::Conflict,
            "the agent of this dead letter has been revoked; it can be retried once the agent has a new key",
        ));
    }
    if let Err(e) = record::record(gw, Event::DeadLetterRetry, admin, &d).await {
        record::release(store, id).await?;
        return Err(e);
    }
    let call_id = d.call_id.as_deref().unwrap_or(&d.id);
    let mut trail = Trail::new(gw);
    trail.call(call_id, None, None);
    if let Some(a) = &d.agent {
        trail.agent(a, &d.workflow);
    }
    trail.tool(&d.tool);
    trail.request(&d.request.sha256);
    trail.subject = d.subject.clone();
    let kept = Kept {
        origin: Origin::DeadLetter(d.id.clone()),
        workflow: &d.workflow,
        tool: &d.tool,
        call_id,
        request: &d.request,
    };
    let (state, outcome) = match pipeline::replay(gw, kept, trail).await {
        Ok(o) => (
            LetterState::Retried,
            Outcome {
                http_status: StatusCode::OK.as_u16(),
                body: o.body()?,
            },
        ),
        Err(failure) if !failure.dispatched() => {
            // Nothing was sent: the letter can be retried again.
            record::release(store, id).await?;
            return Err(failure.error);
        }
        Err(failure) => (
            LetterState::Failed,
            Outcome {
                http_status: failure.error.code.status().as_u16(),
                body: failure.error.body(),
            },
        ),
    };
    let done = record::finish(store, id, state, outcome)
        .await?
        .ok_or_else(|| ApiError::new(Code::NotFound, "no such dead letter"))?;
    Ok(record::view(gw, &done))
}

pub(crate) async fn discard(
    gw: &Gateway,
    admin: &Acting<'_>,
    id: &str,
) -> Result<Discarded, ApiError> {
    let store = gw.store.as_ref();
    let Some(d) = record::claim(store, id, LetterState::Discarding, admin.name).await? else {
        return Err(already("discarded"));
    };
    if let Err(e) = record::record(gw, Event::DeadLetterDiscard, admin, &d).await {
        record::release(store, id).await?;
        return Err(e);
    }
    store.delete(Ns::DeadLetters, id, None).await?;
    Ok(Discarded {
        id: id.to_owned(),
        state: Gone::Discarded,
    })
}

/// `DELETE /v1/admin/dead-letters/{id}`: the letter is gone.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Discarded {
    pub id: String,
    pub state: Gone,
}

/// The state of a discarded letter.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Gone {
    Discarded,
}
