//! The redactor: known secrets in their encodings, token shapes, JSON.
//!
//! Input: a flags byte (bits 0–1: one to four secrets; bit 2: PII
//! detectors on in JSON; bit 3: token-shape detectors on; bits 4–7: how
//! many times the text repeats, one to sixteen, so that short inputs still
//! cross the stream's window), two bytes seeding the chunk sizes, then each
//! secret as a length byte and that many bytes (at most `MAX_SECRET`; as
//! UTF-8, lossily; one shorter than `MIN_REDACTABLE_LEN` is left out), then
//! the text. In the text, byte
//! 0x01 and the byte after it stand for one secret in one of its
//! encodings (raw, base64 standard and URL-safe, hex, JSON-escaped, and
//! two the redactor finds by decoding: partial lower-case percent-escapes
//! and decimal HTML references).
//!
//! Checked: the text fed to a `StreamRedactor` in chunks of fuzzed sizes
//! comes out exactly as one-shot redaction gives it (and `redact_str` the
//! same for UTF-8 text); no secret, in any of those encodings, survives
//! outside a marker; in a JSON text, no string or key holds one after
//! `redact_json`.

#![no_main]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use toolgate::fuzzing::{MIN_REDACTABLE_LEN, redact_bytes, redact_json};
use toolgate::redact::{Redactor, RedactorBuilder};

const SPLICE: u8 = 0x01;
const MAX_PUSHES: usize = 48;
/// Longer secrets only make the redactor slower to build (every encoding
/// of each is a pattern of its automaton), not the search different.
const MAX_SECRET: usize = 32;
/// Redactors kept for reuse.
const KEPT: usize = 32;

/// The encodings a secret is spliced in, and looked for afterwards.
fn forms(secret: &str) -> Vec<Vec<u8>> {
    let json = serde_json::to_string(secret).expect("a string serializes");
    vec![
        secret.as_bytes().to_vec(),
        STANDARD.encode(secret).into_bytes(),
        URL_SAFE_NO_PAD.encode(secret).into_bytes(),
        hex::encode(secret).into_bytes(),
        json.as_bytes()[1..json.len() - 1].to_vec(),
        // Found by decoding, not listed: lower-case percent-escapes of
        // every other byte, decimal HTML references of every character.
        secret
            .bytes()
            .enumerate()
            .map(|(i, b)| {
                if i % 2 == 0 && b.is_ascii_alphanumeric() {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02x}")
                }
            })
            .collect::<String>()
            .into_bytes(),
        secret
            .chars()
            .map(|c| format!("&#{};", u32::from(c)))
            .collect::<String>()
            .into_bytes(),
    ]
}

/// A small deterministic generator for chunk sizes.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        // xorshift32; the seed is never 0.
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// A chunk size: mostly small, sometimes around the stream's window.
    fn chunk(&mut self) -> usize {
        let r = self.next() as usize;
        match r % 4 {
            0 => 1 + (r >> 2) % 8,
            1 => 1 + (r >> 2) % 600,
            2 => 3900 + (r >> 2) % 1200,
            _ => 1 + (r >> 2) % 20_000,
        }
    }
}

/// `text` split around the redaction markers in it: what is left of the
/// text itself. A secret can appear across a marker's own letters without
/// having survived (`[REDACTED:credential:c0]` holds `dential:`).
fn outside_markers(text: &[u8]) -> Vec<&[u8]> {
    const OPEN: &[u8] = b"[REDACTED:";
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut at = 0;
    while let Some(i) = find(&text[at..], OPEN) {
        let open = at + i;
        let body = &text[open + OPEN.len()..];
        let len = body
            .iter()
            .take(80)
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'-'))
            .count();
        if body.get(len) == Some(&b']') {
            pieces.push(&text[start..open]);
            start = open + OPEN.len() + len + 1;
            at = start;
        } else {
            at = open + 1;
        }
    }
    pieces.push(&text[start..]);
    pieces
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn assert_none_survives(text: &[u8], secrets: &[(String, Vec<Vec<u8>>)], what: &str) {
    for piece in outside_markers(text) {
        for (i, (_, forms)) in secrets.iter().enumerate() {
            for (f, form) in forms.iter().enumerate() {
                assert!(
                    find(piece, form).is_none(),
                    "secret {i} survives {what} in form {f}"
                );
            }
        }
    }
}

