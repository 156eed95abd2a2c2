//! Propagation between replicas that share a Redis store.
//!
//! A kill switch or a credential reload made on one replica must reach all
//! of them within a second. Two paths carry it, so that either suffices:
//!
//! - **announcement**: the replica that made the change publishes a [`Signal`]
//!   on the [`crate::bus::Bus`]; every replica subscribes and acts at once;
//! - **check**: the change is also in the store (the kill switches
//!   themselves; a per-credential reload counter in [`Ns::Reloads`]), and
//!   every replica compares against it each second ([`catch_up`]), so a lost
//!   message or a dropped subscription delays a change by a second at most.
//!
//! Messages carry names only, never a value.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use crate::bus::Signal;
use crate::gateway::Gateway;
use crate::store::{Inserted, Ns, Store, StoreError, Swapped, now_ms};

/// Tell the other replicas now. Best effort: the per-second check covers a
/// message that is lost.
pub(crate) async fn publish(gw: &Gateway, signal: &Signal) {
    if let Err(e) = gw.bus.publish(signal).await {
        tracing::warn!(error = %e, "cannot announce a change to the other replicas; they will see it within a second");
    }
}

/// Record that `credential` was reloaded here (asked at `asked_ms`), so every
/// replica reloads it too.
pub(crate) async fn reloaded(
    gw: &Gateway,
    credential: &str,
    asked_ms: u64,
) -> Result<(), StoreError> {
    if !gw.store.is_shared() {
        return Ok(());
    }
    let version = bump(gw.store.as_ref(), credential, asked_ms).await?;
    if let Some(seen) = gw
        .events_seen
        .reloads
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_mut()
    {
        seen.insert(credential.to_owned(), version);
    }
    publish(
        gw,
        &Signal::Reload {
            credential: credential.to_owned(),
        },
    )
    .await;
    Ok(())
}

/// Increment the reload counter of `name`, noting when the reload was asked
/// for (an OAuth2 token obtained since then serves); the new version.
async fn bump(store: &dyn Store, name: &str, asked_ms: u64) -> Result<u64, StoreError> {
    let stamp = asked_ms.to_string();
    loop {
        match store.get(Ns::Reloads, name).await? {
            None => {
                if store
                    .insert_new(Ns::Reloads, name, stamp.as_bytes(), None)
                    .await?
                    == Inserted::New
                {
                    return Ok(1);
                }
            }
            Some(v) => {
                if let Swapped::Done(n) = store
                    .compare_and_swap(Ns::Reloads, name, v.version, stamp.as_bytes(), None)
                    .await?
                {
                    return Ok(n);
                }
            }
        }
    }
}

/// Bring this replica up to date with the store: kill switches, and
/// credentials another replica reloaded. The first call only notes the
/// reload counters (the process has just read every source).
pub(crate) async fn catch_up(gw: &Gateway) -> Result<(), StoreError> {
    gw.revocations.refresh(gw.store.as_ref()).await?;
    if !gw.store.is_shared() {
        return Ok(());
    }
    let listed = gw.store.list(Ns::Reloads, usize::MAX).await?;
    let asked: HashMap<String, u64> = listed
        .iter()
        .map(|(k, v)| {
            let at = std::str::from_utf8(&v.value)
                .ok()
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(now_ms);
            (k.clone(), at)
        })
        .collect();
    let counters: HashMap<String, u64> = listed.into_iter().map(|(k, v)| (k, v.version)).collect();
    let due: Vec<String> = {
        let mut seen = gw
            .events_seen
            .reloads
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match seen.as_mut() {
            None => {
                *seen = Some(counters);
                Vec::new()
            }
            Some(seen) => {
                let due = counters
                    .iter()
                    .filter(|(k, v)| seen.get(*k) != Some(v))
                    .map(|(k, _)| k.clone())
                    .collect();
                *seen = counters;
                due
            }
        }
    };
    for name in due {
        let since = asked.get(&name).copied().unwrap_or_else(now_ms);
        match gw.credentials.reload_since(&name, since).await {
            Ok(version) => {
                tracing::info!(credential = %name, version, "credential reloaded (asked on another replica)")
            }
            Err(e) => {
                tracing::warn!(credential = %name, error = %e, "cannot reload a credential another replica reloaded; trying again next second");
                // Not seen yet: the next catch-up tries again, rather than
                // this replica keeping the old value until it expires.
                if let Some(seen) = gw
                    .events_seen
                    .reloads
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_mut()
                {
                    seen.remove(&name);
                }
            }
        }
    }
    Ok(())
}

/// Each second, for the life of the server: [`catch_up`].
pub(crate) async fn keep_fresh(gw: Arc<Gateway>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = catch_up(&gw).await {
            tracing::warn!(error = %e, "cannot refresh kill switches from the store");
        }
    }
}

/// Act on announcements from other replicas while the process serves.
/// Subscribes again by itself; after each (re)subscription it catches up,
/// since messages sent while it was away are gone.
pub(crate) async fn listen(gw: Arc<Gateway>) {
    if !gw.bus.is_shared() {
        return;
    }
    loop {
        if let Err(e) = subscribe_and_serve(&gw).await {
            tracing::warn!(error = %e, "announcements from other replicas are not being received; checking the store each second meanwhile");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn subscribe_and_serve(gw: &Gateway) -> Result<(), String> {
    let mut signals = gw.bus.subscribe().await.map_err(|e| e.to_string())?;
    catch_up(gw).await.map_err(|e| e.to_string())?;
    while let Some(signal) = signals.next().await {
        let done = match signal {
            Signal::Switches => gw.revocations.refresh(gw.store.as_ref()).await,
            Signal::Reload { .. } => catch_up(gw).await,
        };
        if let Err(e) = done {
            tracing::warn!(error = %e, "cannot act on an announcement from another replica");
        }
    }
    Err("the subscription ended".into())
}
