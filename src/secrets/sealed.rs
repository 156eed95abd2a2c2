//! The `store` secret source: a credential's versions kept in toolgate's
//! own store, **sealed** with `store.encryption_key` ([`super::seal`]), so
//! that toolgate can rotate a key it holds nowhere else.
//!
//! One record per credential (`Ns::Secrets`, `store-source/<name>`) holds
//! the newest few versions, sealed together under a label naming the
//! environment and the credential. Before the first rotation there is no
//! record: the first use reads `initial` (any one-value source) once and
//! seals it as version 1; from then on the store is the credential's only
//! source, and `initial` is not read again (a restart uses the rotated
//! value). A rotation writes the version after the one it read, with a
//! compare-and-swap on the record, so of two writers only one wins; every
//! replica reads the new version on the reload announcement.
//!
//! Every value kept is known to the redactor when the record is read, so a
//! previous key stays redacted through its grace period, also after a
//! restart. A record that does not open with the configured key fails
//! closed (it is never replaced by `initial`). Never logs a value or puts
//! one in an error.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::source::{Context, Loaded, SecretSource, SharedStore, Versions};
use crate::config::CredentialDef;
use crate::store::{Inserted, Ns, Swapped};

/// How many versions the record keeps: the one in use, the one in its
/// grace period, and one before it.
const KEPT: usize = 3;

/// One kept version (its text zeroized on drop).
#[derive(Serialize, Deserialize)]
struct Kept {
    version: u64,
    value: String,
}

impl Drop for Kept {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

/// What the sealed record holds: versions oldest first, the newest last.
#[derive(Serialize, Deserialize)]
struct Record {
    versions: Vec<Kept>,
}

impl Record {
    fn head(&self) -> u64 {
        self.versions.last().map_or(0, |k| k.version)
    }
}

/// A credential whose versions toolgate keeps, sealed, in its store.
pub(super) struct StoreSecret {
    def: Arc<CredentialDef>,
    /// Read once, when the store has no record yet.
    initial: Arc<dyn SecretSource>,
    ctx: Arc<Context>,
    /// Tagged with the store's version number.
    versions: Versions<u64>,
    read_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for StoreSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSecret")
            .field("initial", &self.initial)
            .field("version", &self.versions.current().map(|v| v.tag))
            .finish_non_exhaustive()
    }
}

impl StoreSecret {
    pub(super) fn new(
        def: Arc<CredentialDef>,
        initial: Arc<dyn SecretSource>,
        ctx: Arc<Context>,
    ) -> Self {
        StoreSecret {
            versions: Versions::new(def.clone(), None),
            def,
            initial,
            ctx,
            read_lock: tokio::sync::Mutex::new(()),
        }
    }

    fn shared(&self) -> Result<&SharedStore, String> {
        self.ctx
            .shared
            .get()
            .ok_or_else(|| "a store source needs store.encryption_key".to_owned())
    }

    fn key(&self) -> String {
        format!("store-source/{}", self.def.name)
    }

    fn aad(&self, sh: &SharedStore) -> String {
        format!("{}/store-source/{}", sh.environment, self.def.name)
    }

    fn seal(&self, sh: &SharedStore, r: &Record) -> Result<Vec<u8>, String> {
        let plain = Zeroizing::new(
            serde_json::to_vec(r).map_err(|e| format!("cannot encode the versions: {e}"))?,
        );
        Ok(sh.sealer.seal(&self.aad(sh), &plain))
    }

    /// The record and the store's version of it; made from `initial` (read
    /// once, here) when there is none. Every value in it is learned by the
    /// redactor, oldest first.
    async fn fetch(&self) -> Result<(u64, Record), String> {
        let sh = self.shared()?;
        let key = self.key();
        loop {
            let got = sh
                .store
                .get(Ns::Secrets, &key)
                .await
                .map_err(|e| e.to_string())?;
            let Some(v) = got else {
                let first = self.initial.current(None).await?;
                let r = Record {
                    versions: vec![Kept {
                        version: 1,
                        value: first.value.expose_secret().to_owned(),
                    }],
                };
                let sealed = self.seal(sh, &r)?;
                if let Inserted::New = sh
                    .store
                    .insert_new(Ns::Secrets, &key, &sealed, None)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    tracing::info!(credential = %self.def.name, "first value sealed into the store");
                }
                // Read back what won (another replica may have sealed first).
                continue;
            };
            let plain = sh
                .sealer
                .open(&self.aad(sh), &v.value)
                .ok_or("the stored versions do not open with store.encryption_key")?;
            let r: Record = serde_json::from_slice(&plain)
                .map_err(|_| "the stored versions cannot be read".to_owned())?;
            if r.versions.is_empty() {
                return Err("the stored record holds no version".into());
            }
            for k in &r.versions {
                self.ctx
                    .known
                    .learn(&self.def, None, &SecretString::from(k.value.clone()));
            }
            return Ok((v.version, r));
        }
    }

    /// Read the store and make its newest version current.
    async fn load(&self) -> Result<Arc<Loaded>, String> {
        let _one = self.read_lock.lock().await;
        let (_, r) = self.fetch().await?;
        let newest = r
            .versions
            .last()
            .ok_or("the stored record holds no version")?;
        Ok(self.versions.install(
            &self.ctx.known,
            SecretString::from(newest.value.clone()),
            newest.version,
        ))
    }
}

#[async_trait::async_trait]
impl SecretSource for StoreSecret {
    async fn current(&self, _subject: Option<&str>) -> Result<Arc<Loaded>, String> {
        match self.versions.loaded() {
            Some(c) => Ok(c),
            None => self.load().await,
        }
    }

    async fn reload(&self, _since_ms: u64) -> Result<u64, String> {
        self.load().await.map(|l| l.version)
    }

