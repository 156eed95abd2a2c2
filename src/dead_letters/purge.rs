//! Retention: a dead letter is purged once its workflow's
//! `dead_letters.retention` has passed since it was kept. Each purge is
//! recorded (`dead_letter_purged`) before the letter is deleted, so none
//! goes without a record: the purge first claims the letter (as a discard
//! does), so that of several replicas one purges it and one record is
//! written; a purge whose record cannot be written puts the letter back as
//! it was, to be purged on a later pass. A letter being retried or
//! discarded is left to that step.

use std::sync::Arc;
use std::time::Duration;

use super::record::{self, retention_of};
use crate::audit::Event;
use crate::gateway::Gateway;
use crate::store::{Ns, StoreError, now_ms};

/// How often the purge runs at most: every 30 s, or a quarter of the
/// shortest retention when that is shorter, so a letter outlives its
/// retention by at most that.
fn every(gw: &Gateway) -> Duration {
    let shortest = gw
        .config
        .workflows
        .values()
        .map(|w| w.dead_letter_retention)
        .min()
        .unwrap_or(Duration::MAX);
    (shortest / 4).clamp(Duration::from_secs(1), Duration::from_secs(30))
}

/// Runs for the life of the server.
pub(crate) async fn purger(gw: Arc<Gateway>) {
    let mut tick = tokio::time::interval(every(&gw));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match purge(&gw).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "dead letters past their retention purged"),
            Err(e) => tracing::warn!(error = %e, "cannot purge dead letters"),
        }
    }
}

/// One pass: every letter past its retention, claimed, recorded, deleted.
/// The number purged.
pub(crate) async fn purge(gw: &Gateway) -> Result<usize, StoreError> {
    let store = gw.store.as_ref();
    let now = now_ms();
    let mut purged = 0;
    for (id, v) in store.list(Ns::DeadLetters, 10_000).await? {
        let Ok(d) = record::decode(&v.value) else {
            continue;
        };
        let retention = retention_of(gw, &d.workflow);
        if d.purge_at_ms(retention) > now || record::held(&d) {
            continue;
        }
        let Some((prior, claimed)) = record::claim_for_purge(store, &id, retention, now).await?
        else {
            continue;
        };
        let mut e = record::entry(gw, Event::DeadLetterPurged, &claimed);
        e.decision = Some(format!(
            "retention passed: kept {}",
            span(
                claimed
                    .purge_at_ms(retention)
                    .saturating_sub(claimed.created_at_ms)
            )
        ));
        e.code = Some(claimed.code.clone());
        if let Err(err) = gw.audit.append(e).await {
            tracing::error!(dead_letter = %id, error = %err, "cannot record a dead letter's purge: kept until it can be");
            record::unclaim(store, &id, &prior).await?;
            continue;
        }
        store.delete(Ns::DeadLetters, &id, None).await?;
        purged += 1;
    }
    Ok(purged)
}

/// A retention as written in config: `7d`, `12h`, `90m`, `45s`.
fn span(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn spans_read_as_config_writes_them() {
        assert_eq!(super::span(7 * 86_400_000), "7d");
        assert_eq!(super::span(12 * 3_600_000), "12h");
        assert_eq!(super::span(90 * 60_000), "90m");
        assert_eq!(super::span(2_500), "2s");
    }
}
