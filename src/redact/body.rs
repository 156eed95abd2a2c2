//! Bodies as they come off the wire: a UTF-16 or UTF-32 body (told by its
//! byte-order mark, its content type's `charset`, or the NUL pattern of
//! ASCII-range text in it) is decoded into a UTF-8 view and redacted there
//! as any text is — known values, their decoded forms, token shapes — and
//! each span is replaced in the body in whole code units, the marker
//! written in the body's encoding, so the body stays valid UTF-16/32.

use std::borrow::Cow;

use super::decode::Wide;
use super::{Redactions, Redactor, Span};

impl Redactor {
    /// Redact a body in its own encoding; `content_type` as the upstream
    /// declared it, if it did.
    pub fn redact_body<'a>(
        &self,
        body: &'a [u8],
        content_type: Option<&str>,
    ) -> (Cow<'a, [u8]>, usize) {
        let (out, n) = self.redact_body_counted(body, content_type);
        (out, n.total())
    }

    /// [`Redactor::redact_body`], counting by kind.
    pub(crate) fn redact_body_counted<'a>(
        &self,
        body: &'a [u8],
        content_type: Option<&str>,
    ) -> (Cow<'a, [u8]>, Redactions) {
        let Some(wide) = Wide::detect(body, content_type) else {
            return self.redact_bytes_counted(body);
        };
        let spans = self.wide_spans(body, wide);
        if spans.is_empty() {
            return (Cow::Borrowed(body), Redactions::default());
        }
        (
            Cow::Owned(self.apply_in(body, &spans, Some(wide))),
            self.kinds(&spans),
        )
    }

    /// The spans of a wide text, found in its UTF-8 view, as whole code
    /// units of it.
    pub(super) fn wide_spans(&self, text: &[u8], wide: Wide) -> Vec<Span> {
        let view = wide.decode(text);
        let found = self.spans(&view.text, false);
        let mut spans: Vec<Span> = Vec::with_capacity(found.len());
        for (a, b, m) in found {
            let (a, b) = view.source(a, b);
            match spans.last_mut() {
                // Two spans that end and start inside one character meet.
                Some(last) if a < last.1 => last.1 = last.1.max(b),
                _ => spans.push((a, b, m)),
            }
        }
        spans
    }

    /// `text` with `spans` replaced by their markers, written in `wide`
    /// when the text is wide.
    pub(super) fn apply_in(&self, text: &[u8], spans: &[Span], wide: Option<Wide>) -> Vec<u8> {
        let Some(wide) = wide else {
            return self.apply(text, spans);
        };
        let mut out = Vec::with_capacity(text.len());
        let mut last = 0;
        for &(s, e, m) in spans {
            out.extend_from_slice(&text[last..s]);
            out.extend_from_slice(&wide.encode(&self.marker(m)));
            last = e;
        }
        out.extend_from_slice(&text[last..]);
        out
    }
}

/// A body as text for the caller: a UTF-16 or UTF-32 body decoded to UTF-8
/// (its byte-order mark dropped, a unit that is no character as U+FFFD),
/// any other body as it is.
pub(crate) fn body_text<'a>(body: &'a [u8], content_type: Option<&str>) -> Cow<'a, [u8]> {
    match Wide::detect(body, content_type) {
        Some(wide) => {
            let mut text = wide.decode(body).text;
            if text.starts_with("\u{FEFF}".as_bytes()) {
                text.drain(..3);
            }
            Cow::Owned(text)
        }
        None => Cow::Borrowed(body),
    }
}
