//! Streaming redaction: a secret split across chunks is still caught.
//!
//! The last `window` bytes seen are held back — the longest known pattern
//! or encoded form of a value ([`Redactor::longest_pattern`]),
//! and at least 4 KiB for token shapes — and only text that no match can
//! still reach is emitted: if a match crosses the boundary, emission stops
//! before it. Nothing unredacted leaves before the window past it was seen.
//! (A token shape longer than the window, such as a very large PEM block,
//! is only caught whole when it arrives within one window.)
//!
//! The last [`MIN_WINDOW`] bytes already emitted are kept as context and
//! searched again with what follows: a token shape found by what stands
//! before it (the value after `password=`) is caught however the chunks
//! fall, though its keyword has left.
//!
//! A UTF-16 or UTF-32 stream (by its mark, the content type given, or the
//! NUL pattern of its first 4 KiB, looked at before anything is emitted)
//! is redacted as a wide body is ([`Redactor::redact_body`]): the windows
//! count in characters, cuts fall between whole code units, and markers
//! are written in the stream's encoding.

use std::sync::Arc;

use super::decode::Wide;
use super::{Redactor, Span};

const MIN_WINDOW: usize = 4096;

pub struct StreamRedactor {
    redactor: Arc<Redactor>,
    /// `context` bytes already emitted, then the bytes not yet emitted.
    pending: Vec<u8>,
    context: usize,
    window: usize,
    count: usize,
    /// The content type the stream was declared with, if any.
    content_type: Option<String>,
    /// Once decided (before the first byte leaves): wide or not.
    wide: Option<Option<Wide>>,
}

impl StreamRedactor {
    pub(super) fn new(redactor: Arc<Redactor>, content_type: Option<&str>) -> Self {
        let window = redactor.longest_pattern().max(MIN_WINDOW);
        StreamRedactor {
            redactor,
            pending: Vec::new(),
            context: 0,
            window,
            count: 0,
            content_type: content_type.map(str::to_owned),
            wide: None,
        }
    }

    /// The stream's encoding, decided on what has come so far (the first
    /// time, before anything is emitted, so `pending` starts the stream).
    fn wide(&mut self) -> Option<Wide> {
        if self.wide.is_none() {
            self.wide = Some(Wide::detect(&self.pending, self.content_type.as_deref()));
        }
        self.wide.flatten()
    }

    /// Bytes per code unit.
    fn unit(&self) -> usize {
        self.wide.flatten().map_or(1, Wide::unit)
    }

    /// Feed a chunk; get back the bytes that are safe to emit now.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(chunk);
        // Decided only once a full window has come (at least 4 KiB).
        let unit = if self.wide.is_some() { self.unit() } else { 4 };
        let window = self.window * unit;
        if self.pending.len() - self.context <= window {
            return Vec::new();
        }
        self.wide();
        let (unit, window) = (self.unit(), self.window * self.unit());
        let cut = (self.pending.len() - window) / unit * unit;
        let spans = self.spans();
        let end = spans
            .iter()
            .find(|&&(s, e, _)| s < cut && e > cut)
            .map_or(cut, |&(s, _, _)| s);
        let settled: Vec<_> = spans.into_iter().filter(|&(_, e, _)| e <= end).collect();
        self.count += settled.len();
        let out = self.emit(end, &settled);
        // Keep the context for the next search (whole code units).
        let keep_from = end.saturating_sub(MIN_WINDOW * unit) / unit * unit;
        self.pending.drain(..keep_from);
        self.context = end - keep_from;
        out
    }

    /// The rest, at the end of the stream, and how many redactions were made in all.
    pub fn finish(mut self) -> (Vec<u8>, usize) {
        self.wide();
        let spans = self.spans();
        self.count += spans.len();
        let out = self.emit(self.pending.len(), &spans);
        (out, self.count)
    }

    /// The spans over the context and what follows it that reach past the
    /// context, cut to start where it ends (what is before was emitted).
    fn spans(&self) -> Vec<Span> {
        let context = self.context;
        let mut spans = match self.wide.flatten() {
            Some(w) => self.redactor.wide_spans(&self.pending, w),
            None => self.redactor.spans(&self.pending, false),
        };
        spans.retain(|&(_, e, _)| e > context);
        for s in &mut spans {
            s.0 = s.0.max(context);
        }
        spans
    }

    /// The redacted bytes from the end of the context up to `end`, with
    /// `spans` (offsets into `pending`) replaced.
    fn emit(&self, end: usize, spans: &[Span]) -> Vec<u8> {
        let context = self.context;
        let shifted: Vec<_> = spans
            .iter()
            .map(|&(s, e, m)| (s - context, e - context, m))
            .collect();
        self.redactor
            .apply_in(&self.pending[context..end], &shifted, self.wide.flatten())
    }

    pub fn count(&self) -> usize {
        self.count
    }
}

impl std::fmt::Debug for StreamRedactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only the type: it holds text not yet redacted.
        f.debug_struct("StreamRedactor").finish_non_exhaustive()
    }
}
