//! What revoking (or quarantining) an agent does to the work it left
//! behind: its pending actions are denied ("agent revoked", "agent
//! quarantined"), and its idempotency keys are
//! forgotten, so that nothing it asked for runs later and no earlier answer
//! is replayed to whoever holds its next key. (Its dead letters are refused
//! a retry while it is revoked: `dead_letters::retry`.)

use crate::actions::{self, Decision, State, Step};
use crate::audit::Event;
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::pipeline::audit::Trail;
use crate::store::{Ns, now_ms};

/// The reason recorded on each action an admin's revocation denies.
pub(crate) const REASON: &str = "agent revoked";
/// The reason recorded on each action a quarantine denies.
pub(crate) const QUARANTINED: &str = "agent quarantined: a canary credential was seen";

/// Who withdraws the work: an admin by name, or toolgate itself.
#[derive(Debug, Clone, Copy)]
pub(crate) enum By<'a> {
    Admin(&'a str),
    Toolgate,
}

/// What a revocation withdrew.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Withdrawn {
    pub denied: usize,
    pub forgotten_keys: usize,
}

/// Deny `agent`'s pending actions and forget its idempotency keys, on
/// behalf of `by`, for `reason`. Each denial is recorded (`denied`, with
/// the admin when there is one).
pub(crate) async fn withdraw(
    gw: &Gateway,
    agent: &str,
    by: By<'_>,
    reason: &str,
) -> Result<Withdrawn, ApiError> {
    let store = gw.store.as_ref();
    let mut withdrawn = Withdrawn::default();
    for pending in actions::open(store).await? {
        if pending.agent != agent || pending.state != State::PendingApproval {
            continue;
        }
        let now = now_ms();
        let denied = actions::transition(store, &pending.id, |a| {
            if a.state != State::PendingApproval {
                return Step::Keep(false);
            }
            a.state = State::Denied;
            a.denial = Some(Decision {
                by: match by {
                    By::Admin(admin) => format!("admin:{admin}"),
                    By::Toolgate => "toolgate".to_owned(),
                },
                reason: reason.to_owned(),
                at_ms: now,
            });
            Step::Write(true)
        })
        .await?;
        let Some((action, true)) = denied else {
            continue;
        };
        withdrawn.denied += 1;
        Trail::for_action(gw, &action)
            .record(Event::Denied, |e| {
                if let By::Admin(admin) = by {
                    e.admin = Some(admin.to_owned());
                }
                e.reason = Some(reason.to_owned());
                e.decision = Some("denied".into());
            })
            .await?;
    }
    gw.action_events.notify_waiters();
    let prefix = actions::idempotency_prefix(agent);
    for (key, v) in store.list(Ns::Idempotency, usize::MAX).await? {
        if key.starts_with(&prefix) && store.delete(Ns::Idempotency, &key, Some(v.version)).await? {
            withdrawn.forgotten_keys += 1;
        }
    }
    Ok(withdrawn)
}
