//! Inputs the fuzz targets in `fuzz/` found failing, kept as tests: each
//! names its target, and the input is also in that target's corpus.

use std::sync::Arc;

use toolgate::redact::RedactorBuilder;

/// The bytes `text` comes out as through a stream fed `first` bytes, then
/// the rest in chunks of `chunk`.
fn streamed(
    r: &Arc<toolgate::redact::Redactor>,
    text: &[u8],
    first: usize,
    chunk: usize,
) -> Vec<u8> {
    let mut s = r.stream();
    let mut out = s.push(&text[..first]);
    for c in text[first..].chunks(chunk) {
        out.extend(s.push(c));
    }
    out.extend(s.finish().0);
    out
}

/// `redact`: a token shape found by its context (`password=`, then the
/// value it removes) was missed by the stream when a chunk boundary let
/// the context leave before the value was decided: the stream searched
/// only what it still held, so the value went out unredacted.
#[test]
fn a_stream_keeps_the_context_a_token_shape_needs() {
    let r = Arc::new(
        RedactorBuilder::new()
            .known_secret("c", "fuzz-known-value-0001")
            .build(),
    );
    let value = "hunter2hunter2hunter2";
    let text = format!("{}password={value} {}", "x ".repeat(2500), " ".repeat(5000));
    let (one_shot, _) = r.redact_str(&text);
    assert!(!one_shot.contains(value), "{one_shot}");
    // The stream holds back its last 4 KiB: a first chunk this long puts
    // its first cut at each byte of `password=` and around it.
    let at = text.find("password=").unwrap() + 4096;
    for first in (at - 3..at + 12).chain([1, 4000]) {
        for chunk in [100, 4096, text.len()] {
            let out = streamed(&r, text.as_bytes(), first, chunk);
            let out = String::from_utf8(out).unwrap();
            assert!(
                !out.contains(value),
                "first {first}, chunk {chunk}: the value went out"
            );
            assert_eq!(out, one_shot, "first {first}, chunk {chunk}");
        }
    }
}
