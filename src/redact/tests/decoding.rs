//! Known values found by decoding: random secrets (with `+/=&%"\`, a
//! space and non-ASCII) encoded in random mixes of percent-escapes, JSON
//! escapes, HTML references, quoted-printable and base64 (either alphabet,
//! padded or not, wrapped in lines or not), nested to the documented
//! depth, in random text: none survives, and the text around them is left
//! as it was.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use proptest::prelude::*;
use serde_json::Value;

use crate::redact::RedactorBuilder;

pub(super) const MARKER: &str = "[REDACTED:credential:s]";

/// The characters secrets are drawn from.
pub(super) const SECRET_CHARS: &str = "[A-Za-z0-9+/=&%\"\\\\ éå€😀<>'#;.~_-]{12,24}";

/// How each character is written: a choice per character, so the forms
/// mix escaped and unescaped characters as partial encoders do.
#[derive(Debug, Clone, Copy)]
pub(super) enum Layer {
    Percent,
    Json,
    Html,
    Qp,
    Base64,
}

pub(super) fn layer() -> impl Strategy<Value = Layer> {
    prop_oneof![
        Just(Layer::Percent),
        Just(Layer::Json),
        Just(Layer::Html),
        Just(Layer::Qp),
        Just(Layer::Base64),
    ]
}

/// `s` in base64: the alphabet, padding and line width chosen by `p`
/// (unwrapped, or lines of MIME's 76, PEM's 64, or 63 to 76 characters,
/// ending in CRLF or LF).
fn base64_of(s: &str, p: u8) -> String {
    let engine = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD][usize::from(p % 4)];
    let enc = engine.encode(s);
    let width = match (p / 4) % 4 {
        0 => return enc,
        1 => 76,
        2 => 64,
        _ => 63 + usize::from(p / 16) % 14,
    };
    let eol = if p >= 128 { "\r\n" } else { "\n" };
    let lines: Vec<&str> = enc
        .as_bytes()
        .chunks(width)
        .map(|l| std::str::from_utf8(l).expect("ascii"))
        .collect();
    lines.join(eol)
}

/// `s` written in `layer`, each character chosen by the next of `picks`.
fn encode(s: &str, layer: Layer, picks: &mut impl Iterator<Item = u8>) -> String {
    if let Layer::Base64 = layer {
        return base64_of(s, picks.next().unwrap_or(0));
    }
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        let p = picks.next().unwrap_or(0);
        match layer {
            Layer::Percent => {
                // An encoder never leaves `%` as it is, nor `+` (which
                // may stand for a space).
                if c != '%' && c != '+' && p.is_multiple_of(3) {
                    out.push(c);
                } else if c == ' ' && p % 3 == 1 {
                    out.push('+');
                } else {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        if p.is_multiple_of(2) {
                            out.push_str(&format!("%{b:02x}"));
                        } else {
                            out.push_str(&format!("%{b:02X}"));
                        }
                    }
                }
            }
            Layer::Json => match (c, p % 3) {
                ('"' | '\\', 0) => {
                    out.push('\\');
                    out.push(c);
                }
                ('/', 0) => out.push_str("\\/"),
                (_, 0) if c != '"' && c != '\\' => out.push(c),
                _ => {
                    let mut buf = [0u16; 2];
                    for u in c.encode_utf16(&mut buf) {
                        if p.is_multiple_of(2) {
                            out.push_str(&format!("\\u{u:04x}"));
                        } else {
                            out.push_str(&format!("\\u{u:04X}"));
                        }
                    }
                }
            },
            Layer::Html => {
                let named = match c {
                    '&' => Some("&amp;"),
                    '"' => Some("&quot;"),
                    '<' => Some("&lt;"),
                    '>' => Some("&gt;"),
                    '\'' => Some("&apos;"),
                    '+' => Some("&plus;"),
                    '/' => Some("&sol;"),
                    'é' => Some("&eacute;"),
                    _ => None,
                };
                match (p % 4, named) {
                    (0, Some(n)) => out.push_str(n),
                    (0 | 1, _) if c != '&' => out.push(c),
                    (2, _) => out.push_str(&format!("&#{};", c as u32)),
                    _ => out.push_str(&format!("&#x{:X};", c as u32)),
                }
            }
            Layer::Qp => {
                // A soft line break between two characters, now and then.
                if i > 0 && p % 8 == 7 {
                    out.push_str(if p % 16 == 7 { "=\r\n" } else { "=\n" });
                }
                if c.is_ascii_graphic() && c != '=' && !p.is_multiple_of(3) {
                    out.push(c);
                } else {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        if p.is_multiple_of(2) {
                            out.push_str(&format!("={b:02x}"));
                        } else {
                            out.push_str(&format!("={b:02X}"));
                        }
                    }
                }
            }
            Layer::Base64 => unreachable!("encoded whole above"),
        }
    }
    out
}

pub(super) fn encoded(secret: &str, layers: &[Layer], picks: &[u8]) -> String {
    let mut picks = picks.iter().copied().cycle();
    layers
        .iter()
        .fold(secret.to_owned(), |s, &l| encode(&s, l, &mut picks))
}

/// Every string and key of `v`.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(m) => m
            .iter()
            .flat_map(|(k, v)| std::iter::once(k.clone()).chain(strings(v)))
            .collect(),
        _ => Vec::new(),
    }
}

