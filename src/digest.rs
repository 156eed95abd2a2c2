//! Keyed digests: the only hashes of arguments or of a request that
//! toolgate stores or shows (audit records, actions, dead letters,
//! idempotency records). A bare SHA-256 of a low-entropy argument (a PIN, a
//! one-word answer) can be reversed by trying every value; an HMAC cannot
//! without the key. Digests read `hmac-sha256:<hex>`.
//!
//! The key is derived from `audit.hmac_key` when it is set, else from
//! `store.encryption_key`; else one random key per deployment is kept in
//! the store (created by whichever process needs it first), so that every
//! replica and every restart computes the same digest — an idempotency key
//! replayed after a restart still matches its arguments.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::store::{Inserted, Ns, Store, StoreError};

/// How every keyed digest begins.
pub const PREFIX: &str = "hmac-sha256:";

/// Where the deployment's key is kept when no configured secret derives it.
const STORE_KEY: &str = "digest-key";

/// The key of every digest. Prints nothing.
#[derive(Clone)]
pub struct DigestKey(Arc<[u8; 32]>);

impl std::fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DigestKey(..)")
    }
}

impl DigestKey {
    /// The key derived from a configured secret (domain-separated, so it
    /// differs from every other use of that secret).
    pub fn derive(secret: &[u8]) -> DigestKey {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key");
        mac.update(b"toolgate digest key v1");
        DigestKey(Arc::new(mac.finalize().into_bytes().into()))
    }

    /// A fresh random key.
    pub fn random() -> DigestKey {
        let mut k = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut k);
        DigestKey(Arc::new(k))
    }

    /// The deployment's key kept in `store`: created once, then shared.
    pub async fn kept_in(store: &dyn Store) -> Result<DigestKey, StoreError> {
        let fresh = DigestKey::random();
        let bytes: &[u8] = &fresh.0[..];
        match store
            .insert_new(Ns::Secrets, STORE_KEY, bytes, None)
            .await?
        {
            Inserted::New => Ok(fresh),
            Inserted::Exists(v) => <[u8; 32]>::try_from(v.value.as_slice())
                .map(|k| DigestKey(Arc::new(k)))
                .map_err(|_| StoreError("the stored digest key is damaged".into())),
        }
    }

    /// An HMAC to feed parts into, under this key.
    pub(crate) fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.0[..]).expect("HMAC takes any key")
    }

    /// The digest of a JSON value's serialization (object keys are ordered).
    pub fn json(&self, v: &Value) -> String {
        let mut mac = self.mac();
        // Writing a `Value` cannot fail: its keys are strings.
        serde_json::to_writer(MacWriter(&mut mac), v).expect("a JSON value always serializes");
        finish(mac)
    }
}

/// `hmac-sha256:<hex>` of what was fed in.
pub(crate) fn finish(mac: Hmac<Sha256>) -> String {
    let mut out = String::with_capacity(PREFIX.len() + 64);
    out.push_str(PREFIX);
    push_hex(&mut out, &mac.finalize().into_bytes());
    out
}

/// Lower-case hex of `bytes`, as `hex::encode` gives it, written without
/// a per-character iterator (the hashes of every call are encoded so).
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

struct MacWriter<'a>(&'a mut Hmac<Sha256>);

impl std::io::Write for MacWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_keyed_and_stable() {
        let a = DigestKey::derive(b"one");
        let v = serde_json::json!({"pin": "0427", "b": [1, 2]});
        assert_eq!(a.json(&v), DigestKey::derive(b"one").json(&v));
        assert_ne!(a.json(&v), DigestKey::derive(b"two").json(&v));
        assert!(a.json(&v).starts_with(PREFIX));
        // Not the bare hash anyone could compute.
        let bare = hex::encode(<Sha256 as sha2::Digest>::digest(v.to_string()));
        assert!(!a.json(&v).contains(&bare));
    }

    #[test]
    fn hex_is_that_of_the_hex_crate() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(hex_lower(&bytes), hex::encode(&bytes));
        assert_eq!(hex_lower(&[]), "");
    }
}
