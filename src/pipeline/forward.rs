//! Stage 8, run — forward the request upstream, with a timeout and a size cap.
//!
//! The body is read chunk by chunk and the read stops as soon as it passes
//! the tool's `max_bytes`: an oversized answer is never buffered whole.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};

use tracing::Instrument;

use super::egress::{self, Egress};
use crate::config::{RecordPayloads, ToolDef};
use crate::error::{ApiError, Code};
use crate::request::UpstreamRequest;
use crate::telemetry::spans;

/// What the upstream answered.
pub(crate) struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub elapsed: Duration,
}

pub(crate) fn egress_denied() -> ApiError {
    ApiError::new(
        Code::EgressDenied,
        "the tool's upstream address is not allowed by egress policy; the call was not made",
    )
}

/// Send `req` in a client span. Trace headers go upstream only as the
/// tool's `propagate_trace` says: a `traceparent` of this request's span,
/// never one that came with the request.
pub(crate) async fn send(
    egress: &Egress,
    tool: &ToolDef,
    mut req: UpstreamRequest,
    record: RecordPayloads,
) -> Result<UpstreamResponse, ApiError> {
    let span = spans::upstream(tool, &req.url, req.method.as_str(), record);
    req.headers.remove("traceparent");
    req.headers.remove("tracestate");
    if tool.upstream.propagate_trace
        && let Some(traceparent) = spans::traceparent(&span)
    {
        req.headers.insert("traceparent", traceparent);
    }
    let sent = exchange(egress, tool, req).instrument(span.clone()).await;
    match &sent {
        Ok(response) => spans::upstream_status(&span, response.status.as_u16()),
        Err(e) => spans::failed(&span, e.code.as_str()),
    }
    sent
}

async fn exchange(
    egress: &Egress,
    tool: &ToolDef,
    req: UpstreamRequest,
) -> Result<UpstreamResponse, ApiError> {
    let allow_private = tool.upstream.allow_private_network;
    egress::check_url(&req.url, allow_private).map_err(|_| egress_denied())?;
    let client = egress.client(allow_private);
    let mut builder = client
        .request(req.method, req.url)
        .headers(req.headers)
        .timeout(tool.upstream.timeout);
    if let Some(body) = req.body {
        builder = builder.body(body);
    }
    let started = Instant::now();
    let mut response = builder.send().await.map_err(|e| map_error(&e))?;
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    let max = tool.response.max_bytes;
    if response
        .content_length()
        .is_some_and(|len| len > max as u64)
    {
        return Err(too_large(max));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| map_error(&e))? {
        if body.len() + chunk.len() > max {
            return Err(too_large(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(UpstreamResponse {
        status,
        headers,
        body: body.freeze(),
        elapsed: started.elapsed(),
    })
}

fn too_large(max: usize) -> ApiError {
    ApiError::new(
        Code::UpstreamError,
        format!(
            "the upstream's answer is larger than this tool's limit of {max} bytes; it was discarded"
        ),
    )
}

fn map_error(e: &reqwest::Error) -> ApiError {
    if egress::is_egress_denied(e) {
        return egress_denied();
    }
    if e.is_timeout() {
        return ApiError::new(Code::UpstreamTimeout, "the upstream did not answer in time")
            .with_internal(format!("{:?}", e.without_url_ref()));
    }
    let what = if e.is_connect() {
        "could not connect to the upstream"
    } else {
        "the exchange with the upstream failed"
    };
    ApiError::new(Code::UpstreamError, what).with_internal(format!("{:?}", e.without_url_ref()))
}

/// Debug-print a reqwest error without its URL (which may hold a query credential).
trait WithoutUrl {
    fn without_url_ref(&self) -> ErrorChain<'_>;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> ErrorChain<'_> {
        ErrorChain(self)
    }
}

struct ErrorChain<'a>(&'a reqwest::Error);

impl std::fmt::Debug for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        let mut cur = std::error::Error::source(self.0);
        while let Some(e) = cur {
            parts.push(e.to_string());
            cur = e.source();
        }
        write!(f, "kind={}; {}", kind(self.0), parts.join(": "))
    }
}

fn kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() {
        "body"
    } else if e.is_request() {
        "request"
    } else {
        "other"
    }
}