pub(super) fn redactor(secret: &str) -> crate::redact::Redactor {
    RedactorBuilder::new().known_secret("s", secret).build()
}

#[test]
fn each_gap_of_the_listed_forms_is_closed() {
    let secret = format!("a+b/c=d&e%f\"g\\h å{}", super::rand_str(12));
    let r = redactor(&secret);
    let pct_path: String = secret
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' {
                c.to_string()
            } else {
                c.to_string().bytes().map(|b| format!("%{b:02x}")).collect()
            }
        })
        .collect();
    let every_char_u: String = secret
        .encode_utf16()
        .map(|u| format!("\\u{u:04X}"))
        .collect();
    let html = secret
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('+', "&#43;")
        .replace('/', "&#x2F;");
    let json_in_html = serde_json::to_string(&secret)
        .expect("serializes")
        .replace('&', "&amp;")
        .replace('"', "&quot;");
    for (name, text) in [
        (
            "path-style percent, lower hex",
            format!("GET /a/{pct_path}?x=1"),
        ),
        (
            "NDJSON",
            format!("{{\"a\":1}}\n{{\"t\":\"{every_char_u}\"}}\n"),
        ),
        (
            "SSE",
            format!("event: x\ndata: {{\"t\":\"{every_char_u}\"}}\n\n"),
        ),
        (
            "lone surrogate",
            format!("{{\"t\":\"\\ud800 {every_char_u}\"}}"),
        ),
        (
            "HTML error page",
            format!("<html><body><p>key: {html}</p></body></html>"),
        ),
        ("JSON in HTML", format!("<pre>{json_in_html}</pre>")),
    ] {
        let (out, n) = r.redact_str(&text);
        assert!(n >= 1 && !out.contains(&secret), "{name}: {out}");
        assert!(out.contains(MARKER), "{name}: {out}");
        assert!(r.known_secret_in(text.as_bytes()).is_some(), "{name}");
    }
}

#[test]
fn a_numeric_secret_in_a_json_number_is_replaced() {
    let digits: String = (0..12)
        .map(|i| char::from(b'1' + (i * 7 % 9) as u8))
        .collect();
    let r = redactor(&digits);
    let mut v: Value =
        serde_json::from_str(&format!(r#"{{"pin":{digits},"n":[1,{digits}]}}"#)).expect("valid");
    let n = r.redact_json(&mut v, &Default::default());
    assert_eq!(n, 2, "{v}");
    assert_eq!(v["n"][1], MARKER);
    assert_eq!(v["n"][0], 1);
    assert!(!v.to_string().contains(&digits));
    let mut v: Value = serde_json::from_str(&format!(r#"[{digits}]"#)).expect("valid");
    assert_eq!(r.redact_known_json(&mut v), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_secret_survives_nested_forms_in_text(
        secret in SECRET_CHARS,
        layers in prop::collection::vec(layer(), 1..=2),
        picks in prop::collection::vec(any::<u8>(), 1..64),
        before in "[a-z ,.:=\n]{0,12}",
        after in "[a-z ,.:=\n]{0,12}",
    ) {
        let r = redactor(&secret);
        let enc = encoded(&secret, &layers, &picks);
        // Apart from the text around it (base64 glued to letters would be
        // read from the first of them).
        let text = format!("{before} {enc} {after}");
        let (out, n) = r.redact_str(&text);
        prop_assert!(n >= 1, "{layers:?} {enc:?} survived");
        prop_assert_eq!(out.as_ref(), format!("{before} {MARKER} {after}"));
        // The same in a stream, in small chunks.
        let r = std::sync::Arc::new(r);
        let mut s = r.stream();
        let mut streamed = Vec::new();
        for chunk in text.as_bytes().chunks(7) {
            streamed.extend(s.push(chunk));
        }
        streamed.extend(s.finish().0);
        prop_assert_eq!(streamed, out.as_bytes());
    }

    #[test]
    fn json_text_with_encoded_secrets_stays_json(
        secret in SECRET_CHARS,
        layer in layer(),
        picks in prop::collection::vec(any::<u8>(), 1..64),
        before in "[a-z \"\\\\/]{0,8}",
        in_key in any::<bool>(),
    ) {
        let r = redactor(&secret);
        let enc = encoded(&secret, &[layer], &picks);
        let s = format!("{before} {enc}");
        let v = if in_key {
            let mut m = serde_json::Map::new();
            m.insert(s.clone(), Value::from(1));
            m.insert("x".into(), serde_json::json!([s]));
            Value::Object(m)
        } else {
            serde_json::json!({"a": {"b": [s, 2]}, "c": "d"})
        };
        for text in [v.to_string(), serde_json::to_string_pretty(&v).expect("serializes")] {
            let (out, n) = r.redact_bytes(text.as_bytes());
            prop_assert!(n >= 1, "{text}");
            let parsed: Value = serde_json::from_slice(&out)
                .map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&out))))?;
            let flat = parsed.to_string();
            prop_assert!(strings(&parsed).iter().all(|t| !t.contains(&secret) && !t.contains(&enc)), "{flat}");
            prop_assert!(flat.contains(MARKER), "{flat}");
        }
        let mut v = v;
        prop_assert!(r.redact_json(&mut v, &Default::default()) >= 1);
        prop_assert!(strings(&v).iter().all(|t| !t.contains(&secret) && !t.contains(&enc)), "{v}");
    }
}
