//! JSON string escapes wherever they stand (NDJSON, server-sent events, a
//! JSON text with a lone surrogate, a log line): `\"`, `\\`, `\/`, the
//! control escapes and `\uXXXX`, a surrogate pair as one character. A lone
//! surrogate is left as it is written.

use super::{Out, View, hex_val};

/// The code unit of `\uXXXX` at `at`.
fn unit(src: &[u8], at: usize) -> Option<u32> {
    if src.get(at) != Some(&b'\\') || src.get(at + 1) != Some(&b'u') {
        return None;
    }
    let mut v = 0u32;
    for k in 0..4 {
        v = v << 4 | u32::from(hex_val(*src.get(at + 2 + k)?)?);
    }
    Some(v)
}

pub(super) fn decode(src: &[u8]) -> Option<View> {
    let mut out = Out::new(src.len());
    let (mut i, mut lit) = (0, 0);
    while let Some(k) = memchr::memchr(b'\\', &src[i..]) {
        let at = i + k;
        let simple = match src.get(at + 1) {
            Some(b'"') => Some(b'"'),
            Some(b'\\') => Some(b'\\'),
            Some(b'/') => Some(b'/'),
            Some(b'b') => Some(8),
            Some(b'f') => Some(12),
            Some(b'n') => Some(b'\n'),
            Some(b'r') => Some(b'\r'),
            Some(b't') => Some(b'\t'),
            _ => None,
        };
        if let Some(b) = simple {
            out.literal(src, lit, at);
            out.decoded(&[b], at);
            i = at + 2;
            lit = i;
            continue;
        }
        let decoded = unit(src, at).and_then(|u| match u {
            0xD800..=0xDBFF => {
                let low = unit(src, at + 6).filter(|l| (0xDC00..=0xDFFF).contains(l))?;
                let c = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
                char::from_u32(c).map(|c| (c, 12))
            }
            _ => char::from_u32(u).map(|c| (c, 6)),
        });
        match decoded {
            Some((c, len)) => {
                out.literal(src, lit, at);
                out.char(c, at);
                i = at + len;
                lit = i;
            }
            None => i = at + 1,
        }
    }
    out.literal(src, lit, src.len());
    out.finish(src.len())
}
