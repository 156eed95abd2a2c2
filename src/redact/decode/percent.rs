//! Percent-escapes (`%2B`, `%2b`) in any mix with unescaped bytes, and
//! optionally `+` as a space (form encoding).

use super::{Out, View, hex_val};

pub(super) fn decode(src: &[u8], plus: bool) -> Option<View> {
    let mut out = Out::new(src.len());
    let (mut i, mut lit) = (0, 0);
    while i < src.len() {
        let found = if plus {
            memchr::memchr2(b'%', b'+', &src[i..])
        } else {
            memchr::memchr(b'%', &src[i..])
        };
        let Some(k) = found else { break };
        let at = i + k;
        if src[at] == b'+' {
            out.literal(src, lit, at);
            out.decoded(b" ", at);
            i = at + 1;
            lit = i;
            continue;
        }
        match (
            src.get(at + 1).copied().and_then(hex_val),
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
