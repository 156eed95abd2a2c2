//! Stage 5 — rate limit per agent and tool: a GCRA step in the store, so the
//! limit is one limit for every process sharing the store.

use crate::config::RateLimit;
use crate::error::{ApiError, Code};
use crate::store::{RateDecision, Store};

pub(crate) async fn check(
    store: &dyn Store,
    agent: &str,
    tool: &str,
    limit: Option<RateLimit>,
) -> Result<(), ApiError> {
    let Some(limit) = limit else {
        return Ok(());
    };
    let key = format!("{agent}\u{1f}{tool}");
    match store.rate_limit(&key, limit.per_minute, limit.burst).await {
        Ok(RateDecision::Allowed) => Ok(()),
        Ok(RateDecision::Limited { retry_after }) => {
            let secs = retry_after.as_millis().div_ceil(1000).max(1) as u64;
            Err(ApiError::new(
                Code::RateLimited,
                format!(
                    "rate limit for this tool reached ({} per minute); retry after {secs} s",
                    limit.per_minute
                ),
            )
            .with_retry_after(secs))
        }
        Err(e) => Err(e.into()),
    }
}
