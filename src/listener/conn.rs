//! One connection's life after it is accepted: how long it may go without
//! a request in flight, and how it ends when the listener stops.
//!
//! hyper bounds an HTTP/1 request head itself (`header_read_timeout`). An
//! HTTP/2 connection has no such bound in hyper: a client may open one and
//! never complete a request head (a HEADERS frame whose CONTINUATION never
//! comes), or keep it open doing nothing. So every connection is watched
//! here: once no request has been in flight on it for
//! `limits.header_read_timeout_ms`, it is shut down gracefully (HTTP/2: a
//! GOAWAY), and dropped if it has not ended after as long again.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::server::graceful::GracefulConnection;
use tokio::sync::watch;
use tokio::time::Instant;

/// Requests in flight on one connection, and when the last one ended.
#[derive(Debug)]
pub(super) struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds from `opened` to the end of the last request.
    last_ms: AtomicU64,
}

impl Activity {
    pub(super) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
        })
    }

    /// How long the connection has gone without a request in flight.
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::Acquire));
        self.opened.elapsed().saturating_sub(last)
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }
}

/// One request in flight, until its response is ready.
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        let now = u64::try_from(a.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        a.last_ms.store(now, Ordering::Release);
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A service that counts its requests in flight on the connection.
#[derive(Debug, Clone)]
pub(super) struct Tracked<S> {
    pub(super) inner: S,
    pub(super) activity: Arc<Activity>,
}

impl<S, R> tower::Service<R> for Tracked<S>
where
    S: tower::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        TrackedFuture {
            guard: self.activity.begin(),
            inner: self.inner.call(req),
        }
    }
}

pin_project_lite::pin_project! {
    /// A request's response, in flight until it resolves (or is dropped).
    #[derive(Debug)]
    pub(super) struct TrackedFuture<F> {
        #[pin]
        inner: F,
        guard: InFlight,
    }
}

impl<F: Future> Future for TrackedFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

/// Serve `conn` until it ends, it has been idle for `idle`, or `stop` turns
/// true; the last two shut it down gracefully, and drop it if that takes
/// longer than `idle` again.
pub(super) async fn serve<C: GracefulConnection>(
    conn: C,
    activity: Arc<Activity>,
    idle: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut conn = std::pin::pin!(conn);
    let check = (idle / 4).max(Duration::from_millis(25));
    let mut tick = tokio::time::interval(check);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stopping = loop {
        tokio::select! {
            // A client that breaks its connection is not an error of ours.
            _ = conn.as_mut() => return,
            _ = tick.tick() => {
                if activity.idle_for() >= idle {
                    break false;
                }
            }
            changed = stop.wait_for(|stop| *stop) => {
                let _ = changed;
                break true;
            }
        }
    };
    conn.as_mut().graceful_shutdown();
    if stopping {
        // Calls in flight finish; the server's grace period bounds them.
        let _ = conn.await;
    } else {
        let _ = tokio::time::timeout(idle, conn).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_idle_only_with_nothing_in_flight() {
        let a = Activity::new();
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(a.idle_for(), Duration::from_secs(3));
        let req = a.begin();
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(a.idle_for(), Duration::ZERO, "a request is in flight");
        drop(req);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(a.idle_for(), Duration::from_secs(2));
    }
}
