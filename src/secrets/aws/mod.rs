//! The `aws_secrets_manager` secret source: a secret (or a key of its JSON
//! `SecretString`) in AWS Secrets Manager or a service that speaks its API.
//!
//! Owns, per credential, the cached value, when it was read and one read at
//! a time; for a `secret_id` with `{agent}` or `{subject}`, one such slot
//! per caller, made on first use, so one caller can never reach another's
//! value. A value is used for `cache_seconds`, then read again: a new
//! `AWSCURRENT` version is used without restart. Whenever the version read
//! changes, the `AWSPREVIOUS` version is read too and made known to the
//! redactor, so the value just rotated away stays redacted even if this
//! process never used it. While AWS cannot be read once the cache time has
//! passed, the credential fails closed.
//!
//! The HTTP client, the signer and the credential chain are
//! [`client::Client`], shared by every AWS credential. Never logs a value or
//! puts one in an error.

mod chain;
mod client;
mod keys;
mod profile;
mod sigv4;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub(super) use client::Client;
use client::FetchError;
use secrecy::{ExposeSecret, SecretString};

use super::source::{Context, Loaded, SecretSource, Versions};
use crate::config::{AwsSecretDef, CredentialDef};
use crate::store::now_ms;

/// The stage whose value stays known after a rotation.
const PREVIOUS: &str = "AWSPREVIOUS";

/// One secret id's value.
struct Slot {
    secret_id: String,
    /// The redactor's history key (the secret id, for a templated one).
    key: Option<String>,
    /// Tagged with the Secrets Manager version id.
    versions: Versions<String>,
    fetched_ms: AtomicU64,
    fetch_lock: tokio::sync::Mutex<()>,
    /// The version id for which `AWSPREVIOUS` was last read.
    previous_for: Mutex<Option<String>>,
}

impl Slot {
    fn new(def: &Arc<CredentialDef>, secret_id: String, key: Option<&str>) -> Slot {
        Slot {
            versions: Versions::new(def.clone(), key),
            key: key.map(str::to_owned),
            secret_id,
            fetched_ms: AtomicU64::new(0),
            fetch_lock: tokio::sync::Mutex::new(()),
            previous_for: Mutex::new(None),
        }
    }
}

/// A credential read from AWS Secrets Manager.
pub(super) struct AwsSecret {
    aws: Box<AwsSecretDef>,
    client: Option<Arc<Client>>,
    ctx: Arc<Context>,
    def: Arc<CredentialDef>,
    one: Slot,
    per_agent: bool,
    per_subject: bool,
    /// With placeholders: one slot per (agent, subject).
    callers: Mutex<BTreeMap<(String, String), Arc<Slot>>>,
}

impl std::fmt::Debug for AwsSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsSecret")
            .field("secret_id", &self.aws.secret_id)
            .field("field", &self.aws.field)
            .field("version", &self.one.versions.loaded().map(|l| l.version))
            .finish_non_exhaustive()
    }
}

/// A caller's agent or subject as it may stand in a secret name: what a
/// session label allows, less `:` (so no one can write an ARN).
fn fits_secret_name(s: &str) -> bool {
    crate::sessions::valid_label(s) && !s.contains(':')
}

impl AwsSecret {
    pub(super) fn new(
        def: Arc<CredentialDef>,
        aws: &AwsSecretDef,
        client: Option<Arc<Client>>,
        ctx: Arc<Context>,
    ) -> Self {
        AwsSecret {
            per_agent: aws.secret_id.contains("{agent}"),
            per_subject: aws.secret_id.contains("{subject}"),
            one: Slot::new(&def, aws.secret_id.clone(), None),
            aws: Box::new(aws.clone()),
            client,
            ctx,
            def,
            callers: Mutex::new(BTreeMap::new()),
        }
    }

    fn slot(&self, agent: Option<&str>, subject: Option<&str>) -> Result<Arc<Slot>, String> {
        let pick = |on: bool, v: Option<&str>, what: &str| -> Result<String, String> {
            if !on {
                return Ok(String::new());
            }
            v.filter(|v| fits_secret_name(v))
                .map(str::to_owned)
                .ok_or_else(|| {
                    format!("its secret_id names the {what}, and the call gives no usable {what}")
                })
        };
        let agent = pick(self.per_agent, agent, "agent")?;
        let subject = pick(self.per_subject, subject, "subject")?;
        let mut map = self.callers.lock().unwrap_or_else(|p| p.into_inner());
        let slot = map
            .entry((agent.clone(), subject.clone()))
            .or_insert_with(|| {
                let id = self
                    .aws
                    .secret_id
                    .replace("{agent}", &agent)
                    .replace("{subject}", &subject);
                Arc::new(Slot::new(&self.def, id.clone(), Some(&id)))
            })
            .clone();
        Ok(slot)
    }

