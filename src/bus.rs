//! The event bus between replicas: announcements that something changed
//! (a kill switch, a credential reload), so every replica acts at once.
//!
//! Behind the [`Bus`] trait: [`NoBus`] for a gateway alone on its store, and
//! [`RedisBus`] (pub/sub on `toolgate:{<env>:events}`) for replicas sharing a
//! Redis store. On a Redis Cluster a classic `PUBLISH` reaches the
//! subscribers of every node, so each replica subscribes on one node and,
//! when that node fails, on the next of the configured ones. The bus is best effort — every change is also in the store,
//! and each replica checks the store every second (`events`), so a lost
//! message delays a change by a second at most.
//!
//! Messages carry names only, never a value.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    /// A kill switch was set or cleared: re-read them.
    Switches,
    /// A credential's source was re-read: do the same.
    Reload { credential: String },
}

/// Reload counters already acted on, per credential.
#[derive(Debug, Default)]
pub struct Seen {
    pub(crate) reloads: Mutex<Option<HashMap<String, u64>>>,
}

/// Why the bus could not carry a message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BusError(pub String);

/// Announcements between the replicas of one environment.
#[async_trait]
pub trait Bus: Send + Sync + std::fmt::Debug {
    /// Whether other replicas can hear this one at all.
    fn is_shared(&self) -> bool;

    /// Tell every replica (this one included, when subscribed).
    async fn publish(&self, signal: &Signal) -> Result<(), BusError>;

    /// The signals published from now on, until the subscription breaks
    /// (the stream then ends; subscribe again).
    async fn subscribe(&self) -> Result<BoxStream<'static, Signal>, BusError>;
}

/// A gateway alone on its store: nothing to tell anyone.
#[derive(Debug, Default)]
pub struct NoBus;

#[async_trait]
impl Bus for NoBus {
    fn is_shared(&self) -> bool {
        false
    }

    async fn publish(&self, _: &Signal) -> Result<(), BusError> {
        Ok(())
    }

    async fn subscribe(&self) -> Result<BoxStream<'static, Signal>, BusError> {
        Ok(futures_util::stream::pending().boxed())
    }
}

/// Pub/sub on the shared Redis.
pub struct RedisBus {
    /// One per configured node (one, or a cluster's seeds).
    clients: Vec<redis::Client>,
    /// The node to subscribe on next: after a broken subscription, the next one.
    next: AtomicUsize,
    conn: crate::store::RedisConn,
    channel: String,
}

impl std::fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client holds the URL, and the URL may hold a password.
        f.debug_struct("RedisBus")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl RedisBus {
    pub fn new(
        target: &crate::store::RedisTarget,
        tls: &crate::store::RedisOptions,
        conn: crate::store::RedisConn,
        environment: &str,
    ) -> Result<RedisBus, BusError> {
        let clients = target
            .urls()
            .iter()
            .map(|url| crate::store::redis_client(url, tls).map_err(|e| BusError(e.0)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RedisBus {
            clients,
            next: AtomicUsize::new(0),
            conn,
            channel: format!("toolgate:{{{environment}:events}}"),
        })
    }
}

fn redis_text(e: &redis::RedisError) -> String {
    crate::store::redis_error_text(e)
}

#[async_trait]
impl Bus for RedisBus {
    fn is_shared(&self) -> bool {
        true
    }

    async fn publish(&self, signal: &Signal) -> Result<(), BusError> {
        let text = serde_json::to_string(signal)
            .map_err(|e| BusError(format!("cannot encode a signal: {e}")))?;
        redis::cmd("PUBLISH")
            .arg(&self.channel)
            .arg(text)
            .query_async::<i64>(&mut self.conn.clone())
            .await
            .map(|_| ())
            .map_err(|e| BusError(redis_text(&e)))
    }

    async fn subscribe(&self) -> Result<BoxStream<'static, Signal>, BusError> {
        // Round the configured nodes: each attempt (and each broken
        // subscription's successor) starts on the next one.
        let mut last = BusError("redis: no node configured".into());
        for _ in 0..self.clients.len() {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len();
            match self.subscribe_on(&self.clients[i]).await {
                Ok(stream) => {
                    // Stay on this node until it fails.
                    self.next.store(i, Ordering::Relaxed);
                    return Ok(stream);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

impl RedisBus {
    async fn subscribe_on(
        &self,
        client: &redis::Client,
    ) -> Result<BoxStream<'static, Signal>, BusError> {
        let mut pubsub = tokio::time::timeout(Duration::from_secs(2), client.get_async_pubsub())
            .await
            .map_err(|_| BusError("redis: connection timed out".into()))?
            .map_err(|e| BusError(redis_text(&e)))?;
        pubsub
            .subscribe(&self.channel)
            .await
            .map_err(|e| BusError(redis_text(&e)))?;
        Ok(pubsub
            .into_on_message()
            .filter_map(|msg| async move {
                serde_json::from_slice::<Signal>(msg.get_payload_bytes()).ok()
            })
            .boxed())
    }
}
