//! The event bus between replicas: announcements that something changed
//! (a kill switch, a credential reload), so every replica acts at once.
//!
//! Behind the [`Bus`] trait: [`NoBus`] for a gateway alone on its store, and
//! [`RedisBus`] (pub/sub on `toolgate:{<env>:events}`) for replicas sharing a
//! Redis store. The bus is best effort — every change is also in the store,
//! and each replica checks the store every second (`events`), so a lost
//! message delays a change by a second at most.
//!
//! Messages carry names only, never a value.

use std::collections::HashMap;
use std::sync::Mutex;
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
    client: redis::Client,
    conn: redis::aio::ConnectionManager,
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
        url: &str,
        tls: &crate::store::RedisTls,
        conn: redis::aio::ConnectionManager,
        environment: &str,
    ) -> Result<RedisBus, BusError> {
        let client = crate::store::redis_client(url, tls).map_err(|e| BusError(e.0))?;
        Ok(RedisBus {
            client,
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
        let mut pubsub =
            tokio::time::timeout(Duration::from_secs(2), self.client.get_async_pubsub())
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
