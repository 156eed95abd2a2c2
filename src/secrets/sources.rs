//! Secret sources: the process environment (through a trait, so tests never
//! mutate the real environment) and files (re-read when they change, as
//! mounted Kubernetes and Docker secrets are replaced in place).

use std::collections::HashMap;
use std::path::Path;
use std::time::SystemTime;

use secrecy::SecretString;

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

/// What identifies one version of a file: a change to any of these means re-read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    ino: u64,
    #[cfg(unix)]
    dev: u64,
}

impl FileStamp {
    /// Follows symlinks, as the `..data` swap of a Kubernetes secret volume needs.
    pub(crate) fn of(path: &Path) -> std::io::Result<FileStamp> {
        let m = std::fs::metadata(path)?;
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Ok(FileStamp {
            modified: m.modified().ok(),
            len: m.len(),
            #[cfg(unix)]
            ino: m.ino(),
            #[cfg(unix)]
            dev: m.dev(),
        })
    }
}

/// A secret file's value: its contents without one trailing newline.
pub(crate) fn read_secret_file(path: &Path) -> std::io::Result<SecretString> {
    let mut text = std::fs::read_to_string(path)?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(SecretString::from(text))
}
