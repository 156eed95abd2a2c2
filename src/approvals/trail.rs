//! The records of what happened to an action without a person deciding:
//! time settled it (`expired`, `unknown`), or it went back to the queue
//! unsent (`requeued`). A failure to write one is logged; the state change
//! it describes has already been made.

use crate::actions::{Action, State};
use crate::audit::Event;
use crate::gateway::Gateway;
use crate::pipeline::audit::Trail;

/// Record that time settled an action (`expired`, or `unknown` after a crash).
pub(crate) async fn settled(gw: &Gateway, a: &Action) {
    let event = if a.state == State::Expired {
        Event::Expired
    } else {
        Event::Unknown
    };
    let r = Trail::for_action(gw, a)
        .record(event, |e| e.decision = Some(a.state.as_str().to_owned()))
        .await;
    if let Err(e) = r {
        tracing::error!(action_id = %a.id, error = %e, "cannot audit a settled action");
    }
}

/// Record that an approved action went back to the queue unsent.
pub(crate) async fn requeued(gw: &Gateway, a: &Action) {
    let r = Trail::for_action(gw, a)
        .record(Event::Requeued, |e| {
            e.decision = Some("requeued: nothing was sent".into());
        })
        .await;
    if let Err(e) = r {
        tracing::error!(action_id = %a.id, error = %e, "cannot audit a requeued action");
    }
}
