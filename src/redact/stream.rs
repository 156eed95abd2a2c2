//! Streaming redaction: a secret split across chunks is still caught.
//!
//! The last `window` bytes seen are held back — the longest known pattern,
//! and at least 4 KiB for token shapes — and only text that no match can
//! still reach is emitted: if a match crosses the boundary, emission stops
//! before it. Nothing unredacted leaves before the window past it was seen.
//! (A token shape longer than the window, such as a very large PEM block,
//! is only caught whole when it arrives within one window.)

use std::sync::Arc;

use super::Redactor;

const MIN_WINDOW: usize = 4096;

pub struct StreamRedactor {
    redactor: Arc<Redactor>,
    pending: Vec<u8>,
    window: usize,
    count: usize,
}

impl StreamRedactor {
    pub(super) fn new(redactor: Arc<Redactor>) -> Self {
        let window = redactor.longest_pattern().max(MIN_WINDOW);
        StreamRedactor {
            redactor,
            pending: Vec::new(),
            window,
            count: 0,
        }
    }

    /// Feed a chunk; get back the bytes that are safe to emit now.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(chunk);
        if self.pending.len() <= self.window {
            return Vec::new();
        }
        let cut = self.pending.len() - self.window;
        let spans = self.redactor.spans(&self.pending, false);
        let end = spans
            .iter()
            .find(|&&(s, e, _)| s < cut && e > cut)
            .map_or(cut, |&(s, _, _)| s);
        let settled: Vec<_> = spans.into_iter().filter(|&(_, e, _)| e <= end).collect();
        self.count += settled.len();
        let out = self.redactor.apply(&self.pending[..end], &settled);
        self.pending.drain(..end);
        out
    }

    /// The rest, at the end of the stream, and how many redactions were made in all.
    pub fn finish(mut self) -> (Vec<u8>, usize) {
        let (out, n) = self.redactor.redact_bytes(&self.pending);
        self.count += n;
        (out.into_owned(), self.count)
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
