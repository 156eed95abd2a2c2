//! `POST /v1/calls` bodies in the native, OpenAI and Anthropic shapes.
//!
//! Input: one byte choosing the `Content-Type`, then the body. Parsing never
//! panics; an accepted body came with a JSON content type, is a JSON object,
//! and gives a call whose fields meet the documented limits and which
//! survives a round trip through the native shape unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use toolgate::fuzzing::{ParsedCall, parse_call_body};

/// Content types, by the first byte of the input modulo their number.
/// (`'0'` is the first: seeds read as `0{"tool": …}`.)
const CONTENT_TYPES: &[Option<&[u8]>] = &[
    Some(b"application/json"),
    Some(b"application/json; charset=utf-8"),
    Some(b"Application/Vnd.Toolgate+JSON"),
    Some(b"text/plain"),
    None,
    Some(b"application/jsonx"),
];

/// What `POST /v1/calls` promises of a call it accepts (the 400 messages
/// of the parser state them): a call id of 1 to 128 printable ASCII
/// characters, an idempotency key of 1 to 200, object arguments.
fn check_limits(call: &ParsedCall) {
    let printable = |s: &str| s.bytes().all(|b| b.is_ascii_graphic());
    assert!(
        (1..=128).contains(&call.call_id.len()) && printable(&call.call_id),
        "call_id out of its limits: {:?}",
        call.call_id
    );
    if let Some(k) = &call.idempotency_key {
        assert!(
            (1..=200).contains(&k.len()) && printable(k),
            "idempotency_key out of its limits: {k:?}"
        );
    }
    assert!(call.arguments.is_object(), "arguments are not an object");
}

/// The call written in the native shape.
fn native(call: &ParsedCall) -> Vec<u8> {
    let mut obj = Map::new();
    obj.insert("tool".into(), Value::String(call.tool.clone()));
    obj.insert("arguments".into(), call.arguments.clone());
    obj.insert("call_id".into(), Value::String(call.call_id.clone()));
    for (k, v) in [
        ("idempotency_key", &call.idempotency_key),
        ("model", &call.model),
        ("reason", &call.reason),
    ] {
        if let Some(v) = v {
            obj.insert(k.into(), Value::String(v.clone()));
        }
    }
    serde_json::to_vec(&Value::Object(obj)).expect("a JSON value serializes")
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let which = which as usize % CONTENT_TYPES.len();
    let Ok(call) = parse_call_body(CONTENT_TYPES[which], body) else {
        return;
    };
    assert!(
        which <= 2,
        "accepted with content type {:?}",
        CONTENT_TYPES[which]
    );
    assert!(
        serde_json::from_slice::<Map<String, Value>>(body).is_ok(),
        "accepted a body that is not a JSON object"
    );
    check_limits(&call);
    let again = parse_call_body(Some(b"application/json"), &native(&call))
        .unwrap_or_else(|e| panic!("the call in the native shape is refused: {}", e.message));
    assert_eq!(again, call, "the native shape does not round-trip");
});
