//! Quoted-printable (RFC 2045): `=XX` in either hex case, and soft line
//! breaks (`=` at a line's end, before `\r\n` or `\n`), which stand for
//! nothing. An `=` followed by anything else is left as it is.

use super::{Out, View, hex_val};

pub(super) fn decode(src: &[u8]) -> Option<View> {
    let mut out = Out::new(src.len());
    let (mut i, mut lit) = (0, 0);
    while let Some(k) = memchr::memchr(b'=', &src[i..]) {
        let at = i + k;
        let next = src.get(at + 1).copied();
        let soft = match (next, src.get(at + 2)) {
            (Some(b'\n'), _) => Some(2),
            (Some(b'\r'), Some(b'\n')) => Some(3),
            _ => None,
        };
        if let Some(len) = soft {
            // Nothing in the view: the bytes on either side meet.
            out.literal(src, lit, at);
            out.skipped(at);
            i = at + len;
            lit = i;
            continue;
        }
        match (
            next.and_then(hex_val),
            src.get(at + 2).copied().and_then(hex_val),
        ) {
            (Some(h), Some(l)) => {
                out.literal(src, lit, at);
                out.decoded(&[h << 4 | l], at);
                i = at + 3;
                lit = i;
            }
            _ => i = at + 1,
        }
    }
    out.literal(src, lit, src.len());
    out.finish(src.len())
}

/// Whether `text` holds a quoted-printable escape or soft line break.
pub(super) fn present(text: &[u8]) -> bool {
    memchr::memchr_iter(b'=', text).any(|at| match text.get(at + 1) {
        Some(b'\n') => true,
        Some(b'\r') => text.get(at + 2) == Some(&b'\n'),
        Some(&h) => hex_val(h).is_some() && text.get(at + 2).copied().and_then(hex_val).is_some(),
        None => false,
    })
}
