//! Logging and traces: structured `tracing` output written through the
//! redactor, so a stray `debug!` of a header or an error cannot leak a loaded
//! secret; and, when an OTLP endpoint is configured, the spans of a call
//! (`spans`) exported through the same redactor (`scrub`, `otlp`).

mod otlp;
mod scrub;
pub(crate) mod spans;

use std::io::{self, IsTerminal, Write};
use std::sync::Arc;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::redact::SharedRedactor;
pub use otlp::{Resolved, Traces, resolve};

/// A `MakeWriter` whose every line passes the current redactor.
#[derive(Clone)]
pub(crate) struct RedactingWriter<M> {
    inner: M,
    redactor: Arc<SharedRedactor>,
}

impl<M> RedactingWriter<M> {
    pub(crate) fn new(inner: M, redactor: Arc<SharedRedactor>) -> Self {
        RedactingWriter { inner, redactor }
    }
}

/// Buffers one event, scrubs it, and writes it whole on drop.
pub(crate) struct LineWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
    redactor: Arc<SharedRedactor>,
}

impl<W: Write> Write for LineWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for LineWriter<W> {
    fn drop(&mut self) {
        let r = self.redactor.load();
        let (clean, _) = r.redact_bytes(&self.buf);
        let _ = self.inner.write_all(&clean);
        let _ = self.inner.flush();
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for RedactingWriter<M> {
    type Writer = LineWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            inner: self.inner.make_writer(),
            buf: Vec::with_capacity(256),
            redactor: self.redactor.clone(),
        }
    }
}

/// Install the global subscriber: `RUST_LOG` filters the log (default
/// `info`), JSON lines when `TOOLGATE_LOG_FORMAT=json`, and every line
/// scrubbed; with `traces`, toolgate's spans are exported too (the log never
/// shows them).
pub fn init(redactor: Arc<SharedRedactor>, json: bool, traces: Option<&Traces>) {
    let _ = subscriber(redactor, json, traces).try_init();
}

fn subscriber(
    redactor: Arc<SharedRedactor>,
    json: bool,
    traces: Option<&Traces>,
) -> impl tracing::Subscriber + Send + Sync + 'static {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive(
            format!("{}=off", spans::TARGET)
                .parse()
                .expect("a constant directive parses"),
        );
    let writer = RedactingWriter::new(io::stderr, redactor);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(io::stderr().is_terminal())
        .with_target(false);
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = if json {
        fmt.json().flatten_event(true).boxed()
    } else {
        fmt.boxed()
    };
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(
            traces
                .map(Traces::layer)
                .with_filter(otlp::only_traced(traces.is_some())),
        )
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::redact::{Redactor, RedactorBuilder};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn log_lines_are_scrubbed() {
        let secret = "tok-9f8e7d6c+/=&%\"\\-end";
        let shared = Arc::new(SharedRedactor::new(
            RedactorBuilder::new().known_secret("crm", secret).build(),
        ));
        let capture = Capture::default();
        let sink = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(RedactingWriter::new(move || sink.clone(), shared))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(authorization = %format!("Bearer {secret}"), "stray header dump");
            tracing::trace!(?secret, "debug formatting");
        });
        let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        assert!(out.contains("stray header dump"));
        assert!(out.contains("[REDACTED:credential:crm]"));
        assert!(!out.contains("tok-9f8e7d6c"), "a secret reached the log");
    }

    #[test]
    fn without_an_exporter_call_spans_are_disabled_and_never_logged() {
        let shared = Arc::new(SharedRedactor::new(Redactor::empty()));
        tracing::subscriber::with_default(subscriber(shared, false, None), || {
            let mut headers = http::HeaderMap::new();
            headers.insert(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                    .parse()
                    .unwrap(),
            );
            let call = spans::CallSpan::rest(&headers);
            assert!(call.span().is_disabled());
            assert!(spans::stage("validate").is_disabled());
            assert!(spans::traceparent(call.span()).is_none());
            // The log's own spans are untouched.
            assert!(!tracing::info_span!("request").is_disabled());
        });
    }
}
