//! Each decoder: what it decodes, and that every span of a view maps back
//! to the whole escapes it came from.

use super::{Scan, View, Views, Wide, base64, html, json, percent, qp};
use ::base64::Engine as _;
use ::base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

const SCAN: Scan = Scan {
    plus: false,
    min_b64: 16,
};

/// The view's text, and the source of each of its bytes as text.
fn pieces(src: &str, v: &View) -> (String, Vec<String>) {
    let text = String::from_utf8(v.text.clone()).expect("utf-8 view");
    let mut each = Vec::new();
    let mut at = 0;
    for c in text.chars() {
        let (a, b) = v.source(at, at + c.len_utf8());
        each.push(src[a..b].to_owned());
        at += c.len_utf8();
    }
    (text, each)
}

#[test]
fn percent_escapes_in_any_mix_and_case() {
    let src = "a%2Bb%2fc/%zz%4";
    let v = percent::decode(src.as_bytes(), false).expect("decodes");
    let (text, each) = pieces(src, &v);
    assert_eq!(text, "a+b/c/%zz%4");
    assert_eq!(each[1], "%2B");
    assert_eq!(each[3], "%2f");
    assert_eq!(each[4], "c");
    assert_eq!(v.source(1, 4), (1, 8));
    assert!(percent::decode(b"no escapes here", false).is_none());
    let v = percent::decode(b"a+b%20c", true).expect("decodes");
    assert_eq!(v.text, b"a b c");
    assert_eq!(percent::decode(b"a+b", false).map(|v| v.text), None);
}

#[test]
fn json_escapes_surrogates_and_lone_ones() {
    let src = r#"x\"\\\/\u00e9\uD83D\uDE00\ud800y\n\q"#;
    let v = json::decode(src.as_bytes()).expect("decodes");
    let (text, each) = pieces(src, &v);
    assert_eq!(text, "x\"\\/é😀\\ud800y\n\\q");
    assert_eq!(each[1], "\\\"");
    assert_eq!(each[2], "\\\\");
    assert_eq!(each[3], "\\/");
    assert_eq!(each[4], "\\u00e9");
    assert_eq!(each[5], "\\uD83D\\uDE00");
    // The lone surrogate stays as written, byte for byte.
    assert_eq!(each[6], "\\");
    assert_eq!(each[7], "u");
    // `\\u0041` is a backslash and `u0041`, not an `A`.
    let v = json::decode(br"\\u0041").expect("decodes");
    assert_eq!(v.text, br"\u0041");
}

#[test]
fn html_references_named_decimal_hex() {
    let src =
        "&amp;&quot;&lt;&gt;&apos;&#43;&#x2B;&#X2b&#0043;&sol;&eacute;&ampx&bogus;&#;&#x110000;";
    let v = html::decode(src.as_bytes()).expect("decodes");
    let (text, each) = pieces(src, &v);
    assert_eq!(text, "&\"<>'++++/é&x&bogus;&#;&#x110000;");
    assert_eq!(each[0], "&amp;");
    assert_eq!(each[5], "&#43;");
    assert_eq!(each[6], "&#x2B;");
    assert_eq!(each[7], "&#X2b");
    assert_eq!(each[8], "&#0043;");
    assert_eq!(each[10], "&eacute;");
    assert_eq!(each[11], "&amp");
    // Eight digits are not decoded (the expansion stays bounded).
    assert!(html::decode(b"&#00000043;").is_none());
}

#[test]
fn nested_views_map_to_the_original() {
    // `+` percent-encoded, then the `%` of that HTML-referenced.
    let src = "k=ab&#37;2Bcd";
    let views = Views::of(src.as_bytes(), SCAN);
    let (i, _) = views
        .texts()
        .find(|(_, t)| *t == b"k=ab+cd")
        .expect("two decodings deep");
    assert_eq!(views.source(i, 2, 7), (2, src.len()));
    // Not three deep.
    let src = "%25252B";
    let views = Views::of(src.as_bytes(), SCAN);
    assert!(views.texts().any(|(_, t)| t == b"%2B"));
    assert!(!views.texts().any(|(_, t)| t == b"+"));
    assert!(
        Views::of(
            b"plain text, nothing to decode",
            Scan { plus: true, ..SCAN }
        )
        .is_empty()
    );
}

