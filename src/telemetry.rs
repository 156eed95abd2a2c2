//! Logging: structured `tracing` output written through the redactor, so a
//! stray `debug!` of a header or an error cannot leak a loaded secret.

use std::io::{self, IsTerminal, Write};
use std::sync::Arc;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::redact::SharedRedactor;

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

/// Install the global subscriber: `RUST_LOG` filters (default `info`), JSON lines
/// when `TOOLGATE_LOG_FORMAT=json`, and every line scrubbed.
pub fn init(redactor: Arc<SharedRedactor>, json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let writer = RedactingWriter::new(io::stderr, redactor);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(io::stderr().is_terminal())
        .with_target(false);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::redact::RedactorBuilder;

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
}
