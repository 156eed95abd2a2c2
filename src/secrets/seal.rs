//! Sealing secret material the store keeps (OAuth2 tokens): XChaCha20-Poly1305
//! under a key derived from `store.encryption_key`.
//!
//! A sealed value is `tg1` ‖ 24-byte random nonce ‖ ciphertext ‖ tag. The
//! associated data names what the value is (environment, credential, kind),
//! so a sealed value moved to another key of the store does not open. The
//! key is the SHA-256 of a label and the configured secret, so any
//! high-entropy text works as `encryption_key`.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const MAGIC: &[u8] = b"tg1";
const NONCE: usize = 24;

pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    pub fn new(secret: &SecretString) -> Sealer {
        let mut h = Sha256::new();
        h.update(b"toolgate store encryption key\0");
        h.update(secret.expose_secret().as_bytes());
        let key = Zeroizing::new(<[u8; 32]>::from(h.finalize()));
        Sealer {
            cipher: XChaCha20Poly1305::new(&(*key).into()),
        }
    }

    pub(crate) fn seal(&self, aad: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 seals any message toolgate stores");
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// The plaintext, or None when the value was not sealed by this key for `aad`.
    pub(crate) fn open(&self, aad: &str, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let rest = sealed.strip_prefix(MAGIC)?;
        if rest.len() < NONCE {
            return None;
        }
        let (nonce, body) = rest.split_at(NONCE);
        let nonce: [u8; NONCE] = nonce.try_into().ok()?;
        self.cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: body,
                    aad: aad.as_bytes(),
                },
            )
            .ok()
            .map(Zeroizing::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_key_and_the_same_label() {
        let s = Sealer::new(&SecretString::from("k3y material +/=&%"));
        let sealed = s.seal("prod/crm/token", b"access-token-value");
        assert!(!sealed.windows(18).any(|w| w == b"access-token-value"));
        assert_eq!(
            s.open("prod/crm/token", &sealed).unwrap().as_slice(),
            b"access-token-value"
        );
        assert!(s.open("prod/other/token", &sealed).is_none());
        let other = Sealer::new(&SecretString::from("another key"));
        assert!(other.open("prod/crm/token", &sealed).is_none());
        let mut tampered = sealed;
        *tampered.last_mut().unwrap() ^= 1;
        assert!(s.open("prod/crm/token", &tampered).is_none());
        // A fresh nonce each time.
        assert_ne!(s.seal("a", b"x"), s.seal("a", b"x"));
    }
}
