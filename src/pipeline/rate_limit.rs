//! Stage 4 — rate limit per agent and tool (GCRA: a steady rate with a burst).
//!
//! Counters live in this process; a theoretical arrival time per key is
//! advanced with compare-and-set semantics under a short lock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::RateLimit;
use crate::error::{ApiError, Code};

pub struct RateLimiter {
    start: Instant,
    /// (agent, tool) -> theoretical arrival time, in ns since `start`.
    tat: Mutex<HashMap<(String, String), u128>>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter {
            start: Instant::now(),
            tat: Mutex::new(HashMap::new()),
        }
    }
}

impl RateLimiter {
    pub fn check(&self, agent: &str, tool: &str, limit: Option<RateLimit>) -> Result<(), ApiError> {
        let Some(limit) = limit else {
            return Ok(());
        };
        let now = self.start.elapsed().as_nanos();
        let interval = Duration::from_secs(60).as_nanos() / u128::from(limit.per_minute.max(1));
        let tolerance = interval * u128::from(limit.burst.max(1) - 1);
        let mut map = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        let tat = map
            .entry((agent.to_owned(), tool.to_owned()))
            .or_insert(now);
        let base = (*tat).max(now);
        if base - now > tolerance {
            let wait_ns = base - now - tolerance;
            let secs = wait_ns.div_ceil(1_000_000_000).max(1) as u64;
            return Err(ApiError::new(
                Code::RateLimited,
                format!(
                    "rate limit for this tool reached ({} per minute); retry after {secs} s",
                    limit.per_minute
                ),
            )
            .with_retry_after(secs));
        }
        *tat = base + interval;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuse() {
        let rl = RateLimiter::default();
        let limit = Some(RateLimit {
            per_minute: 60,
            burst: 3,
        });
        for _ in 0..3 {
            rl.check("a", "t", limit).unwrap();
        }
        let e = rl.check("a", "t", limit).unwrap_err();
        assert_eq!(e.code, Code::RateLimited);
        assert_eq!(e.retry_after_secs, Some(1));
        // Other agents and tools have their own budget.
        rl.check("b", "t", limit).unwrap();
        rl.check("a", "u", limit).unwrap();
        rl.check("a", "t", None).unwrap();
    }
}
