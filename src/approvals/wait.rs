//! Long-polls: an agent waits for its action to become final, woken by a
//! change in this process or, across replicas, by re-reading the store.

use std::time::Duration;

use crate::actions::{self, Action};
use crate::error::ApiError;
use crate::gateway::Gateway;

/// Longest a caller may long-poll in one request.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(60);
/// How often waiters re-read the store (changes made by another replica).
const POLL: Duration = Duration::from_millis(250);

/// Wait until the action is final or `wait` has passed; `None` if it does not exist.
pub(crate) async fn wait_for(
    gw: &Gateway,
    id: &str,
    wait: Duration,
) -> Result<Option<Action>, ApiError> {
    let deadline = tokio::time::Instant::now() + wait.min(MAX_WAIT);
    loop {
        let notified = gw.action_events.notified();
        let a = actions::load(gw.store.as_ref(), id).await?;
        match &a {
            Some(x) if !x.state.is_final() && tokio::time::Instant::now() < deadline => {}
            _ => return Ok(a),
        }
        let nap = POLL.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
        tokio::select! {
            _ = notified => {},
            _ = tokio::time::sleep(nap) => {},
        }
    }
}
