//! The clock TTLs and rate limits use in the embedded backends (memory and
//! file), and the GCRA step they share. Redis uses its server's clock
//! instead, so replicas with skewed clocks agree.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::contract::RateDecision;

/// Milliseconds since the Unix epoch (the clock TTLs and rate limits use).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub(crate) fn deadline(ttl: Option<Duration>) -> u64 {
    ttl.map(|t| now_ms().saturating_add(t.as_millis() as u64))
        .unwrap_or(0)
}

/// Nanoseconds since the Unix epoch (the rate-limit clock).
pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The GCRA step shared by the embedded backends: given the stored theoretical
/// arrival time (ns since the epoch), decide and return the new one.
pub(crate) fn gcra(
    tat_ns: Option<u64>,
    now: u64,
    per_minute: u32,
    burst: u32,
) -> (RateDecision, Option<u64>) {
    let interval = 60_000_000_000u64 / u64::from(per_minute.max(1));
    let tolerance = interval * u64::from(burst.max(1) - 1);
    let tat = tat_ns.unwrap_or(now).max(now);
    if tat - now > tolerance {
        let wait = tat - now - tolerance;
        return (
            RateDecision::Limited {
                retry_after: Duration::from_nanos(wait),
            },
            None,
        );
    }
    (RateDecision::Allowed, Some(tat + interval))
}