    /// The field configured, out of one version's text.
    fn value(&self, slot: &Slot, text: &SecretString) -> Result<SecretString, String> {
        let Some(field) = &self.aws.field else {
            return Ok(text.clone());
        };
        let json: serde_json::Value = serde_json::from_str(text.expose_secret()).map_err(|_| {
            format!(
                "{}: the SecretString is not JSON, so it has no field {field}",
                slot.secret_id
            )
        })?;
        json[field.as_str()]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(|s| SecretString::from(s.to_owned()))
            .ok_or_else(|| {
                format!(
                    "{}: the secret's JSON has no text field {field}",
                    slot.secret_id
                )
            })
    }

    /// The cached value while fresh; otherwise read (one read at a time).
    async fn read(&self, slot: &Slot, force: bool) -> Result<Arc<Loaded>, String> {
        let aws = self.client.as_ref().ok_or("no AWS client")?;
        let cache_ms = self.aws.cache.as_millis() as u64;
        let age = || now_ms().saturating_sub(slot.fetched_ms.load(Ordering::Acquire));
        let fresh = || slot.versions.loaded().filter(|_| age() < cache_ms);
        if !force && let Some(c) = fresh() {
            return Ok(c);
        }
        let _one = slot.fetch_lock.lock().await;
        if !force && let Some(c) = fresh() {
            return Ok(c);
        }
        let stage = self.aws.version_stage.as_str();
        let got = aws
            .get(&self.aws, &slot.secret_id, stage)
            .await
            .map_err(FetchError::reason)?;
        let value = self.value(slot, &got.text)?;
        self.learn_previous(aws, slot, &got.version_id).await;
        let loaded = slot
            .versions
            .install(&self.ctx.known, value, got.version_id);
        slot.fetched_ms.store(now_ms(), Ordering::Release);
        Ok(loaded)
    }

    /// When the version read is new to this slot, read `AWSPREVIOUS` and
    /// make its value known to the redactor. A secret with one version has
    /// none; another failure is tried again at the next read.
    async fn learn_previous(&self, aws: &Client, slot: &Slot, current: &str) {
        let seen = slot
            .previous_for
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_deref()
            == Some(current);
        if seen || self.aws.version_stage == PREVIOUS {
            return;
        }
        match aws.get(&self.aws, &slot.secret_id, PREVIOUS).await {
            Ok(prev) => {
                if let Ok(v) = self.value(slot, &prev.text) {
                    self.ctx.known.learn(&self.def, slot.key.as_deref(), &v);
                }
            }
            Err(FetchError::NotFound(_)) => {}
            Err(FetchError::Other(e)) => {
                tracing::warn!(credential = %self.def.name, error = %e, "cannot read the AWSPREVIOUS version; trying again at the next read");
                return;
            }
        }
        *slot.previous_for.lock().unwrap_or_else(|p| p.into_inner()) = Some(current.to_owned());
    }

    fn templated(&self) -> bool {
        self.per_agent || self.per_subject
    }
}

#[async_trait::async_trait]
impl SecretSource for AwsSecret {
    fn per_subject(&self) -> bool {
        self.per_subject
    }

    fn per_agent(&self) -> bool {
        self.per_agent
    }

    async fn current(&self, subject: Option<&str>) -> Result<Arc<Loaded>, String> {
        self.current_as(None, subject).await
    }

    async fn current_as(
        &self,
        agent: Option<&str>,
        subject: Option<&str>,
    ) -> Result<Arc<Loaded>, String> {
        if !self.templated() {
            return self.read(&self.one, false).await;
        }
        let slot = self.slot(agent, subject)?;
        self.read(&slot, false).await
    }

    async fn reload(&self, _since_ms: u64) -> Result<u64, String> {
        if !self.templated() {
            return self.read(&self.one, true).await.map(|l| l.version);
        }
        // Each caller's value is read again at its next use.
        let slots: Vec<Arc<Slot>> = self
            .callers
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
