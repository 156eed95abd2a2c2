//! The Vault / OpenBao KV v2 client: read a field of a secret (the newest
//! version or a given one), and write a new version with check-and-set.
//!
//! Authentication is a token (from a source, or `VAULT_TOKEN` as the Vault
//! CLI does) or AppRole (role and secret ids from sources; the client token
//! it returns is kept until shortly before its lease ends). The address is
//! `vault.address` or `VAULT_ADDR`. Redirects are not followed.
//!
//! Owns the HTTP client and the AppRole token, nothing per credential.
//! Errors name the status and the path, never a token or a value.

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::config::{SourceDef, VaultAuth, VaultConfig};
use crate::secrets::EnvSource;

/// Shared by every Vault credential of the process (one AppRole login).
pub(crate) struct Client {
    http: reqwest::Client,
    config: VaultConfig,
    env: Arc<dyn EnvSource>,
    /// An AppRole login's token and when to log in again.
    token: tokio::sync::Mutex<Option<(SecretString, Instant)>>,
    /// Reads the Vault token or AppRole ids from a local source.
    local: fn(&SourceDef, &dyn EnvSource) -> Option<SecretString>,
}

impl Client {
    pub(crate) fn new(
        config: &VaultConfig,
        env: Arc<dyn EnvSource>,
        local: fn(&SourceDef, &dyn EnvSource) -> Option<SecretString>,
    ) -> Result<Client, reqwest::Error> {
        Ok(Client {
            http: reqwest::Client::builder()
                .use_rustls_tls()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .build()?,
            config: config.clone(),
            env,
            token: tokio::sync::Mutex::new(None),
            local,
        })
    }

    pub(crate) fn cache(&self) -> Duration {
        self.config.cache
    }

    pub(crate) fn max_stale(&self) -> Duration {
        self.config.max_stale
    }

    fn address(&self) -> Result<String, String> {
        self.config
            .address
            .clone()
            .or_else(|| self.env.var("VAULT_ADDR"))
            .map(|a| a.trim_end_matches('/').to_owned())
            .ok_or_else(|| "no Vault address (vault.address or VAULT_ADDR)".to_owned())
    }

    fn read_local(&self, source: &SourceDef) -> Option<SecretString> {
        (self.local)(source, self.env.as_ref())
    }

