//! A held `tools/call` waits for its decision: up to
//! `mcp.approval_wait_seconds`, re-reading the action as the REST long-poll
//! does ([`crate::approvals::wait::wait_for`]), and — when the request gave
//! a `progressToken` — telling the client it is still waiting with a
//! `notifications/progress` every few seconds.
//!
//! Waiting only reads: the approval that completes the quorum runs the
//! call (`approvals::decide`), whoever waits. So a client that goes away
//! loses nothing; the action stays pending and is decided as usual. A
//! waiter whose stream has been dropped stops at its next tick.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::actions::{Action, State};
use crate::approvals::wait::wait_for;
use crate::error::ApiError;
use crate::gateway::Gateway;

/// How often a waiting call tells the client it is still waiting.
pub(crate) const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Where a call's progress notifications go: the HTTP side streams them to
/// the client as server-sent events ahead of the answer. Without a channel
/// (a request the HTTP side answers as one JSON body) they go nowhere.
#[derive(Debug, Clone, Default)]
pub(crate) struct Progress {
    tx: Option<mpsc::UnboundedSender<Value>>,
}

impl Progress {
    /// A sink that keeps nothing.
    pub(crate) fn none() -> Progress {
        Progress { tx: None }
    }

    /// A sink and the receiving end the HTTP side reads.
    pub(crate) fn channel() -> (Progress, mpsc::UnboundedReceiver<Value>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Progress { tx: Some(tx) }, rx)
    }

    /// Whether notifications can reach anyone.
    fn open(&self) -> bool {
        self.tx.as_ref().is_some_and(|tx| !tx.is_closed())
    }

    /// Whoever asked may still be listening: true unless a stream was
    /// opened and its reader has gone.
    fn listening(&self) -> bool {
        self.tx.as_ref().is_none_or(|tx| !tx.is_closed())
    }

    fn send(&self, notification: Value) {
        if let Some(tx) = &self.tx {
            // A reader that went away is seen by `listening`.
            let _ = tx.send(notification);
        }
    }
}

/// The progress token of a `tools/call`'s `params._meta`, when it is one
/// (a string or an integer).
pub(crate) fn progress_token(params: &serde_json::Map<String, Value>) -> Option<&Value> {
    params
        .get("_meta")
        .and_then(|m| m.get("progressToken"))
        .filter(|t| t.is_string() || t.is_i64() || t.is_u64())
}

/// Wait for action `id`, kept for this call, to become final: at most
/// `mcp.approval_wait_seconds`, sending progress under `token` (at once,
/// then every [`PROGRESS_EVERY`]). The action as last read (final, or
/// still open when the time is up or the client has gone); `None` if it no
/// longer exists.
pub(crate) async fn decided(
    gw: &Gateway,
    id: &str,
    token: Option<&Value>,
    progress: &Progress,
) -> Result<Option<Action>, ApiError> {
    let wait = gw.config.mcp.approval_wait;
    let started = Instant::now();
    let deadline = started + wait;
    let Some(mut a) = wait_for(gw, id, Duration::ZERO).await? else {
        return Ok(None);
    };
    // The index of the next notification due: one at once, then one each
    // PROGRESS_EVERY (a change that is not final wakes the wait early,
    // but sends nothing before its time).
    let mut due = 0u32;
    loop {
        let now = Instant::now();
        if a.state.is_final() || now >= deadline || !progress.listening() {
            return Ok(Some(a));
        }
        let elapsed = now - started;
        if elapsed >= PROGRESS_EVERY * due {
            let tick =
                u32::try_from(elapsed.as_millis() / PROGRESS_EVERY.as_millis()).unwrap_or(u32::MAX);
            if let Some(token) = token
                && progress.open()
            {
                let left = deadline.saturating_duration_since(now);
                progress.send(notification(gw, token, tick, wait, left, &a));
            }
            due = tick.saturating_add(1);
        }
        let next = (started + PROGRESS_EVERY * due).min(deadline);
        match wait_for(gw, &a.id, next.saturating_duration_since(now)).await? {
            Some(read) => a = read,
            None => return Ok(None),
        }
    }
}

/// `notifications/progress` at `tick` (of [`PROGRESS_EVERY`]): the progress
/// is the seconds waited so far, in whole ticks — so it grows with each
/// notification — out of the whole wait; the message redacted like every
/// MCP surface.
fn notification(
    gw: &Gateway,
    token: &Value,
    tick: u32,
    wait: Duration,
    left: Duration,
    a: &Action,
) -> Value {
    let waited = (PROGRESS_EVERY * tick).as_secs();
    let what = match a.state {
        State::PendingApproval => "waiting for approval",
        _ => "approved; waiting for the call to finish",
    };
    let message = format!(
        "{what} (action {}); {} s left before the call answers pending_approval",
        a.id,
        left.as_secs()
    );
    let message = gw.redactor.load().redact_str(&message).0.into_owned();
    json!({
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": {
            "progressToken": token,
            "progress": waited,
            "total": wait.as_secs(),
            "message": message,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_progress_token_is_a_string_or_an_integer() {
        let params = |t: Value| {
            json!({"_meta": {"progressToken": t}})
                .as_object()
                .unwrap()
                .clone()
        };
        assert!(progress_token(&params(json!("p1"))).is_some());
        assert!(progress_token(&params(json!(7))).is_some());
        assert!(progress_token(&params(json!(1.5))).is_none());
        assert!(progress_token(&params(json!({"a": 1}))).is_none());
        assert!(progress_token(&serde_json::Map::new()).is_none());
    }

    #[test]
    fn a_sink_whose_reader_went_away_is_no_longer_listened_to() {
        assert!(Progress::none().listening());
        assert!(!Progress::none().open());
        let (p, rx) = Progress::channel();
        assert!(p.listening() && p.open());
        drop(rx);
        assert!(!p.listening() && !p.open());
    }
}
