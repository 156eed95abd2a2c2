//! The `vault` secret source: a field of a Vault / OpenBao KV v2 secret.
//!
//! Owns, per credential, the cached value and when it was read, and one
//! read at a time; for a path with `{subject}`, one such slot per subject,
//! made on first use, so one subject can never reach another's value. A
//! value is used for `vault.cache_seconds`; while Vault cannot be read the
//! last value serves for `vault.max_stale_seconds` more, then the
//! credential fails closed. The HTTP client (and its AppRole login) is
//! [`client::Client`], shared by every Vault credential.
//!
//! A path without `{subject}` is writable: a rotation writes a new version
//! with check-and-set on the version it read ([`client::Client::write`]).
//!
//! Never logs a value or puts one in an error.

mod client;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub(super) use client::Client;

use secrecy::SecretString;

use super::source::Loaded;
use super::source::{Context, SecretSource, Versions};
use crate::config::CredentialDef;
use crate::store::now_ms;

/// One path's value: its versions, when it was last read, one read at a time.
struct Slot {
    path: String,
    versions: Versions,
    /// When Vault was last read successfully, ms since the epoch.
    fetched_ms: AtomicU64,
    fetch_lock: tokio::sync::Mutex<()>,
}

impl Slot {
    fn new(def: &Arc<CredentialDef>, path: String, subject: Option<&str>) -> Slot {
        Slot {
            path,
            versions: Versions::new(def.clone(), subject),
            fetched_ms: AtomicU64::new(0),
            fetch_lock: tokio::sync::Mutex::new(()),
        }
    }

    fn age_ms(&self) -> u64 {
        now_ms().saturating_sub(self.fetched_ms.load(Ordering::Acquire))
    }
}

/// A credential read from Vault.
pub(super) struct VaultSecret {
    field: String,
    client: Option<Arc<Client>>,
    ctx: Arc<Context>,
    def: Arc<CredentialDef>,
    /// The credential's own slot (a path without `{subject}`).
    one: Slot,
    /// With `{subject}` in the path: one slot per subject.
    subjects: Option<std::sync::Mutex<BTreeMap<String, Arc<Slot>>>>,
}

impl std::fmt::Debug for VaultSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultSecret")
            .field("path", &self.one.path)
            .field("field", &self.field)
            .field("version", &self.one.versions.loaded().map(|l| l.version))
            .field("per_subject", &self.subjects.is_some())
            .finish_non_exhaustive()
    }
}

impl VaultSecret {
    pub(super) fn new(
        def: Arc<CredentialDef>,
        path: &str,
        field: &str,
        client: Option<Arc<Client>>,
        ctx: Arc<Context>,
    ) -> Self {
        VaultSecret {
            field: field.to_owned(),
            client,
            ctx,
            one: Slot::new(&def, path.to_owned(), None),
            subjects: path
                .contains("{subject}")
                .then(|| std::sync::Mutex::new(BTreeMap::new())),
            def,
        }
    }

    /// The slot of one subject, made on first use.
    fn for_subject(
        &self,
        subjects: &std::sync::Mutex<BTreeMap<String, Arc<Slot>>>,
        subject: &str,
    ) -> Arc<Slot> {
        let mut map = subjects.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(subject.to_owned())
            .or_insert_with(|| {
                let path = self.one.path.replace("{subject}", subject);
                Arc::new(Slot::new(&self.def, path, Some(subject)))
            })
            .clone()
    }

    /// The cached value while fresh; otherwise read (one read at a time),
    /// installing a new version; while Vault is down, the last value for at
    /// most `max_stale`, then fail closed.
    async fn read(&self, slot: &Slot, force: bool) -> Result<Arc<Loaded>, String> {
        let vault = self.client.as_ref().ok_or("no Vault client")?;
        let cache_ms = vault.cache().as_millis() as u64;
        let fresh = || slot.versions.loaded().filter(|_| slot.age_ms() < cache_ms);
        if !force && let Some(c) = fresh() {
            return Ok(c);
        }
        let _one = slot.fetch_lock.lock().await;
        if !force && let Some(c) = fresh() {
            return Ok(c);
        }
        match vault.read(&slot.path, &self.field).await {
            Ok(value) => {
                let loaded = slot.versions.install(&self.ctx.known, value, ());
                slot.fetched_ms.store(now_ms(), Ordering::Release);
                Ok(loaded)
            }
            Err(e) => match slot.versions.loaded() {
                Some(c)
                    if slot.age_ms() < (vault.cache() + vault.max_stale()).as_millis() as u64 =>
                {
                    tracing::warn!(credential = %self.def.name, error = %e, "Vault unreachable; using the last value read");
                    Ok(c)
                }
                _ => Err(e),
            },
        }
    }
}

#[async_trait::async_trait]
impl SecretSource for VaultSecret {
    fn per_subject(&self) -> bool {
        self.subjects.is_some()
    }

    async fn current(&self, subject: Option<&str>) -> Result<Arc<Loaded>, String> {
        match (&self.subjects, subject) {
            (None, _) => self.read(&self.one, false).await,
            (Some(subjects), Some(s)) => self.read(&self.for_subject(subjects, s), false).await,
            (Some(_), None) => Err("it is per subject, and no subject was given".into()),
        }
    }

    async fn head(&self) -> Result<u64, String> {
        let vault = self.client.as_ref().ok_or("no Vault client")?;
        vault.head(&self.one.path).await
    }

    async fn read_at(&self, version: u64) -> Result<SecretString, String> {
        let vault = self.client.as_ref().ok_or("no Vault client")?;
        let value = vault.read_at(&self.one.path, &self.field, version).await?;
        self.ctx.known.learn(&self.def, None, &value);
        Ok(value)
    }

    async fn write(&self, value: &SecretString, after: u64) -> Result<u64, String> {
        if self.subjects.is_some() {
            return Err("a per-subject path is not written".into());
        }
        let vault = self.client.as_ref().ok_or("no Vault client")?;
        self.ctx.known.learn(&self.def, None, value);
        vault.write(&self.one.path, &self.field, value, after).await
    }

    async fn reload(&self, _since_ms: u64) -> Result<u64, String> {
        let Some(subjects) = &self.subjects else {
            return self.read(&self.one, true).await.map(|l| l.version);
        };
        // Each subject's value is read again at its next use.
        let slots: Vec<Arc<Slot>> = subjects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for slot in slots {
            slot.fetched_ms.store(0, Ordering::Release);
        }
        Ok(0)
    }
}