#[test]
fn quoted_printable_escapes_and_soft_breaks() {
    let src = "a=3Db=3dc=\r\nd=\ne=ZZ=4";
    let v = qp::decode(src.as_bytes()).expect("decodes");
    let (text, each) = pieces(src, &v);
    assert_eq!(text, "a=b=cde=ZZ=4");
    assert_eq!(each[1], "=3D");
    assert_eq!(each[3], "=3d");
    // A span across a soft break takes it; one that ends before it does not.
    assert_eq!(v.source(4, 6), (8, 13));
    assert_eq!(v.source(4, 5), (8, 9));
    assert_eq!(v.source(3, 5), (5, 9));
    assert!(qp::present(b"x=\ny"));
    assert!(!qp::present(b"a=b&c=zz; x="));
    assert!(qp::decode(b"a=b, c=zz").is_none());
}

/// `text` with a line break after every `width` characters.
fn wrapped(text: &str, width: usize, eol: &str) -> String {
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(width)
        .map(|l| std::str::from_utf8(l).expect("ascii"))
        .collect();
    lines.join(eol)
}

#[test]
fn base64_blobs_at_every_alignment_across_line_breaks() {
    let secret = b"s3cr3t+/=&%\"\\-value";
    for align in 0..3 {
        for (eol, width, indent) in [("\r\n", 76, ""), ("\n", 64, ""), ("\n", 33, "    ")] {
            let mut data: Vec<u8> = (0..100u8 + align).collect();
            data.extend_from_slice(secret);
            data.extend((0..50u8).rev());
            let enc = STANDARD.encode(&data);
            let body = wrapped(&enc, width, &format!("{eol}{indent}"));
            let src = format!("Content-Transfer-Encoding: base64\r\n\r\n{indent}{body}\r\n--b--");
            let (v, _) = base64::decode(src.as_bytes(), 16).expect("decodes");
            let at = v
                .text
                .windows(secret.len())
                .position(|w| w == secret)
                .expect("the secret, whole");
            // The header's `Content-Transfer-Encoding` is a blob too.
            let d0 = v
                .text
                .windows(data.len())
                .position(|w| w == data)
                .expect("the blob, whole");
            // The span is whole groups of the blob holding the secret's bytes.
            let (a, b) = v.source(at, at + secret.len());
            let chars: String = src[a..b].chars().filter(|c| !c.is_whitespace()).collect();
            assert_eq!(chars.len() % 4, 0, "{align} {width}");
            let first = (at - d0) / 3 * 4;
            assert_eq!(chars, enc[first..first + chars.len()], "{align} {width}");
            let bytes = STANDARD.decode(&chars).expect("whole groups");
            assert!(bytes.windows(secret.len()).any(|w| w == secret));
        }
    }
    // URL-safe, unpadded, ending in a partial group.
    let enc = URL_SAFE_NO_PAD.encode(b"\xfb\xff~~ a value of some length!");
    let src = format!("token={enc};");
    let (v, _) = base64::decode(src.as_bytes(), 16).expect("decodes");
    assert_eq!(v.text, b"\xfb\xff~~ a value of some length!\0");
    // The last byte is a partial group's (two or three characters), mapped to all of it.
    let tail = enc.len() % 4;
    assert!(tail >= 2);
    assert_eq!(
        v.source(v.text.len() - 2, v.text.len() - 1),
        (6 + enc.len() - tail, 6 + enc.len())
    );
    // Too short, hex only (digests, UUIDs), or no blob: nothing.
    assert!(base64::decode(b"aGVsbG8gd29ybGQ", 16).is_none());
    assert!(
        base64::decode(
            b"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            16
        )
        .is_none()
    );
    assert!(base64::decode(b"{\"id\":\"5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b\"}", 16).is_none());
    // A line of prose before a blob is not taken into it.
    let src = format!("see below\n{}", STANDARD.encode(b"0123456789abcdefghij"));
    let (v, _) = base64::decode(src.as_bytes(), 16).expect("decodes");
    assert_eq!(v.text, b"0123456789abcdefghij\0");
}

