//! Every span passes the redactor before it leaves the process, as every
//! log line does.
//!
//! [`Scrubbing`] wraps the OTLP exporter: each span's name, every string
//! (and string list) attribute — on the span, its events and its links —,
//! event names, the status description and the `tracestate` are scrubbed
//! with the redactor current at export time. It fails closed: a span holding
//! a value it cannot scrub (a kind of value it does not know), or whose
//! scrubbed `tracestate` no longer parses, is dropped, never sent as it was;
//! a batch whose scrubbing panicked is dropped whole.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry::trace::{SpanContext, Status, TraceState};
use opentelemetry::{Array, Key, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::redact::{Redactor, SharedRedactor};

/// A span exporter that scrubs every span before `inner` sees it.
#[derive(Debug)]
pub(crate) struct Scrubbing<E> {
    inner: E,
    redactor: Arc<SharedRedactor>,
    dropped: Arc<AtomicU64>,
}

impl<E> Scrubbing<E> {
    pub(crate) fn new(inner: E, redactor: Arc<SharedRedactor>) -> Self {
        Scrubbing {
            inner,
            redactor,
            dropped: Arc::default(),
        }
    }
}

impl<E: SpanExporter> SpanExporter for Scrubbing<E> {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        let redactor = self.redactor.load();
        let total = batch.len();
        let clean: Vec<SpanData> =
            catch_unwind(AssertUnwindSafe(|| scrub_batch(&redactor, batch))).unwrap_or_default();
        let dropped = total - clean.len();
        if dropped > 0 {
            let before = self.dropped.fetch_add(dropped as u64, Ordering::Relaxed);
            // Once, and then every thousand: the log is not flooded.
            if before == 0 || (before + dropped as u64) / 1000 > before / 1000 {
                tracing::warn!(
                    dropped,
                    total_dropped = before + dropped as u64,
                    "spans dropped: they could not be scrubbed"
                );
            }
        }
        self.inner.export(clean)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        let redactor = self.redactor.load();
        let attrs: Option<Vec<KeyValue>> = resource
            .iter()
            .map(|(k, v)| scrub_kv(&redactor, KeyValue::new(k.clone(), v.clone())))
            .collect();
        // A resource that cannot be scrubbed is sent empty, not as it was.
        let builder = Resource::builder_empty().with_attributes(attrs.unwrap_or_default());
        let scrubbed = match resource.schema_url() {
            Some(url) => builder
                .with_schema_url(Vec::new(), redactor.redact_str(url).0.into_owned())
                .build(),
            None => builder.build(),
        };
        self.inner.set_resource(&scrubbed);
    }
}

fn scrub_batch(redactor: &Redactor, batch: Vec<SpanData>) -> Vec<SpanData> {
    batch
        .into_iter()
        .filter_map(|span| scrub_span(redactor, span))
        .collect()
}

/// The span with everything it says scrubbed; `None`: drop it.
pub(crate) fn scrub_span(r: &Redactor, mut span: SpanData) -> Option<SpanData> {
    span.name = scrub_cow(r, span.name);
    span.span_context = scrub_context(r, &span.span_context)?;
    span.attributes = scrub_kvs(r, span.attributes)?;
    for event in &mut span.events.events {
        event.name = scrub_cow(r, std::mem::take(&mut event.name));
        event.attributes = scrub_kvs(r, std::mem::take(&mut event.attributes))?;
    }
    for link in &mut span.links.links {
        link.span_context = scrub_context(r, &link.span_context)?;
        link.attributes = scrub_kvs(r, std::mem::take(&mut link.attributes))?;
    }
    if let Status::Error { description } = &mut span.status {
        *description = scrub_cow(r, std::mem::take(description));
    }
    Some(span)
}

