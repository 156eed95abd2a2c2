//! The audit-trail verifier (`toolgate audit verify`) and its parser.
//!
//! Input: a mode byte, then the trail; a line `#checkpoints` splits off
//! checkpoint lines after it. Mode bit 0: the trail is keyed (HMAC);
//! bit 1: verify against the checkpoints' public key; bit 2: reseal —
//! every JSON object line is given its place in a fresh chain (seq, prev,
//! hash, as a sink writes it) and, with bit 1, a checkpoint signed by the
//! key over its last record.
//!
//! Checked: verifying never panics; an intact report counts every line
//! and names the last record as the head; a resealed trail is always
//! intact, whatever its records hold.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use toolgate::audit::Receipt;
use toolgate::audit::chain::{GENESIS, hash_value};
use toolgate::audit::checkpoint::{self, Checkpoint};
use toolgate::fuzzing::verify_trail_bytes;

const KEY: &[u8] = b"fuzz-audit-key (not a secret)";
const SIGNING: &[u8] = b"fuzz-checkpoint-signing (not a secret)";
const SPLIT: &[u8] = b"\n#checkpoints\n";

fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.windows(SPLIT.len()).position(|w| w == SPLIT) {
        // The trail keeps its last newline.
        Some(i) => (&data[..=i], &data[i + SPLIT.len()..]),
        None => (data, &[]),
    }
}

/// Every JSON object line sealed into a fresh chain, one line each.
fn reseal(trail: &[u8], key: Option<&[u8]>) -> (Vec<u8>, Vec<Receipt>) {
    let mut out = Vec::new();
    let mut receipts = Vec::new();
    let mut prev = GENESIS.to_owned();
    for line in trail.split(|&b| b == b'\n') {
        let Ok(Value::Object(mut record)) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        let seq = receipts.len() as u64 + 1;
        record.insert("seq".into(), seq.into());
        record.insert("prev".into(), Value::String(prev.clone()));
        record.remove("hash");
        let mut record = Value::Object(record);
        let hash = hash_value(&record, key);
        record["hash"] = Value::String(hash.clone());
        out.extend(serde_json::to_vec(&record).expect("a JSON value serializes"));
        out.push(b'\n');
        prev = hash.clone();
        receipts.push(Receipt { seq, hash });
    }
    (out, receipts)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = (mode & 1 != 0).then_some(KEY);
    let signing = checkpoint::signing_key(SIGNING);
    let public = hex::encode(signing.verifying_key().to_bytes());
    let public_key = (mode & 2 != 0).then_some(public.as_str());
    let (trail, checkpoints) = split(rest);

    if mode & 4 == 0 {
        let report = verify_trail_bytes(trail, key, checkpoints, public_key);
        if report.intact() {
            let lines = trail.split(|&b| b == b'\n').count() as u64 - 1;
            assert_eq!(report.records, lines, "an intact trail skipped a line");
            assert_eq!(report.head_seq, report.records);
        }
        return;
    }

    let (sealed, receipts) = reseal(trail, key);
    let mut cps = Vec::new();
    if public_key.is_some()
        && let Some(last) = receipts.last()
    {
        let c: Checkpoint = checkpoint::sign(&signing, last);
        cps.extend(serde_json::to_vec(&c).expect("a checkpoint serializes"));
        cps.push(b'\n');
    }
    let report = verify_trail_bytes(&sealed, key, &cps, public_key);
    assert!(
        report.intact(),
        "a freshly sealed trail does not verify: {:?}",
        report.problem
    );
    assert_eq!(report.records, receipts.len() as u64);
    if let Some(last) = receipts.last() {
        assert_eq!(report.head_hash, last.hash);
    }
});
