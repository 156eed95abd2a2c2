//! The audit record's canonical form and hash, pinned: a fixed record (fixed
//! time, seq and prev) whose canonical bytes and hashes (plain SHA-256, and
//! HMAC-SHA256 under a fixed test key) are asserted literally. If one of
//! these fails, the canonical form changed, and every trail already written
//! would stop verifying: that needs a migration, not a new vector.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;
use toolgate::audit::chain::{Chain, Record, canonical, hash_value};
use toolgate::audit::checkpoint;
use toolgate::audit::verify::verify_reader;
use toolgate::audit::{Entry, Event};

/// Not a secret: the key of a published test vector.
const VECTOR_KEY: &[u8] = b"toolgate audit golden vector key";

fn golden_entry() -> Entry {
    let mut e = Entry::new(Event::Executed);
    e.environment = Some("prod".into());
    e.agent = Some("lead-router".into());
    e.workflow = Some("lead-routing".into());
    e.tool = Some("create_lead".into());
    e.call_id = Some("c-golden".into());
    e.action_id = Some("act_0001".into());
    e.args_sha256 = Some("5".repeat(64));
    e.arguments = Some(json!({
        "name": "Ada",
        "card": "hmac-sha256:00ff",
        "n": 3,
        "z": [1.5, {"b": true, "a": null}],
    }));
    e.credential = Some("crm-api-key".into());
    e.credential_fingerprint = Some("0123456789abcdef0123456789abcdef".into());
    e.upstream_status = Some(201);
    e.latency_ms = Some(12.5);
    e.redactions = Some(2);
    e.reason = Some("caf\u{e9} \"quoted\" \\ </tag>\n\u{1}".into());
    e
}

/// Record 7, after a record whose hash is `ab…ab`, at 2026-01-02T03:04:05.678901Z.
fn golden_record(key: Option<&[u8]>) -> Record {
    let mut chain = Chain::new(key.map(Into::into));
    chain.resume(6, "ab".repeat(32));
    let time = UNIX_EPOCH + Duration::from_micros(1_767_323_045_678_901);
    chain.seal_at(golden_entry(), time)
}

/// The canonical form: keys in byte order, no whitespace, `hash` left out,
/// non-ASCII as UTF-8, control characters escaped. (These three values were
/// also computed apart from this code: JSON with sorted keys and compact
/// separators, then SHA-256 and HMAC-SHA256 of its UTF-8 bytes.)
const CANONICAL: &str = r#"{"action_id":"act_0001","agent":"lead-router","args_sha256":"5555555555555555555555555555555555555555555555555555555555555555","arguments":{"card":"hmac-sha256:00ff","n":3,"name":"Ada","z":[1.5,{"a":null,"b":true}]},"call_id":"c-golden","credential":"crm-api-key","credential_fingerprint":"0123456789abcdef0123456789abcdef","environment":"prod","event":"executed","latency_ms":12.5,"prev":"abababababababababababababababababababababababababababababababab","reason":"café \"quoted\" \\ </tag>\n\u0001","redactions":2,"seq":7,"time":"2026-01-02T03:04:05.678901Z","tool":"create_lead","upstream_status":201,"workflow":"lead-routing"}"#;
const SHA256: &str = "cfe5aabddb8f43b838fcad0d7afca8c776767754870168b947f250fb6a627482";
const HMAC_SHA256: &str = "0a6c8281ac1fb2af615f5ac521a07e2c1366fd7ef964c78cfd2cbd20f7f6c732";

#[test]
fn the_canonical_form_is_pinned() {
    let record = golden_record(None);
    let bytes = canonical(&serde_json::to_value(&record).unwrap());
    assert_eq!(String::from_utf8(bytes).unwrap(), CANONICAL);
}

#[test]
fn the_sha256_hash_is_pinned() {
    let record = golden_record(None);
    assert_eq!(record.hash, SHA256);
    assert_eq!(
        hash_value(&serde_json::to_value(&record).unwrap(), None),
        SHA256
    );
}

#[test]
fn the_hmac_sha256_hash_is_pinned() {
    let record = golden_record(Some(VECTOR_KEY));
    assert_eq!(record.hash, HMAC_SHA256);
    let v = serde_json::to_value(&record).unwrap();
    assert_eq!(hash_value(&v, Some(VECTOR_KEY)), HMAC_SHA256);
    assert_eq!(
        canonical(&v),
        CANONICAL.as_bytes(),
        "the key changes the hash, not the form"
    );
}

#[test]
fn the_golden_record_verifies_as_a_stored_line() {
    // The record as a trail line, preceded by nothing: verify sees a gap
    // before 7 but the record itself is whole (its hash checks first).
    let line = serde_json::to_string(&golden_record(Some(VECTOR_KEY))).unwrap() + "\n";
    let report = verify_reader(
        std::path::Path::new("golden"),
        std::io::Cursor::new(line.into_bytes()),
        Some(VECTOR_KEY),
        &[],
        None,
    );
    let problem = report.problem.unwrap();
    assert_eq!((problem.kind, problem.seq), ("missing", Some(7)));
}

#[test]
fn the_checkpoint_message_and_key_derivation_are_pinned() {
    assert_eq!(
        String::from_utf8(checkpoint::message(7, SHA256, "2026-01-02T03:04:05Z")).unwrap(),
        format!("toolgate audit checkpoint\n7\n{SHA256}\n2026-01-02T03:04:05Z\n")
    );
    let key = checkpoint::signing_key(b"toolgate audit golden signing secret");
    // The seed is the secret's SHA-256: a change here orphans every public
    // key handed out for checking checkpoints.
    assert_eq!(
        hex::encode(key.verifying_key().to_bytes()),
        "568c9bd6531a302391269b2d74d43c589c4b9167b3e82b0b1c1efbaf6a2db76f"
    );
}
