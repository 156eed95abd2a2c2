//! The `env` secret source: a credential read from an environment
//! variable, through [`EnvSource`].
//!
//! An `env` credential is read once, at start; the process environment
//! does not change under a running process, so the value is re-read only on
//! an operator's reload. Owns nothing but that value's versions; never
//! logs a variable's value or puts it in an error.

use std::sync::Arc;

use secrecy::SecretString;

use super::source::{Context, Loaded, SecretSource, Versions};
use super::vars::EnvSource;
use crate::config::CredentialDef;

/// A variable's value as a secret; an unset or empty variable has none.
pub(super) fn read(env: &dyn EnvSource, var: &str) -> Option<SecretString> {
    env.var(var)
        .filter(|v| !v.is_empty())
        .map(SecretString::from)
}

/// A credential held in an environment variable.
pub(super) struct EnvSecret {
    var: String,
    versions: Versions,
    ctx: Arc<Context>,
}

impl std::fmt::Debug for EnvSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvSecret")
            .field("var", &self.var)
            .field("version", &self.versions.loaded().map(|l| l.version))
            .finish_non_exhaustive()
    }
}

impl EnvSecret {
    pub(super) fn new(def: Arc<CredentialDef>, var: &str, ctx: Arc<Context>) -> Self {
        EnvSecret {
            var: var.to_owned(),
            versions: Versions::new(def, None),
            ctx,
        }
    }

    fn load(&self) -> Result<Arc<Loaded>, String> {
        let value = read(self.ctx.env.as_ref(), &self.var)
            .ok_or_else(|| format!("environment variable {} is not set", self.var))?;
        Ok(self.versions.install(&self.ctx.known, value, ()))
    }
}

#[async_trait::async_trait]
impl SecretSource for EnvSecret {
    fn preload(&self) -> Result<(), String> {
        self.load().map(|_| ())
    }

    async fn current(&self, _subject: Option<&str>) -> Result<Arc<Loaded>, String> {
        match self.versions.loaded() {
            Some(c) => Ok(c),
            None => self.load(),
        }
    }

    async fn reload(&self, _since_ms: u64) -> Result<u64, String> {
        let value = read(self.ctx.env.as_ref(), &self.var)
            .ok_or_else(|| format!("cannot read environment variable {}", self.var))?;
        Ok(self.versions.install(&self.ctx.known, value, ()).version)
    }
}
