//! UTF-16 and UTF-32 bodies (either byte order): told by a byte-order
//! mark, by a `charset=utf-16…`/`utf-32…` content type, or by the NUL
//! pattern ASCII-range text has in them (every other byte NUL, or three
//! in four). The body is decoded into a UTF-8 view — a run of ASCII-range
//! units as one piece (one byte for two or four), any other character as
//! one escape — and what is replaced there is replaced in whole code
//! units, with the marker written in the body's own encoding.

use super::{Out, View};

/// A wide encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wide {
    Utf16Le,
    Utf16Be,
    Utf32Le,
    Utf32Be,
}

/// How many bytes of the start of a body the NUL pattern is looked for in.
const SNIFF: usize = 4096;

impl Wide {
    /// Bytes per code unit.
    pub(crate) fn unit(self) -> usize {
        match self {
            Wide::Utf16Le | Wide::Utf16Be => 2,
            Wide::Utf32Le | Wide::Utf32Be => 4,
        }
    }

    /// The encoding of `body`: its byte-order mark, else the `charset` of
    /// its content type (if wide), else the NUL pattern; `None` if none of
    /// them says it is wide.
    pub(crate) fn detect(body: &[u8], content_type: Option<&str>) -> Option<Wide> {
        let bom = match body {
            [0xFF, 0xFE, 0, 0, ..] => Some(Wide::Utf32Le),
            [0, 0, 0xFE, 0xFF, ..] => Some(Wide::Utf32Be),
            [0xFF, 0xFE, ..] => Some(Wide::Utf16Le),
            [0xFE, 0xFF, ..] => Some(Wide::Utf16Be),
            _ => None,
        };
        bom.or_else(|| {
            let declared = content_type.and_then(charset)?;
            match declared.as_str() {
                "utf-16le" => Some(Wide::Utf16Le),
                "utf-16be" => Some(Wide::Utf16Be),
                "utf-32le" => Some(Wide::Utf32Le),
                "utf-32be" => Some(Wide::Utf32Be),
                // No order given and no mark: the NUL pattern says which,
                // else big-endian (RFC 2781).
                "utf-16" | "ucs-2" | "iso-10646-ucs-2" => Some(
                    sniff(body)
                        .filter(|w| w.unit() == 2)
                        .unwrap_or(Wide::Utf16Be),
                ),
                "utf-32" | "ucs-4" | "iso-10646-ucs-4" => Some(
                    sniff(body)
                        .filter(|w| w.unit() == 4)
                        .unwrap_or(Wide::Utf32Be),
                ),
                _ => None,
            }
        })
        .or_else(|| sniff(body))
    }

    /// The code unit at `at` (which has `unit()` bytes).
    fn read(self, b: &[u8], at: usize) -> u32 {
        match self {
            Wide::Utf16Le => u32::from(u16::from_le_bytes([b[at], b[at + 1]])),
            Wide::Utf16Be => u32::from(u16::from_be_bytes([b[at], b[at + 1]])),
            Wide::Utf32Le => u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]),
            Wide::Utf32Be => u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]),
        }
    }

    /// `s` in this encoding.
    pub(crate) fn encode(self, s: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(s.len() * self.unit());
        match self {
            Wide::Utf16Le => s
                .encode_utf16()
                .for_each(|u| out.extend_from_slice(&u.to_le_bytes())),
            Wide::Utf16Be => s
                .encode_utf16()
                .for_each(|u| out.extend_from_slice(&u.to_be_bytes())),
            Wide::Utf32Le => s
                .chars()
                .for_each(|c| out.extend_from_slice(&u32::from(c).to_le_bytes())),
            Wide::Utf32Be => s
                .chars()
                .for_each(|c| out.extend_from_slice(&u32::from(c).to_be_bytes())),
        }
        out
    }

    /// `src` decoded: whole code units only (a last partial unit is left
    /// out); a unit that is no character (a lone surrogate, a value past
    /// U+10FFFF) becomes U+FFFD.
    pub(crate) fn decode(self, src: &[u8]) -> View {
        let unit = self.unit();
        let units = src.len() / unit;
        let mut out = Out::new(src.len() / unit);
        let mut ascii_run = false;
        let mut k = 0;
        while k < units {
            let at = k * unit;
            let u = self.read(src, at);
            if u < 0x80 {
                let b = [u as u8];
                if ascii_run {
                    out.more(&b);
                } else {
                    out.units(&b, at, unit as u8, 1);
                    ascii_run = true;
                }
                k += 1;
                continue;
            }
            ascii_run = false;
            let (c, used) = match (self, u) {
                (Wide::Utf16Le | Wide::Utf16Be, 0xD800..=0xDBFF) if k + 1 < units => {
                    let low = self.read(src, at + 2);
                    if (0xDC00..=0xDFFF).contains(&low) {
                        let c = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
                        (char::from_u32(c), 2)
                    } else {
                        (None, 1)
                    }
                }
                _ => (char::from_u32(u), 1),
            };
            out.char(c.unwrap_or('\u{FFFD}'), at);
            k += used;
        }
        // A view even if nothing needed decoding: its text is the body's.
        out.decoded = true;
        out.finish(src.len()).expect("marked decoded")
    }
}

/// The `charset` parameter of a content type, lower-cased, unquoted.
fn charset(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_ascii_lowercase())
    })
}

/// The wide encoding the NUL pattern of the start of `body` shows: nine in
/// ten of its units (of at least four) an ASCII-range character (not NUL)
/// written wide.
fn sniff(body: &[u8]) -> Option<Wide> {
    let head = &body[..body.len().min(SNIFF)];
    let share = |unit: usize, ok: &dyn Fn(&[u8]) -> bool| {
        let units = head.len() / unit;
        units >= 4 && head.chunks_exact(unit).filter(|u| ok(u)).count() * 10 >= units * 9
    };
    [
        (
            Wide::Utf32Le,
            4,
            &(|u: &[u8]| u[0] != 0 && u[1..] == [0, 0, 0]) as &dyn Fn(&[u8]) -> bool,
        ),
        (Wide::Utf32Be, 4, &|u: &[u8]| {
            u[..3] == [0, 0, 0] && u[3] != 0
        }),
        (Wide::Utf16Le, 2, &|u: &[u8]| u[0] != 0 && u[1] == 0),
        (Wide::Utf16Be, 2, &|u: &[u8]| u[0] == 0 && u[1] != 0),
    ]
    .into_iter()
    .find(|(_, unit, ok)| share(*unit, ok))
    .map(|(w, _, _)| w)
}
