//! The chain: canonical form, hashing and sealing — apart from any storage,
//! so every sink and the verifier share it.
//!
//! Canonical form: the record as a JSON object with keys in byte order, no
//! insignificant whitespace, `hash` left out (serde_json's default map is
//! ordered, so `to_vec` of a `Value` is canonical). `hash` is the lower-case
//! hex SHA-256 of those bytes, or HMAC-SHA256 under the audit key. A golden
//! vector in the tests pins both, so any change to the form fails loudly: a
//! change here makes every trail already written unverifiable.
//!
//! Pure functions and values only: no storage, no clock but the one `seal`
//! reads, and no credential value (`fingerprint` keys an HMAC and keeps
//! nothing).

use std::sync::Arc;
use std::time::SystemTime;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::record::{Entry, Receipt};
use crate::digest::hex_lower;

/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A sealed record, as one line of the trail.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub seq: u64,
    pub time: String,
    /// The chain the record belongs to, where a trail has several (one per
    /// replica on Redis); absent on a trail of one chain. Inside the hash,
    /// so a record cannot be passed off as another chain's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    #[serde(flatten)]
    pub entry: Entry,
    pub prev: String,
    pub hash: String,
}

/// The canonical form of a record: what its hash is computed over.
pub fn canonical(record: &Value) -> Vec<u8> {
    match record.as_object() {
        Some(m) => canonical_map(m),
        // A JSON value always serializes (its keys are strings).
        None => serde_json::to_vec(record).expect("a JSON value serializes"),
    }
}

/// A record's object in canonical form, `hash` left out — written from the
/// map as it stands (its keys are in byte order), not from a copy.
fn canonical_map(m: &serde_json::Map<String, Value>) -> Vec<u8> {
    use serde::ser::{SerializeMap, Serializer};
    let mut out = Vec::with_capacity(1024);
    let mut ser = serde_json::Serializer::new(&mut out);
    let kept = m.iter().filter(|(k, _)| k.as_str() != "hash");
    // A JSON value always serializes (its keys are strings).
    let mut map = ser
        .serialize_map(Some(kept.clone().count()))
        .expect("a JSON value serializes");
    for (k, v) in kept {
        map.serialize_entry(k, v).expect("a JSON value serializes");
    }
    map.end().expect("a JSON value serializes");
    out
}

/// The hash of a record's canonical form (its `hash` field ignored).
pub fn hash_value(record: &Value, key: Option<&[u8]>) -> String {
    hash_bytes(&canonical(record), key)
}

fn hash_bytes(bytes: &[u8], key: Option<&[u8]>) -> String {
    match key {
        Some(k) => {
            let mut mac = Hmac::<Sha256>::new_from_slice(k).expect("HMAC takes any key");
            mac.update(bytes);
            hex_lower(&mac.finalize().into_bytes())
        }
        None => hex_lower(&Sha256::digest(bytes)),
    }
}

/// The running head of a chain.
#[derive(Clone)]
pub struct Chain {
    pub seq: u64,
    pub prev: String,
    key: Option<Arc<[u8]>>,
    /// Written into every record (`Record::chain`), where a trail has several.
    name: Option<Arc<str>>,
    /// The time of the last record this writer sealed: records of one
    /// writer never go back in time, even when the system clock does.
    last: Option<SystemTime>,
}

impl Default for Chain {
    fn default() -> Self {
        Chain::new(None)
    }
}

impl Chain {
    pub fn new(key: Option<Arc<[u8]>>) -> Chain {
        Chain {
            seq: 0,
            prev: GENESIS.to_owned(),
            key,
            name: None,
            last: None,
        }
    }

    /// A chain whose records all carry `name` (one of a trail's several chains).
    pub fn named(key: Option<Arc<[u8]>>, name: &str) -> Chain {
        Chain {
            name: Some(Arc::from(name)),
            ..Chain::new(key)
        }
    }

    /// Continue after a record already in the trail.
    pub fn resume(&mut self, seq: u64, hash: String) {
        self.seq = seq;
        self.prev = hash;
    }

    pub fn head(&self) -> Receipt {
        Receipt {
            seq: self.seq,
            hash: self.prev.clone(),
        }
    }

