//! The `state` of a connect URL: random, single use, expiring, and bound to
//! the credential, the subject, the PKCE verifier, the redirect URI and the
//! `return_to` it was made for.
//!
//! Kept in the store (so the callback may reach any replica) under the
//! SHA-256 of the state, sealed under `store.encryption_key` with that key
//! as associated data: neither the state nor the verifier is in the store
//! in clear. Taken by deleting it at the version read, so of two callbacks
//! with one state only one gets it.

use std::time::Duration;

use base64::Engine as _;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::secrets::seal::Sealer;
use crate::store::{Inserted, Ns, Store, StoreError, now_ms};

/// What a state stands for until its callback.
#[derive(Serialize, Deserialize)]
pub(crate) struct Pending {
    pub credential: String,
    pub subject: String,
    /// The PKCE verifier (RFC 7636 §4.1: 43 characters of base64url).
    verifier: String,
    pub redirect_uri: String,
    pub return_to: Option<String>,
    pub expires_ms: u64,
    /// Who asked for the connect URL (for the trail).
    pub agent: Option<String>,
    pub admin: Option<String>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.verifier.zeroize();
    }
}

impl Pending {
    pub(crate) fn verifier(&self) -> SecretString {
        SecretString::from(self.verifier.clone())
    }
}

/// What a connect URL is made of: the state and the PKCE challenge.
pub(crate) struct Fresh {
    pub state: SecretString,
    /// `BASE64URL(SHA-256(verifier))` (S256).
    pub challenge: String,
    pub verifier: SecretString,
}

/// 32 random bytes, base64url without padding (43 characters).
fn random() -> SecretString {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(bytes.as_mut());
    SecretString::from(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref()))
}

pub(crate) fn fresh() -> Fresh {
    let verifier = random();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.expose_secret().as_bytes()));
    Fresh {
        state: random(),
        challenge,
        verifier,
    }
}

fn hashed(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

/// Where states are kept.
pub(crate) struct States<'a> {
    pub store: &'a dyn Store,
    pub sealer: &'a Sealer,
    pub environment: &'a str,
}

impl States<'_> {
    fn key(hash: &str) -> String {
        format!("connect-state/{hash}")
    }

    fn aad(&self, hash: &str) -> String {
        format!("{}/connect-state/{hash}", self.environment)
    }

    /// Keep `pending` under `state` until it expires.
    pub(crate) async fn put(
        &self,
        state: &SecretString,
        mut pending: Pending,
        verifier: &SecretString,
        ttl: Duration,
    ) -> Result<u64, StoreError> {
        let hash = hashed(state.expose_secret());
        pending.verifier = verifier.expose_secret().to_owned();
        pending.expires_ms = now_ms() + ttl.as_millis() as u64;
        let plain =
            Zeroizing::new(serde_json::to_vec(&pending).map_err(|e| StoreError(e.to_string()))?);
        let sealed = self.sealer.seal(&self.aad(&hash), &plain);
        match self
            .store
            .insert_new(Ns::Secrets, &Self::key(&hash), &sealed, Some(ttl))
            .await?
        {
            Inserted::New => Ok(pending.expires_ms),
            // 256 random bits do not collide; were they to, refuse.
            Inserted::Exists(_) => Err(StoreError("a connect state collided".into())),
        }
    }

    /// The pending connection of `state`, taken (never again given out);
    /// `None` when the state is unknown, already used or expired.
    pub(crate) async fn take(&self, state: &str) -> Result<Option<Pending>, StoreError> {
        if state.is_empty() || state.len() > 200 {
            return Ok(None);
        }
        let hash = hashed(state);
        let key = Self::key(&hash);
        let Some(v) = self.store.get(Ns::Secrets, &key).await? else {
            return Ok(None);
        };
        if !self
            .store
            .delete(Ns::Secrets, &key, Some(v.version))
            .await?
        {
            return Ok(None);
        }
        let Some(plain) = self.sealer.open(&self.aad(&hash), &v.value) else {
            return Ok(None);
        };
        let pending: Option<Pending> = serde_json::from_slice(&plain).ok();
        Ok(pending.filter(|p| now_ms() < p.expires_ms))
    }
}

/// A pending connection before it is kept (its verifier and expiry are set by [`States::put`]).
pub(crate) fn pending(
    credential: &str,
    subject: &str,
    redirect_uri: &str,
    return_to: Option<String>,
    agent: Option<String>,
    admin: Option<String>,
) -> Pending {
    Pending {
        credential: credential.to_owned(),
        subject: subject.to_owned(),
        verifier: String::new(),
        redirect_uri: redirect_uri.to_owned(),
        return_to,
        expires_ms: 0,
        agent,
        admin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_the_s256_of_the_verifier_and_both_are_rfc7636_shaped() {
        let f = fresh();
        let v = f.verifier.expose_secret();
        assert_eq!(v.len(), 43);
        assert!(
            v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let expect =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
        assert_eq!(f.challenge, expect);
        assert_ne!(f.state.expose_secret(), v);
        assert_ne!(fresh().state.expose_secret(), f.state.expose_secret());
    }

    #[tokio::test]
    async fn a_state_is_taken_once_and_its_store_entry_holds_no_verifier() {
        let store = crate::store::MemoryStore::new();
        let sealer = Sealer::new(&SecretString::from("test key +/=&%"));
        let states = States {
            store: &store,
            sealer: &sealer,
            environment: "test",
        };
        let f = fresh();
        let p = pending(
            "crm",
            "alice",
            "http://gw/v1/oauth/callback",
            None,
            None,
            None,
        );
        states
            .put(&f.state, p, &f.verifier, Duration::from_secs(60))
            .await
            .unwrap();
        for (_, v) in store.list(Ns::Secrets, 10).await.unwrap() {
            let text = String::from_utf8_lossy(&v.value);
            assert!(!text.contains(f.verifier.expose_secret()));
            assert!(!text.contains("alice"));
        }
        let taken = states.take(f.state.expose_secret()).await.unwrap().unwrap();
        assert_eq!(taken.subject, "alice");
        assert_eq!(taken.verifier().expose_secret(), f.verifier.expose_secret());
        assert!(
            states
                .take(f.state.expose_secret())
                .await
                .unwrap()
                .is_none()
        );
        assert!(states.take("forged").await.unwrap().is_none());
    }
}
