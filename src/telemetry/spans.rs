//! The spans of a tool call, as the front doors and the pipeline make them.
//!
//! A call is one `execute_tool <tool>` span (GenAI semantic conventions:
//! `gen_ai.operation.name`, `gen_ai.tool.name`, `gen_ai.tool.call.id`),
//! made by the front door the call came through; the pipeline names its
//! tool once resolved (a name not in the workflow stays `unknown`: a span
//! name is never the caller's text), opens a child span per stage, and
//! records how the call ended. The upstream request is a client span under
//! the `run` stage.
//!
//! Each front door has its constructor here ([`CallSpan::rest`]): the
//! `call_span!` macro declares the fields every call has and takes the ones
//! only that door has (a protocol's method name, a hashed session id) as
//! extra fields; the pipeline records only the common ones.
//!
//! Every span here has the target [`TARGET`]: only the trace exporter sees
//! these spans, the log never shows them. With no exporter they are
//! disabled at their call site, and recording into them costs a branch.
//! Whatever is recorded still passes the redactor before it is exported
//! (`scrub`); arguments and results are recorded only with
//! `telemetry.record_payloads: redacted`, and redacted here first.

use http::HeaderMap;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use serde_json::Value;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::config::{RecordPayloads, ToolDef};
use crate::redact::{JsonOptions, Redactor};

/// The target of every span toolgate exports.
pub(crate) const TARGET: &str = "toolgate::trace";

/// Longest call id put on a span (the caller's text).
const MAX_CALL_ID: usize = 128;
/// Longest argument or result text put on a span.
const MAX_PAYLOAD: usize = 16 * 1024;

/// A call span with the fields every call has; extra `field = value` pairs
/// are the front door's own.
macro_rules! call_span {
    ($kind:expr, $via:expr $(, $($extra:tt)+)?) => {
        tracing::info_span!(
            target: $crate::telemetry::spans::TARGET,
            "execute_tool",
            otel.name = "execute_tool unknown",
            otel.kind = $kind,
            otel.status_code = tracing::field::Empty,
            gen_ai.operation.name = "execute_tool",
            gen_ai.tool.name = tracing::field::Empty,
            gen_ai.tool.call.id = tracing::field::Empty,
            gen_ai.tool.call.arguments = tracing::field::Empty,
            gen_ai.tool.call.result = tracing::field::Empty,
            error.type = tracing::field::Empty,
            toolgate.via = $via,
            toolgate.workflow = tracing::field::Empty,
            toolgate.agent = tracing::field::Empty,
            toolgate.origin = tracing::field::Empty,
            $($($extra)+)?
        )
    };
}

/// One call's span, from its front door through the pipeline.
#[derive(Debug, Clone)]
pub(crate) struct CallSpan(Span);

impl CallSpan {
    /// A call posted to `POST /v1/calls`: a server span that continues the
    /// caller's trace when the request carries a W3C `traceparent`.
    pub(crate) fn rest(headers: &HeaderMap) -> CallSpan {
        let span = call_span!("server", "rest");
        if !span.is_disabled()
            && let Some(parent) = remote_parent(headers)
        {
            // Fails only once the span has started, which it has not.
            let _ = span.set_parent(parent);
        }
        CallSpan(span)
    }

    /// A `tools/call` at `/mcp`: a server span (continuing the caller's
    /// trace, as for REST) with the MCP method and the session's hashed id
    /// (none in the stateless revision).
    pub(crate) fn mcp(
        headers: &HeaderMap,
        method: &'static str,
        session_sha256: Option<&str>,
    ) -> CallSpan {
        let span = call_span!(
            "server",
            "mcp",
            mcp.method.name = method,
            mcp.session.id = session_sha256
        );
        if !span.is_disabled()
            && let Some(parent) = remote_parent(headers)
        {
            let _ = span.set_parent(parent);
        }
        CallSpan(span)
    }

    /// A request that waited (an approved action, a retried dead letter),
    /// running now: an internal span under whatever span is current.
    pub(crate) fn replay(origin: &'static str) -> CallSpan {
        let span = call_span!("internal", "replay");
        span.record("toolgate.origin", origin);
        CallSpan(span)
    }

    pub(crate) fn span(&self) -> &Span {
        &self.0
    }

    /// The caller's call id, capped.
    pub(crate) fn call_id(&self, id: &str) {
        if !self.0.is_disabled() {
            self.0
                .record("gen_ai.tool.call.id", capped(id, MAX_CALL_ID));
        }
    }

