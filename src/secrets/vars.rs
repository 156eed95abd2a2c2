//! Read access to environment variables through [`EnvSource`], so tests
//! hand in a map and never mutate the real environment.

use std::collections::HashMap;

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