    async fn token(&self, address: &str) -> Result<SecretString, String> {
        match &self.config.auth {
            VaultAuth::Token(Some(source)) => self
                .read_local(source)
                .ok_or_else(|| format!("cannot read the Vault token from {}", source.describe())),
            VaultAuth::Token(None) => self
                .env
                .var("VAULT_TOKEN")
                .filter(|t| !t.is_empty())
                .map(SecretString::from)
                .ok_or_else(|| "no Vault token (vault.token or VAULT_TOKEN)".to_owned()),
            VaultAuth::AppRole { role_id, secret_id } => {
                let mut cached = self.token.lock().await;
                if let Some((t, until)) = cached.as_ref()
                    && Instant::now() < *until
                {
                    return Ok(t.clone());
                }
                let role = self
                    .read_local(role_id)
                    .ok_or("cannot read the AppRole role_id")?;
                let secret = self
                    .read_local(secret_id)
                    .ok_or("cannot read the AppRole secret_id")?;
                let body = serde_json::json!({"role_id": role.expose_secret(), "secret_id": secret.expose_secret()});
                let r = self
                    .http
                    .post(format!("{address}/v1/auth/approle/login"))
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| format!("AppRole login failed: {}", e.without_url()))?;
                if !r.status().is_success() {
                    return Err(format!("AppRole login refused ({})", r.status().as_u16()));
                }
                let v: Value = r
                    .json()
                    .await
                    .map_err(|_| "AppRole login answered garbage".to_owned())?;
                let token = v["auth"]["client_token"]
                    .as_str()
                    .ok_or("AppRole login gave no token")?;
                let lease = v["auth"]["lease_duration"].as_u64().unwrap_or(300);
                let until = Instant::now()
                    + Duration::from_secs(lease.saturating_sub(lease / 10 + 5).max(1));
                let token = SecretString::from(token.to_owned());
                *cached = Some((token.clone(), until));
                Ok(token)
            }
        }
    }

    /// The secret's data and its version: the newest, or `version`.
    async fn get(
        &self,
        path: &str,
        version: Option<u64>,
    ) -> Result<(serde_json::Map<String, Value>, u64), String> {
        let address = self.address()?;
        let token = self.token(&address).await?;
        let mut url = format!("{address}/v1/{path}");
        if let Some(v) = version {
            url.push_str(&format!("?version={v}"));
        }
        let r = self
            .http
            .get(url)
            .header("X-Vault-Token", token.expose_secret())
            .send()
            .await
            .map_err(|e| format!("Vault unreachable: {}", e.without_url()))?;
        let status = r.status();
        if !status.is_success() {
            if matches!(status.as_u16(), 401 | 403) {
                // A rejected AppRole token is dropped so the next read logs in again.
                *self.token.lock().await = None;
            }
            return Err(format!("Vault answered {} for {path}", status.as_u16()));
        }
        let mut v: Value = r
            .json()
            .await
            .map_err(|_| "Vault answered garbage".to_owned())?;
        let version = v["data"]["metadata"]["version"].as_u64().unwrap_or(0);
        match v["data"]["data"].take() {
            Value::Object(data) => Ok((data, version)),
            _ => Err(format!("{path} has no data (deleted or destroyed)")),
        }
    }

    fn field(
        data: &serde_json::Map<String, Value>,
        path: &str,
        field: &str,
    ) -> Result<SecretString, String> {
        let value = data
            .get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("{path} has no field {field}"))?;
        Ok(SecretString::from(value.to_owned()))
    }

    /// The field's value (of the secret's newest version).
    pub(crate) async fn read(&self, path: &str, field: &str) -> Result<SecretString, String> {
        let (data, _) = self.get(path, None).await?;
        Self::field(&data, path, field)
    }

    /// The newest version's number (0: the secret has none yet).
    pub(crate) async fn head(&self, path: &str) -> Result<u64, String> {
        self.get(path, None).await.map(|(_, v)| v)
    }

    /// The field's value in version `version` of the secret.
    pub(crate) async fn read_at(
        &self,
        path: &str,
        field: &str,
        version: u64,
    ) -> Result<SecretString, String> {
        let (data, _) = self.get(path, Some(version)).await?;
        Self::field(&data, path, field)
    }

    /// Write a new version: version `after`'s data with `field` set to
    /// `value`, with check-and-set on `after`, so that of two writers that
    /// read the same version only one succeeds. The new version's number.
    pub(crate) async fn write(
        &self,
        path: &str,
        field: &str,
        value: &SecretString,
        after: u64,
    ) -> Result<u64, String> {
        let (mut data, _) = self.get(path, Some(after)).await?;
        data.insert(
            field.to_owned(),
            Value::String(value.expose_secret().to_owned()),
        );
        let body = serde_json::json!({"options": {"cas": after}, "data": data});
        let address = self.address()?;
        let token = self.token(&address).await?;
        let r = self
            .http
            .post(format!("{address}/v1/{path}"))
            .header("X-Vault-Token", token.expose_secret())
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("Vault unreachable: {}", e.without_url()))?;
        let status = r.status();
        if !status.is_success() {
            // 400 is KV v2's answer to a check-and-set that did not match.
            return Err(match status.as_u16() {
                400 => format!("{path} changed since version {after} (check-and-set refused)"),
                s => format!("Vault answered {s} to the write of {path}"),
            });
        }
        let v: Value = r
            .json()
            .await
            .map_err(|_| "Vault answered garbage to a write".to_owned())?;
        v["data"]["version"]
            .as_u64()
            .ok_or_else(|| "Vault's answer to a write names no version".to_owned())
    }
}
