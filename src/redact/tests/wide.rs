//! UTF-16 and UTF-32 bodies: a secret (in any of the nested forms of
//! `decoding`) in a wide body is found, whether the body is told by its
//! mark, its charset or its NUL pattern; the span is replaced in whole code
//! units with the marker in the body's encoding, so the body still decodes;
//! a stream split anywhere (mid code unit too) gives the same bytes.

use std::sync::Arc;

use proptest::prelude::*;

use super::decoding::{MARKER, SECRET_CHARS, encoded, layer, redactor};
use crate::redact::decode::Wide;

const ALL: [Wide; 4] = [Wide::Utf16Le, Wide::Utf16Be, Wide::Utf32Le, Wide::Utf32Be];

/// A wide body back to text, failing on anything that is not whole,
/// valid code units.
fn text_of(w: Wide, body: &[u8]) -> Result<String, String> {
    let unit = w.unit();
    if !body.len().is_multiple_of(unit) {
        return Err(format!("{} bytes, not whole units", body.len()));
    }
    let units = body.chunks_exact(unit).map(|u| match (w, u) {
        (Wide::Utf16Le, [a, b]) => u32::from(u16::from_le_bytes([*a, *b])),
        (Wide::Utf16Be, [a, b]) => u32::from(u16::from_be_bytes([*a, *b])),
        (Wide::Utf32Le, [a, b, c, d]) => u32::from_le_bytes([*a, *b, *c, *d]),
        (_, [a, b, c, d]) => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => u32::MAX,
    });
    if unit == 2 {
        let units: Vec<u16> = units.map(|u| u as u16).collect();
        String::from_utf16(&units).map_err(|e| e.to_string())
    } else {
        units
            .map(|u| char::from_u32(u).ok_or(format!("{u:#x} is no character")))
            .collect()
    }
}

fn bom(w: Wide) -> &'static [u8] {
    match w {
        Wide::Utf16Le => &[0xFF, 0xFE],
        Wide::Utf16Be => &[0xFE, 0xFF],
        Wide::Utf32Le => &[0xFF, 0xFE, 0, 0],
        Wide::Utf32Be => &[0, 0, 0xFE, 0xFF],
    }
}

#[test]
fn a_secret_in_a_wide_body_is_replaced_in_its_encoding() {
    let secret = format!("k+/=&%\"\\é😀{}", super::rand_str(16));
    let r = redactor(&secret);
    let json = serde_json::json!({"echo": secret, "note": "ok"}).to_string();
    for w in ALL {
        for (how, body, ct) in [
            ("mark", [bom(w), &w.encode(&json)].concat(), None),
            ("nul pattern", w.encode(&json), None),
            (
                "charset",
                w.encode(&json),
                Some(match w {
                    Wide::Utf16Le => "application/json; charset=utf-16le",
                    Wide::Utf16Be => "application/json; charset=UTF-16",
                    Wide::Utf32Le => "application/json; charset=utf-32le",
                    Wide::Utf32Be => "application/json; charset=utf-32",
                }),
            ),
        ] {
            let (out, n) = r.redact_body(&body, ct);
            assert_eq!(n, 1, "{w:?} {how}");
            let mut out = out.into_owned();
            if how == "mark" {
                assert!(out.starts_with(bom(w)), "{w:?}: the mark is kept");
                out.drain(..bom(w).len());
            }
            let text = text_of(w, &out).expect("still valid");
            let v: serde_json::Value = serde_json::from_str(&text).expect("still JSON");
            assert_eq!(v["echo"], MARKER, "{w:?} {how}");
            assert_eq!(v["note"], "ok");
        }
    }
    // A token shape in a wide body is found too.
    let r = crate::redact::Redactor::empty();
    let body = Wide::Utf16Le.encode("config: password=hunter2hunter2 end");
    let (out, n) = r.redact_body(&body, None);
    assert_eq!(n, 1);
    let text = text_of(Wide::Utf16Le, &out).expect("valid");
    assert!(
        !text.contains("hunter2") && text.contains("[REDACTED:pattern:"),
        "{text}"
    );
    // Not wide: bytes as they are.
    let (out, n) = r.redact_body(b"plain", Some("text/plain; charset=utf-16x"));
    assert_eq!((out.as_ref(), n), (&b"plain"[..], 0));
}

#[test]
fn a_wide_stream_split_anywhere_is_redacted_as_a_whole() {
    let secret = format!("s3cr3t-{}", super::rand_str(20));
    let r = Arc::new(redactor(&secret));
    let mut text = "x".repeat(9000);
    text.push_str(&format!(" {secret} "));
    text.push_str(&"y".repeat(5000));
    for w in ALL {
        let body = w.encode(&text);
        let (whole, n) = r.redact_body(&body, None);
        assert_eq!(n, 1);
        for chunk in [333, 4097, 5001] {
            let mut s = r.stream_for(None);
            let mut out = Vec::new();
            for c in body.chunks(chunk) {
                out.extend(s.push(c));
            }
            let (rest, n) = s.finish();
            out.extend(rest);
            assert_eq!(n, 1, "{w:?} {chunk}");
            assert_eq!(out, whole.as_ref(), "{w:?} {chunk}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn no_secret_survives_in_a_wide_body(
        secret in SECRET_CHARS,
        layers in prop::collection::vec(layer(), 0..=2),
        picks in prop::collection::vec(any::<u8>(), 1..64),
        before in "[a-z ,.:\n]{0,12}",
        after in "[a-z ,.:\n]{0,12}",
        which in 0..4usize,
        told in 0..3u8,
        chunk in 1..64usize,
    ) {
        let w = ALL[which];
        let r = Arc::new(redactor(&secret));
        let enc = encoded(&secret, &layers, &picks);
        // Told by its mark, by an exact charset, or by the NUL pattern of a
        // body that is mostly ASCII-range text.
        let preamble = if told == 2 { "HTTP/1.1 200 OK, the body follows.\n".repeat(16) } else { String::new() };
        let text = format!("{preamble}{before} {enc} {after}");
        let mut body = if told == 0 { bom(w).to_vec() } else { Vec::new() };
        body.extend(w.encode(&text));
        let ct = (told == 1).then_some(match w {
            Wide::Utf16Le => "text/plain; charset=utf-16le",
            Wide::Utf16Be => "text/plain; charset=utf-16be",
            Wide::Utf32Le => "text/plain; charset=utf-32le",
            Wide::Utf32Be => "text/plain; charset=utf-32be",
        });
        let (out, n) = r.redact_body(&body, ct);
        prop_assert!(n >= 1, "{layers:?} {enc:?} survived");
        let mut expected = if told == 0 { bom(w).to_vec() } else { Vec::new() };
        expected.extend(w.encode(&format!("{preamble}{before} {MARKER} {after}")));
        prop_assert_eq!(out.as_ref(), &expected[..]);
        let mut s = r.stream_for(ct);
        let mut streamed = Vec::new();
        for c in body.chunks(chunk) {
            streamed.extend(s.push(c));
        }
        streamed.extend(s.finish().0);
        prop_assert_eq!(streamed, expected);
    }
}