    /// Who asks: config names only.
    pub(crate) fn caller(&self, agent: &str, workflow: &str) {
        self.0.record("toolgate.agent", agent);
        self.0.record("toolgate.workflow", workflow);
    }

    /// The tool, once resolved in the caller's workflow: a config name.
    pub(crate) fn tool(&self, name: &str) {
        if !self.0.is_disabled() {
            // The span has started by now: its name is set on the span itself.
            self.0
                .context()
                .span()
                .update_name(format!("execute_tool {name}"));
            self.0.record("gen_ai.tool.name", name);
        }
    }

    /// The validated arguments, redacted, when payloads are recorded.
    pub(crate) fn arguments(
        &self,
        record: RecordPayloads,
        redactor: &Redactor,
        tool: &ToolDef,
        args: &Value,
    ) {
        if record != RecordPayloads::Redacted || self.0.is_disabled() {
            return;
        }
        let mut copy = args.clone();
        redactor.redact_json(
            &mut copy,
            &JsonOptions {
                sensitive_pointers: tool.sensitive_args.clone(),
                pii: tool.pii,
            },
        );
        if let Ok(text) = serde_json::to_string(&copy) {
            self.0
                .record("gen_ai.tool.call.arguments", capped(&text, MAX_PAYLOAD));
        }
    }

    /// The result as the caller gets it (already redacted and shaped),
    /// when payloads are recorded.
    pub(crate) fn result(
        &self,
        record: RecordPayloads,
        redactor: &Redactor,
        result: &impl serde::Serialize,
    ) {
        if record != RecordPayloads::Redacted || self.0.is_disabled() {
            return;
        }
        if let Ok(text) = serde_json::to_string(result) {
            let (clean, _) = redactor.redact_str(&text);
            self.0
                .record("gen_ai.tool.call.result", capped(&clean, MAX_PAYLOAD));
        }
    }

    /// How the call ended: `None` when it succeeded (or is held), else the
    /// error code the caller got.
    pub(crate) fn ended(&self, error: Option<&'static str>) {
        if let Some(code) = error {
            failed(&self.0, code);
        }
    }
}

/// A stage of the pipeline, under the current span.
pub(crate) fn stage(name: &'static str) -> Span {
    tracing::info_span!(target: TARGET, "stage", otel.name = name)
}

/// The request to the upstream: a client span with the HTTP semantic
/// conventions. `url.full` (without its query, which may hold a credential)
/// is recorded only when the path holds no argument, or payloads are recorded.
pub(crate) fn upstream(
    tool: &ToolDef,
    url: &url::Url,
    method: &str,
    record: RecordPayloads,
) -> Span {
    let span = tracing::info_span!(
        target: TARGET,
        "upstream",
        otel.name = method,
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        http.request.method = method,
        server.address = url.host_str().unwrap_or_default(),
        server.port = url.port_or_known_default().map(i64::from),
        url.full = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
    );
    if !span.is_disabled()
        && (tool.upstream.url.params().is_empty() || record == RecordPayloads::Redacted)
    {
        let mut bare = url.clone();
        bare.set_query(None);
        bare.set_fragment(None);
        span.record("url.full", bare.as_str());
    }
    span
}

/// The upstream's status on its client span; 4xx and 5xx mark it failed.
pub(crate) fn upstream_status(span: &Span, status: u16) {
    span.record("http.response.status_code", i64::from(status));
    if status >= 400 {
        span.record("error.type", status.to_string());
        span.record("otel.status_code", "ERROR");
    }
}

/// A span that ended with this error code.
pub(crate) fn failed(span: &Span, code: &str) {
    span.record("error.type", code);
    span.record("otel.status_code", "ERROR");
}

/// The W3C `traceparent` of `span`, when it is exported and sampled.
pub(crate) fn traceparent(span: &Span) -> Option<http::HeaderValue> {
    if span.is_disabled() {
        return None;
    }
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    if !sc.is_valid() {
        return None;
    }
    let value = format!(
        "00-{}-{}-{:02x}",
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags().to_u8()
    );
    http::HeaderValue::from_str(&value).ok()
}

/// The caller's trace, from its `traceparent` (and `tracestate`); `None`
/// when absent or malformed.
fn remote_parent(headers: &HeaderMap) -> Option<opentelemetry::Context> {
    headers.get("traceparent")?;
    let cx = TraceContextPropagator::new().extract(&Headers(headers));
    cx.span().span_context().is_valid().then_some(cx)
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn capped(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