fn scrub_cow(r: &Redactor, text: Cow<'static, str>) -> Cow<'static, str> {
    match r.redact_str(&text).0 {
        Cow::Borrowed(_) => text,
        Cow::Owned(clean) => Cow::Owned(clean),
    }
}

fn scrub_string(r: &Redactor, s: StringValue) -> StringValue {
    match r.redact_str(s.as_str()).0 {
        Cow::Borrowed(_) => s,
        Cow::Owned(clean) => StringValue::from(clean),
    }
}

fn scrub_kvs(r: &Redactor, kvs: Vec<KeyValue>) -> Option<Vec<KeyValue>> {
    kvs.into_iter().map(|kv| scrub_kv(r, kv)).collect()
}

fn scrub_kv(r: &Redactor, kv: KeyValue) -> Option<KeyValue> {
    let key = match r.redact_str(kv.key.as_str()).0 {
        Cow::Borrowed(_) => kv.key,
        Cow::Owned(clean) => Key::from(clean),
    };
    let value = match kv.value {
        v @ (Value::Bool(_) | Value::I64(_) | Value::F64(_)) => v,
        Value::String(s) => Value::String(scrub_string(r, s)),
        Value::Array(Array::String(list)) => Value::Array(Array::String(
            list.into_iter().map(|s| scrub_string(r, s)).collect(),
        )),
        Value::Array(a @ (Array::Bool(_) | Array::I64(_) | Array::F64(_))) => Value::Array(a),
        // A kind of value this does not know how to scrub.
        _ => return None,
    };
    Some(KeyValue::new(key, value))
}

/// The context with its `tracestate` (the caller's text) scrubbed.
fn scrub_context(r: &Redactor, sc: &SpanContext) -> Option<SpanContext> {
    let header = sc.trace_state().header();
    let clean = r.redact_str(&header).0;
    if matches!(clean, Cow::Borrowed(_)) {
        return Some(sc.clone());
    }
    let state: TraceState = clean.parse().ok()?;
    Some(SpanContext::new(
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags(),
        sc.is_remote(),
        state,
    ))
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use opentelemetry::InstrumentationScope;
    use opentelemetry::trace::{Event, SpanId, SpanKind, TraceFlags, TraceId};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    use super::*;
    use crate::redact::RedactorBuilder;

    const SECRET: &str = "tok-9f8e7d6c+/=&%\"\\-end";

    fn span(name: &str, attributes: Vec<KeyValue>, state: &str) -> SpanData {
        let mut events = SpanEvents::default();
        events.events.push(Event::new(
            format!("saw {SECRET}"),
            SystemTime::now(),
            vec![KeyValue::new("detail", format!("Bearer {SECRET}"))],
            0,
        ));
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(7),
                SpanId::from(9),
                TraceFlags::SAMPLED,
                false,
                state.parse().unwrap(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: name.to_owned().into(),
            start_time: SystemTime::now(),
            end_time: SystemTime::now(),
            attributes,
            dropped_attributes_count: 0,
            events,
            links: SpanLinks::default(),
            status: Status::error(format!("upstream said {SECRET}")),
            instrumentation_scope: InstrumentationScope::builder("toolgate").build(),
        }
    }

    fn redactor() -> Redactor {
        RedactorBuilder::new().known_secret("crm", SECRET).build()
    }

    #[test]
    fn every_string_of_a_span_is_scrubbed() {
        let attrs = vec![
            KeyValue::new("a", SECRET),
            KeyValue::new(
                "list",
                Value::Array(Array::String(vec![StringValue::from(SECRET.to_owned())])),
            ),
            KeyValue::new("n", 3),
        ];
        let clean = scrub_span(&redactor(), span(&format!("call {SECRET}"), attrs, "k=v")).unwrap();
        let shown = format!("{clean:?}");
        assert!(!shown.contains("tok-9f8e7d6c"), "{shown}");
        assert!(shown.contains("[REDACTED:credential:crm]"), "{shown}");
        assert_eq!(clean.attributes[2], KeyValue::new("n", 3));
    }

    #[test]
    fn a_tracestate_that_cannot_be_rebuilt_drops_the_span() {
        // A known value inside the caller's tracestate: scrubbed, the list
        // no longer parses (the marker holds characters it cannot), so the
        // span is dropped.
        let r = RedactorBuilder::new()
            .known_secret("crm", "abcdef0123456789zz")
            .build();
        let s = span("x", vec![], "k=abcdef0123456789zz");
        match scrub_span(&r, s) {
            None => {}
            Some(kept) => assert!(
                !kept
                    .span_context
                    .trace_state()
                    .header()
                    .contains("abcdef0123456789zz"),
                "the tracestate kept the secret"
            ),
        }
    }
}
