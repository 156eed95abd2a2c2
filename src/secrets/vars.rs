//! Read access to environment variables through [`EnvSource`], so tests
//! hand in a map and never mutate the real environment.

use std::collections::HashMap;

/// Read access to environment variables.
pub trait EnvSource: Send + Sync {
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// A fixed map (tests): nothing is read from the process environment.
#[derive(Debug, Default)]
pub struct MapEnv {
    vars: HashMap<String, String>,
}

impl MapEnv {
    pub fn new(vars: HashMap<String, String>) -> Self {
        MapEnv { vars }
    }
}

impl EnvSource for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
}
