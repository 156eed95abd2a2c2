//! Time settles what people did not: each second, pending actions past
//! their expiry become `expired`; executing actions past their lease become
//! `unknown` when they were dispatched, and go back to the queue when they
//! were not; dead letters left `retrying` by a process that died are dealt
//! with the same way. At start, with a store only this process uses, every
//! executing action was abandoned by a process that died.

use std::sync::Arc;
use std::time::Duration;

use super::trail::{requeued, settled};
use crate::actions::{self, State, Step};
use crate::dead_letters::record as dead_letter;
use crate::gateway::Gateway;
use crate::store::StoreError;

/// At start: with a store only this process uses, an action still `executing`
/// was abandoned by a process that died — it becomes `unknown` now if it may
/// have been sent (never re-sent), and goes back to the queue if it was not.
pub(crate) async fn recover(gw: &Gateway) -> Result<usize, StoreError> {
    if gw.store.is_shared() {
        return Ok(0);
    }
    let mut n = 0;
    for a in actions::open(gw.store.as_ref()).await? {
        if a.state != State::Executing {
            continue;
        }
        if !a.dispatched
            && let Some(back) = actions::requeue(gw.store.as_ref(), &a.id).await?
        {
            tracing::warn!(action_id = %back.id, tool = %back.tool, "action was approved but not sent when toolgate stopped: back in the queue");
            requeued(gw, &back).await;
            n += 1;
            continue;
        }
        let r = actions::transition(gw.store.as_ref(), &a.id, |a| {
            if a.state == State::Executing {
                a.state = State::Unknown;
                Step::Write(true)
            } else {
                Step::Keep(false)
            }
        })
        .await?;
        if let Some((a, true)) = r {
            tracing::warn!(action_id = %a.id, tool = %a.tool, "action was executing when toolgate stopped: marked unknown, not re-sent");
            settled(gw, &a).await;
            n += 1;
        }
    }
    for d in dead_letter::sweep(gw.store.as_ref(), true).await? {
        dead_letter::settled(gw, &d).await;
        n += 1;
    }
    Ok(n)
}

/// One pass: what time settled, recorded and announced to waiters.
async fn sweep_once(gw: &Gateway) -> Result<(), StoreError> {
    let swept = actions::sweep(gw.store.as_ref()).await?;
    for a in &swept.settled {
        tracing::info!(action_id = %a.id, state = a.state.as_str(), "action settled by time");
        settled(gw, a).await;
    }
    for a in &swept.requeued {
        tracing::warn!(action_id = %a.id, "approved action was never sent (its process stopped): back in the queue");
        requeued(gw, a).await;
    }
    if !swept.settled.is_empty() || !swept.requeued.is_empty() {
        gw.action_events.notify_waiters();
    }
    Ok(())
}

/// Dead letters held past their lease (minutes long): looked for every
/// `LETTER_SWEEP_EVERY` ticks, not every second, since it reads them all.
async fn sweep_letters(gw: &Gateway) -> Result<(), StoreError> {
    for d in dead_letter::sweep(gw.store.as_ref(), false).await? {
        dead_letter::settled(gw, &d).await;
    }
    Ok(())
}

const LETTER_SWEEP_EVERY: u64 = 30;

/// Runs for the life of the server, each second. (Kill switches are
/// refreshed by [`crate::events::keep_fresh`], apart, so a slow sweep never
/// delays them.)
pub(crate) async fn sweeper(gw: Arc<Gateway>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    for n in 0u64.. {
        tick.tick().await;
        if let Err(e) = sweep_once(&gw).await {
            tracing::warn!(error = %e, "cannot sweep actions");
        }
        if n % LETTER_SWEEP_EVERY == 0
            && let Err(e) = sweep_letters(&gw).await
        {
            tracing::warn!(error = %e, "cannot sweep dead letters");
        }
    }
}