    async fn head(&self) -> Result<u64, String> {
        Ok(self.fetch().await?.1.head())
    }

    async fn read_at(&self, version: u64) -> Result<SecretString, String> {
        let (_, r) = self.fetch().await?;
        r.versions
            .iter()
            .find(|k| k.version == version)
            .map(|k| SecretString::from(k.value.clone()))
            .ok_or_else(|| format!("version {version} is no longer kept in the store"))
    }

    async fn write(&self, value: &SecretString, after: u64) -> Result<u64, String> {
        self.ctx.known.learn(&self.def, None, value);
        let sh = self.shared()?;
        loop {
            let (at, mut r) = self.fetch().await?;
            let head = r.head();
            if head != after {
                return Err(format!(
                    "the store holds version {head}, not {after}: another writer came first"
                ));
            }
            r.versions.push(Kept {
                version: head + 1,
                value: value.expose_secret().to_owned(),
            });
            let extra = r.versions.len().saturating_sub(KEPT);
            r.versions.drain(..extra);
            let sealed = self.seal(sh, &r)?;
            match sh
                .store
                .compare_and_swap(Ns::Secrets, &self.key(), at, &sealed, None)
                .await
                .map_err(|e| e.to_string())?
            {
                Swapped::Done(_) => return Ok(head + 1),
                // Changed meanwhile: looked at again (a new head is refused).
                Swapped::Conflict(_) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::config::{Inject, Loc, SourceDef};
    use crate::redact::{RedactorBuilder, SharedRedactor};
    use crate::secrets::known::Known;
    use crate::secrets::seal::Sealer;
    use crate::secrets::vars::MapEnv;
    use crate::store::{MemoryStore, Store};

    fn def(source: SourceDef) -> Arc<CredentialDef> {
        Arc::new(CredentialDef {
            name: "crm".into(),
            environment: "test".into(),
            source,
            scopes: Default::default(),
            inject: Inject::Header {
                name: http::header::AUTHORIZATION,
                prefix: String::new(),
                suffix: String::new(),
            },
            canary: false,
            max_age_days: None,
            rotated_at: None,
            rotation: None,
            loc: Loc {
                file: "toolgate.yaml".into(),
                line: 1,
                key: "crm".into(),
            },
        })
    }

    fn secret(label: &str) -> String {
        format!("{label}-+/=&%\"\\-{:032x}", rand::random::<u128>())
    }

    /// One process's store source over `store`, its `initial` the variable
    /// FIRST = `first`, sealed with `key`.
    fn replica(store: &Arc<dyn Store>, first: &str, key: &str) -> StoreSecret {
        let env = Arc::new(MapEnv::new([("FIRST".to_owned(), first.to_owned())].into()));
        let shared = OnceLock::new();
        let _ = shared.set(SharedStore {
            store: store.clone(),
            sealer: Sealer::new(&SecretString::from(key.to_owned())),
            environment: "test".into(),
        });
        let ctx = Arc::new(Context {
            env,
            known: Known::new(Arc::new(SharedRedactor::new(
                RedactorBuilder::new().build(),
            ))),
            shared,
            audit: OnceLock::new(),
            // The env source reads through `env`; no other kind is read here.
            local: |_, _| None,
        });
        let initial = def(SourceDef::Env("FIRST".into()));
        let outer = def(SourceDef::Store {
            initial: Box::new(initial.source.clone()),
        });
        let first = Arc::new(crate::secrets::env::EnvSecret::new(
            initial,
            "FIRST",
            ctx.clone(),
        ));
        StoreSecret::new(outer, first, ctx)
    }

    async fn value(s: &StoreSecret) -> String {
        s.current(None)
            .await
            .unwrap()
            .value
            .expose_secret()
            .to_owned()
    }

    #[tokio::test]
    async fn the_first_seal_wins_one_writer_wins_and_nothing_is_kept_in_clear() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let key = secret("key");
        let (first_a, first_b) = (secret("first-a"), secret("first-b"));
        let a = replica(&store, &first_a, &key);
        let b = replica(&store, &first_b, &key);
        // A sealed its `initial` first: B uses it, not its own.
        assert_eq!(value(&a).await, first_a);
        assert_eq!(value(&b).await, first_a);
        assert_eq!((a.head().await.unwrap(), b.head().await.unwrap()), (1, 1));
        // Both write after version 1: one wins.
        let (new_a, new_b) = (secret("new-a"), secret("new-b"));
        assert_eq!(a.write(&SecretString::from(new_a.clone()), 1).await, Ok(2));
        let lost = b.write(&SecretString::from(new_b.clone()), 1).await;
        assert!(lost.unwrap_err().contains("another writer came first"));
        // B switches on its reload; the previous version is still readable.
        b.reload(0).await.unwrap();
        assert_eq!(value(&b).await, new_a);
        assert_eq!(b.read_at(1).await.unwrap().expose_secret(), first_a);
        // Only the newest versions are kept.
        for v in 2..=4 {
            a.write(&SecretString::from(secret("more")), v)
                .await
                .unwrap();
        }
        assert!(a.read_at(1).await.is_err());
        assert!(a.read_at(3).await.is_ok());
        let raw = store
            .get(Ns::Secrets, "store-source/crm")
            .await
            .unwrap()
            .unwrap()
            .value;
        let text = String::from_utf8_lossy(&raw);
        for clear in [&first_a, &first_b, &new_a, &new_b, &key] {
            assert!(!text.contains(clear.as_str()), "a value in clear");
        }
        assert!(!format!("{a:?}").contains("first-a"));
        // Another key does not open the record, and `initial` does not replace it.
        let c = replica(&store, &first_b, &secret("other-key"));
        assert!(c.current(None).await.is_err());
        assert_eq!(a.head().await.unwrap(), 5);
    }
}