fn walk_strings(v: &Value, each: &mut impl FnMut(&str)) {
    match v {
        Value::String(s) => each(s),
        Value::Array(items) => items.iter().for_each(|i| walk_strings(i, each)),
        Value::Object(map) => {
            for (k, v) in map {
                each(k);
                walk_strings(v, each);
            }
        }
        _ => {}
    }
}

/// The redactor for these secrets. Building one costs far more than
/// redacting a short text, and most mutations leave the secrets alone: the
/// last few built are kept (a redactor never changes once built).
fn redactor(secrets: &[(String, Vec<Vec<u8>>)], detectors: bool) -> Arc<Redactor> {
    type Key = (Vec<String>, bool);
    static KEPT_REDACTORS: Mutex<VecDeque<(Key, Arc<Redactor>)>> = Mutex::new(VecDeque::new());
    let key: Key = (secrets.iter().map(|(s, _)| s.clone()).collect(), detectors);
    let mut kept = KEPT_REDACTORS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some((_, r)) = kept.iter().find(|(k, _)| *k == key) {
        return r.clone();
    }
    let mut builder = RedactorBuilder::new();
    for (i, s) in key.0.iter().enumerate() {
        builder.known_secret(&format!("c{i}"), s);
    }
    builder.detectors(detectors);
    let r = Arc::new(builder.build());
    if kept.len() == KEPT {
        kept.pop_front();
    }
    kept.push_back((key, r.clone()));
    r
}

fuzz_target!(|data: &[u8]| {
    let [flags, s0, s1, rest @ ..] = data else {
        return;
    };
    let count = usize::from(flags & 3) + 1;
    let pii = flags & 4 != 0;
    let detectors = flags & 8 != 0;
    let repeat = usize::from(flags >> 4) + 1;
    let mut rng = Rng(u32::from(u16::from_le_bytes([*s0, *s1])) | 0x1_0000);

    let mut rest = rest;
    let mut secrets: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    for _ in 0..count {
        let Some((&len, tail)) = rest.split_first() else {
            break;
        };
        let len = usize::from(len).min(tail.len()).min(MAX_SECRET);
        let secret = String::from_utf8_lossy(&tail[..len]).into_owned();
        rest = &tail[len..];
        if secret.len() >= MIN_REDACTABLE_LEN {
            let f = forms(&secret);
            secrets.push((secret, f));
        }
    }
    if secrets.is_empty() {
        return;
    }
    let redactor = redactor(&secrets, detectors);

    // The text, with its splices filled in, `repeat` times over.
    let mut once = Vec::with_capacity(rest.len());
    let mut bytes = rest.iter();
    while let Some(&b) = bytes.next() {
        if b != SPLICE {
            once.push(b);
            continue;
        }
        let j = usize::from(*bytes.next().unwrap_or(&0));
        let forms = &secrets[j % secrets.len()].1;
        once.extend_from_slice(&forms[(j / secrets.len()) % forms.len()]);
    }
    let text = once.repeat(repeat);

    let (one_shot, n) = redact_bytes(&redactor, &text);
    assert_none_survives(&one_shot, &secrets, "one-shot redaction");

    let mut stream = redactor.stream();
    let mut streamed = Vec::with_capacity(one_shot.len());
    // Each push past the window searches the whole window again: a bounded
    // number of pushes keeps an input fast.
    let least = text.len() / MAX_PUSHES + 1;
    let mut at = 0;
    while at < text.len() {
        let end = (at + rng.chunk().max(least)).min(text.len());
        streamed.extend(stream.push(&text[at..end]));
        at = end;
    }
    let (tail, streamed_n) = stream.finish();
    streamed.extend(tail);
    assert!(
        streamed == one_shot,
        "streamed output differs from one-shot output"
    );
    assert_eq!(streamed_n, n, "streamed count differs from one-shot count");

    if let Ok(s) = std::str::from_utf8(&text) {
        let (out, n_str) = redactor.redact_str(s);
        assert!(
            out.as_bytes() == one_shot.as_slice(),
            "redact_str differs from redacting the bytes"
        );
        assert_eq!(n_str, n);
        if let Ok(mut v) = serde_json::from_str::<Value>(s) {
            redact_json(&redactor, &mut v, pii);
            walk_strings(&v, &mut |s| {
                assert_none_survives(s.as_bytes(), &secrets, "redact_json");
            });
        }
    }
});