#[test]
fn wide_bodies_by_mark_charset_and_nul_pattern() {
    let text = "a\u{e9}\u{1F600}b";
    for (w, bom) in [
        (Wide::Utf16Le, &[0xFF, 0xFE][..]),
        (Wide::Utf16Be, &[0xFE, 0xFF][..]),
        (Wide::Utf32Le, &[0xFF, 0xFE, 0, 0][..]),
        (Wide::Utf32Be, &[0, 0, 0xFE, 0xFF][..]),
    ] {
        let body = w.encode(text);
        let mut marked = bom.to_vec();
        marked.extend_from_slice(&body);
        assert_eq!(Wide::detect(&marked, None), Some(w));
        assert_eq!(
            Wide::detect(&marked, Some("text/plain; charset=utf-8")),
            Some(w)
        );
        let v = w.decode(&body);
        assert_eq!(v.text, text.as_bytes());
        let u = w.unit();
        // Each character maps to its whole code units.
        assert_eq!(v.source(0, 1), (0, u));
        assert_eq!(v.source(1, 3), (u, 2 * u));
        assert_eq!(v.source(3, 7), (2 * u, 2 * u + 4));
        assert_eq!(v.source(0, text.len()), (0, body.len()));
    }
    let ascii = "plain ascii text";
    assert_eq!(
        Wide::detect(&Wide::Utf16Le.encode(ascii), None),
        Some(Wide::Utf16Le)
    );
    assert_eq!(
        Wide::detect(&Wide::Utf16Be.encode(ascii), None),
        Some(Wide::Utf16Be)
    );
    assert_eq!(
        Wide::detect(&Wide::Utf32Le.encode(ascii), None),
        Some(Wide::Utf32Le)
    );
    assert_eq!(
        Wide::detect(&Wide::Utf32Be.encode(ascii), None),
        Some(Wide::Utf32Be)
    );
    assert_eq!(Wide::detect(ascii.as_bytes(), None), None);
    assert_eq!(
        Wide::detect(ascii.as_bytes(), Some("text/plain; charset=utf-8")),
        None
    );
    // By charset alone: no NULs in CJK text, no mark.
    let cjk = Wide::Utf16Le.encode("\u{5BC6}\u{94A5}\u{5BC6}\u{94A5}");
    assert_eq!(Wide::detect(&cjk, None), None);
    assert_eq!(
        Wide::detect(&cjk, Some("text/plain; Charset=\"UTF-16LE\"")),
        Some(Wide::Utf16Le)
    );
    assert_eq!(
        Wide::detect(&cjk, Some("text/plain; charset=utf-16")),
        Some(Wide::Utf16Be)
    );
    // A lone surrogate is U+FFFD, and a last odd byte is left out.
    let mut odd = vec![0x00, 0xD8, b'x', 0];
    odd.push(b'y');
    let v = Wide::Utf16Le.decode(&odd);
    assert_eq!(v.text, "\u{FFFD}x".as_bytes());
    assert_eq!(v.source(3, 4), (2, 4));
}

#[test]
fn decoded_escapes_that_complete_another_are_decoded_again() {
    // A literal `\` whose `u0041` is percent-encoded.
    let views = Views::of(br"x\%75%30%30%34%31y", SCAN);
    assert!(views.texts().any(|(_, t)| t == b"xAy"));
    // JSON escapes inside quoted-printable, and quoted-printable inside JSON.
    let views = Views::of(br"k=5Cu0041=3D\u0041", SCAN);
    assert!(views.texts().any(|(_, t)| t == b"kA=A"));
    // Base64 of percent-encoded text, and percent-encoded base64.
    let inner = "a%2Bb%2Fc%3Dd%26e%25f-long-enough";
    let src = format!("v={}", STANDARD.encode(inner));
    let views = Views::of(src.as_bytes(), SCAN);
    assert!(
        views
            .texts()
            .any(|(_, t)| t.starts_with(b"a+b/c=d&e%f-long-enough"))
    );
    let inner = b"\xfb\xef\xbe\xff\xff a value long enough";
    let src = STANDARD
        .encode(inner)
        .replace('+', "%2B")
        .replace('/', "%2f");
    assert!(src.starts_with("%2B%2B%2B%2B%2f%2f"), "{src}");
    let views = Views::of(src.as_bytes(), SCAN);
    assert!(views.texts().any(|(_, t)| t.starts_with(inner)));
}
