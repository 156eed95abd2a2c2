//! Canary credentials: decoy values toolgate loads and watches for but
//! never sends. One seen in a call's arguments (or the caller's other
//! fields) or in an upstream's answer means someone holds a secret they
//! should not: the agent involved is quarantined at once.
//!
//! A quarantine is a kill switch on the agent's name (`quarantine/NAME`,
//! whatever its key), set in the store so every replica refuses the agent
//! within a second; its sessions are ended, its pending actions denied and
//! its idempotency keys forgotten (as a revocation does), the sighting is
//! recorded (`canary_seen`), counted in `/metrics` and posted to the
//! workflow's notify webhook. Only an admin lets the agent back
//! (`POST /v1/admin/agents/NAME/release`). Nothing here names where the
//! canary lives or holds its value.

use serde_json::json;

use crate::approvals::revoked::{self, By};
use crate::audit::{Entry, Event};
use crate::gateway::Gateway;
use crate::revocations;

/// Where a canary was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// In what the caller sent: arguments, call id, model, reason, key.
    Call,
    /// In what the upstream answered: body or headers.
    Answer,
}

impl Seen {
    fn as_str(self) -> &'static str {
        match self {
            Seen::Call => "call",
            Seen::Answer => "answer",
        }
    }
}

/// Quarantine `agent` because canary `canary` was seen. Every step is
/// tried even when one fails; failures are logged (the call that showed
/// the canary is refused or already answered either way).
pub(crate) async fn canary_seen(gw: &Gateway, agent: &str, canary: &str, seen: Seen) {
    let reason = format!("canary credential {canary} seen in a {}", seen.as_str());
    tracing::error!(agent = %agent, canary = %canary, seen = seen.as_str(), "canary seen: agent quarantined");
    gw.metrics.canary_seen(canary);
    let switched = gw
        .revocations
        .set(
            gw.store.as_ref(),
            &revocations::quarantine_key(agent),
            &revocations::switch("toolgate", &reason),
        )
        .await;
    if let Err(e) = &switched {
        tracing::error!(agent = %agent, error = %e, "cannot keep the quarantine in the store");
    }
    crate::events::publish(gw, &crate::bus::Signal::Switches).await;
    let workflow = gw.config.agents.get(agent).map(|a| a.workflow.clone());
    let mut entry = Entry::new(Event::CanarySeen);
    entry.environment = Some(gw.config.environment.clone());
    entry.agent = Some(agent.to_owned());
    entry.workflow = workflow.clone();
    entry.credential = Some(canary.to_owned());
    entry.reason = Some(reason.clone());
    entry.decision = Some(
        if switched.is_ok() {
            "agent quarantined"
        } else {
            "agent quarantined in this process only: the store is unavailable"
        }
        .into(),
    );
    if let Err(e) = gw.audit.append(entry).await {
        tracing::error!(agent = %agent, error = %e, "cannot audit a canary sighting");
    }
    match crate::sessions::end_all(gw.store.as_ref(), agent).await {
        Ok(n) if n > 0 => {
            tracing::warn!(agent = %agent, sessions = n, "sessions of a quarantined agent ended")
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(agent = %agent, error = %e, "cannot end the sessions of a quarantined agent")
        }
    }
    if let Err(e) = revoked::withdraw(gw, agent, By::Toolgate, revoked::QUARANTINED).await {
        tracing::error!(agent = %agent, error = %e.message, "cannot withdraw the work of a quarantined agent");
    }
    if let Some(wf) = workflow.as_deref().and_then(|w| gw.config.workflows.get(w)) {
        let body = json!({
            "event": "agent.quarantined",
            "agent": agent,
            "workflow": wf.name,
            "credential": canary,
            "seen_in": seen.as_str(),
            "at": crate::approvals::views::rfc3339(crate::store::now_ms()),
        });
        let message = crate::approvals::slack::quarantined(agent, &wf.name, canary, seen.as_str());
        crate::approvals::notify::post(gw, wf, &body, &message, agent);
    }
}
