//! The gate in front of every authenticated route: the credential is
//! checked from the headers before a byte of the body is read or a slot is
//! taken, and the body the handler then reads must keep arriving.
//!
//! - A request without a valid credential is answered `401` at once. It is
//!   not written to the trail one record per request — an anonymous client
//!   could grow the trail at wire speed — but counted per code and source
//!   ([`crate::audit::refusals`]).
//! - A body must be complete within `limits.body_read_timeout_ms` of the
//!   head and, after its first second, arrive at `limits.min_body_bytes_per_sec`
//!   on average; a slower one is cut off with `408 request_timeout`, so a
//!   slow upload cannot hold a slot.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::Frame;
use tokio::time::{Instant, Sleep};

use crate::config::Limits;
use crate::error::{ApiError, Code};
use crate::gateway::Gateway;
use crate::pipeline::authenticate;
use crate::tls::ClientCert;

/// How long a body may take before the minimum rate applies.
const BODY_GRACE: Duration = Duration::from_secs(1);

/// Check the credential; refuse, or pass the request on with a paced body.
pub(super) async fn gate(State(gw): State<Arc<Gateway>>, req: Request, next: Next) -> Response {
    let cert = req
        .extensions()
        .get::<ClientCert>()
        .and_then(|c| c.0.clone());
    match authenticate::presented(&gw, req.headers(), cert.as_deref()).await {
        Ok(presented) => {
            let (mut parts, body) = req.into_parts();
            parts.extensions.insert(presented);
            let body = Body::new(Paced::new(body, &gw.config.limits));
            next.run(Request::from_parts(parts, body)).await
        }
        Err(e) => {
            let from = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip());
            gw.refusals.note(e.code, from);
            gw.metrics.unauthenticated(e.code);
            e.into_response()
        }
    }
}

/// A request body that must keep arriving.
struct Paced {
    inner: Body,
    started: Instant,
    received: u64,
    timeout: Duration,
    min_rate: u64,
    deadline: Pin<Box<Sleep>>,
}

impl Paced {
    fn new(inner: Body, limits: &Limits) -> Paced {
        let started = Instant::now();
        let mut paced = Paced {
            inner,
            started,
            received: 0,
            timeout: limits.body_read_timeout,
            min_rate: limits.min_body_bytes_per_sec,
            deadline: Box::pin(tokio::time::sleep_until(started)),
        };
        let due = paced.due();
        paced.deadline.as_mut().reset(due);
        paced
    }

    /// The latest instant the next byte may arrive: what the bytes so far
    /// have earned at the minimum rate, and never past the timeout.
    fn due(&self) -> Instant {
        let end = self.started + self.timeout;
        if self.min_rate == 0 {
            return end;
        }
        let earned = Duration::from_secs_f64(self.received as f64 / self.min_rate as f64);
        end.min(self.started + BODY_GRACE + earned)
    }
}

impl http_body::Body for Paced {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    let due = this.due();
                    this.deadline.as_mut().reset(due);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(SlowBody)))),
                Poll::Pending => Poll::Pending,
            },
            done => done,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A body cut off for arriving too slowly.
#[derive(Debug, thiserror::Error)]
#[error("the request body arrived too slowly")]
struct SlowBody;

/// The whole body of a request, or the error that says why not: too large
/// (`413`), too slow (`408`), or broken off (`400`).
pub(super) struct WholeBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for WholeBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(WholeBody(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::new(
                    Code::PayloadTooLarge,
                    "the request body is larger than this gateway accepts",
                ))
            }
            Err(rejection) if caused_by_slow_body(&rejection) => Err(ApiError::new(
                Code::RequestTimeout,
                "the request body arrived too slowly; send it at once",
            )),
            Err(_) => Err(ApiError::bad_request("the request body could not be read")),
        }
    }
}

fn caused_by_slow_body(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if e.is::<SlowBody>() {
            return true;
        }
        cause = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn limits(timeout_ms: u64, min_rate: u64) -> Limits {
        Limits {
            body_read_timeout: Duration::from_millis(timeout_ms),
            min_body_bytes_per_sec: min_rate,
            ..Limits::default()
        }
    }

    /// A body that sends `chunks` one after another, `gap` apart, then ends.
    fn trickle(chunks: Vec<&'static [u8]>, gap: Duration) -> Body {
        let stream = futures_util::stream::unfold(chunks.into_iter(), move |mut rest| async move {
            let next = rest.next()?;
            tokio::time::sleep(gap).await;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(next)), rest))
        });
        Body::from_stream(stream)
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_at_the_minimum_rate_is_read_whole() {
        // 4 KiB a second earns 2.5 s for 10 KiB, beyond the first second.
        let body = trickle(vec![&[b'a'; 2048]; 5], Duration::from_millis(500));
        let paced = Paced::new(body, &limits(60_000, 4096));
        let got = paced.collect().await.expect("read").to_bytes();
        assert_eq!(got.len(), 10 * 1024);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_below_the_minimum_rate_is_cut_off() {
        let body = trickle(vec![&[b'a'; 16]; 100], Duration::from_millis(500));
        let err = Paced::new(body, &limits(60_000, 4096))
            .collect()
            .await
            .expect_err("too slow");
        assert!(caused_by_slow_body(&err));
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_is_cut_off_at_the_timeout_whatever_its_rate() {
        let body = trickle(vec![&[b'a'; 65536]; 100], Duration::from_millis(400));
        let started = Instant::now();
        let err = Paced::new(body, &limits(2_000, 0))
            .collect()
            .await
            .expect_err("too long");
        assert!(caused_by_slow_body(&err));
        assert!(started.elapsed() <= Duration::from_millis(2_001));
    }
}