    /// Give the entry the next place in the chain, at the present time (or
    /// at this writer's last record's, should the clock have gone back).
    pub fn seal(&mut self, entry: Entry) -> Record {
        let now = SystemTime::now();
        let time = self.last.map_or(now, |last| last.max(now));
        self.seal_at(entry, time)
    }

    /// `seal` with the record's time given.
    pub fn seal_at(&mut self, entry: Entry, time: SystemTime) -> Record {
        let mut record = Record {
            seq: self.seq + 1,
            time: humantime::format_rfc3339_micros(time).to_string(),
            chain: self.name.as_deref().map(str::to_owned),
            entry,
            prev: self.prev.clone(),
            hash: String::new(),
        };
        let v = serde_json::to_value(&record).unwrap_or(Value::Null);
        record.hash = hash_value(&v, self.key.as_deref());
        self.seq = record.seq;
        self.prev = record.hash.clone();
        self.last = Some(time);
        record
    }
}

/// Replace the values at `pointers` (`*` = any array item) with keyed HMACs,
/// so a record can show *that* a sensitive field was equal across calls
/// without holding it.
pub(crate) fn mask(args: &Value, pointers: &[String], key: &[u8]) -> Value {
    let mut out = args.clone();
    for p in pointers {
        let tokens: Vec<String> = p
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        mask_at(&mut out, &tokens, key);
    }
    out
}

fn mask_at(v: &mut Value, tokens: &[String], key: &[u8]) {
    let Some((first, rest)) = tokens.split_first() else {
        // A JSON value always serializes (its keys are strings).
        let bytes = serde_json::to_vec(v).expect("a JSON value serializes");
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
        mac.update(&bytes);
        *v = Value::String(format!(
            "hmac-sha256:{}",
            hex_lower(&mac.finalize().into_bytes())
        ));
        return;
    };
    match v {
        Value::Object(m) => {
            if let Some(child) = m.get_mut(first) {
                mask_at(child, rest, key);
            }
        }
        Value::Array(items) if first == "*" => items.iter_mut().for_each(|i| mask_at(i, rest, key)),
        Value::Array(items) => {
            if let Some(child) = first.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                mask_at(child, rest, key);
            }
        }
        _ => {}
    }
}

/// A keyed fingerprint of a credential version: equal values give equal
/// fingerprints under one key, and nothing about the value can be learned.
pub(crate) fn fingerprint(value: &[u8], key: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(b"toolgate credential fingerprint\0");
    mac.update(value);
    let out = hex_lower(&mac.finalize().into_bytes());
    out[..32].to_owned()
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only the type: the chain key is never shown.
        f.debug_struct("Chain").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_chain_and_hash_canonically() {
        let mut c = Chain::new(None);
        let a = c.seal(Entry::new(crate::audit::record::Event::Executed));
        let b = c.seal(Entry::new(crate::audit::record::Event::Failed));
        assert_eq!(a.seq, 1);
        assert_eq!(a.prev, GENESIS);
        assert_eq!(b.prev, a.hash);
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(hash_value(&v, None), b.hash);
        let mut k = Chain::new(Some(Arc::from(&b"k3y"[..])));
        let h = k.seal(Entry::new(crate::audit::record::Event::Executed));
        assert_ne!(hash_value(&serde_json::to_value(&h).unwrap(), None), h.hash);
        assert_eq!(
            hash_value(&serde_json::to_value(&h).unwrap(), Some(b"k3y")),
            h.hash
        );
    }

    #[test]
    fn masking_replaces_only_the_pointed_values() {
        let args = json!({"name": "A", "card": "4111111111111111", "people": [{"ssn": "1"}, {"ssn": "2"}]});
        let m = mask(&args, &["/card".into(), "/people/*/ssn".into()], b"key");
        assert_eq!(m["name"], "A");
        assert!(m["card"].as_str().unwrap().starts_with("hmac-sha256:"));
        assert!(!m.to_string().contains("4111111111111111"));
        assert_ne!(m["people"][0]["ssn"], m["people"][1]["ssn"]);
        assert_eq!(mask(&args, &["/card".into()], b"key")["card"], m["card"]);
    }
}
