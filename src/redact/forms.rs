//! The forms a known value travels in: every encoding the redactor looks
//! for besides the value itself.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// Shortest inner fragment of a base64 blob worth matching at another alignment.
const MIN_FRAGMENT: usize = 12;

/// Bytes percent-encoded by RFC 3986 encoders: all but the unreserved set.
const UNRESERVED_KEPT: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// A path encoder's set: the unreserved characters and `/` are kept.
const PATH_KEPT: &percent_encoding::AsciiSet = &UNRESERVED_KEPT.remove(b'/');

/// A percent-encoded text with its hex digits in lower case (and nothing
/// else changed: the secret's own letters keep their case).
fn lower_hex(pct: &str) -> String {
    let mut out = String::with_capacity(pct.len());
    let mut rest = pct;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let code = rest.get(i..i + 3).unwrap_or(&rest[i..]);
        out.push_str(&code.to_ascii_lowercase());
        rest = &rest[i + code.len()..];
    }
    out.push_str(rest);
    out
}

/// Every form in which `value` may appear in text.
pub(super) fn encodings(value: &str) -> Vec<String> {
    let b = value.as_bytes();
    // A string always serializes.
    let json = serde_json::to_string(value).expect("a string serializes");
    let json = json[1..json.len() - 1].to_owned();
    let unicode_escaped: String = value
        .encode_utf16()
        .map(|u| format!("\\u{u:04x}"))
        .collect();
    let pct = utf8_percent_encode(value, NON_ALPHANUMERIC).to_string();
    // RFC 3986 encoders (JavaScript's encodeURIComponent, Go, the url
    // crate) keep the unreserved `-._~`; a path encoder keeps `/` too;
    // form encoders keep `*-._` and write a space as `+`.
    let unreserved = utf8_percent_encode(value, UNRESERVED_KEPT).to_string();
    let path = utf8_percent_encode(value, PATH_KEPT).to_string();
    let form: String = url::form_urlencoded::byte_serialize(b).collect();
    let mut out = vec![
        lower_hex(&unreserved),
        unreserved,
        lower_hex(&path),
        path,
        form,
        value.to_owned(),
        json.replace('/', "\\/"),
        json,
        unicode_escaped.clone(),
        unicode_escaped.to_uppercase().replace("\\U", "\\u"),
        pct.replace("%20", "+"),
        lower_hex(&pct),
        pct,
        STANDARD.encode(b),
        URL_SAFE.encode(b),
        hex::encode(b),
        hex::encode_upper(b),
    ];
    // Base64 inside a larger blob: at each byte alignment, the characters
    // that depend on the secret's bytes alone.
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for align in 0..3usize {
            let mut padded = vec![0u8; align];
            padded.extend_from_slice(b);
            let enc = engine.encode(&padded);
            let start = (align * 8).div_ceil(6);
            let end = (padded.len() * 8) / 6;
            if end > start && end - start >= MIN_FRAGMENT.min(enc.len()) {
                out.push(enc[start..end].to_owned());
            }
        }
        out.push(engine.encode(b));
    }
    out
}
