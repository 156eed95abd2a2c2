//! Environment variables: read access through [`EnvSource`] (so tests hand
//! in a map and never mutate the real environment), and the `env` secret
//! source.
//!
//! An `env` credential is read once, at start; the process environment
//! does not change under a running process, so the value is re-read only on
//! an operator's reload. Owns nothing but that value's versions; never
//! logs a variable's value or puts it in an error.

use std::collections::HashMap;
use std::sync::Arc;

use secrecy::SecretString;

use super::source::Loaded;
use super::source::{Context, SecretSource, Versions};
use crate::config::CredentialDef;

/// Read access to environment variables.
pub trait EnvSource: Send + Sync {
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// A fixed map, falling back to the process environment if asked to.
#[derive(Default)]
pub struct MapEnv {
    vars: HashMap<String, String>,
    fallback: bool,
}

impl MapEnv {
    pub fn new(vars: HashMap<String, String>) -> Self {
        MapEnv {
            vars,
            fallback: false,
        }
    }

    pub fn with_process_fallback(mut self) -> Self {
        self.fallback = true;
        self
    }
}

impl EnvSource for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned().or_else(|| {
            if self.fallback {
                ProcessEnv.var(name)
            } else {
                None
            }
        })
    }
}

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
