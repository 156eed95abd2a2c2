//! The `file` secret source: a file's contents, re-read when the file
//! changes (as mounted Kubernetes and Docker secrets are replaced in place).
//!
//! Owns the value's versions and the stamp (mtime, length, inode) of the
//! file each was read from; every use compares the stamp, so a new file
//! is used at once and a deleted one fails closed. Never logs the contents
//! or puts them in an error.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use secrecy::{ExposeSecret, SecretString};

use super::source::Loaded;
use super::source::{Context, SecretSource, Versions};
use crate::config::CredentialDef;

/// What identifies one version of a file: a change to any of these means re-read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    ino: u64,
    #[cfg(unix)]
    dev: u64,
}

impl FileStamp {
    /// Follows symlinks, as the `..data` swap of a Kubernetes secret volume needs.
    pub(super) fn of(path: &Path) -> std::io::Result<FileStamp> {
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
pub(super) fn read_secret_file(path: &Path) -> std::io::Result<SecretString> {
    let mut text = std::fs::read_to_string(path)?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(SecretString::from(text))
}

/// A credential held in a file.
pub(super) struct FileSecret {
    path: PathBuf,
    versions: Versions<Option<FileStamp>>,
    ctx: Arc<Context>,
}

impl std::fmt::Debug for FileSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSecret")
            .field("path", &self.path)
            .field("version", &self.versions.loaded().map(|l| l.version))
            .finish_non_exhaustive()
    }
}

impl FileSecret {
    pub(super) fn new(def: Arc<CredentialDef>, path: &Path, ctx: Arc<Context>) -> Self {
        FileSecret {
            path: path.to_owned(),
            versions: Versions::new(def, None),
            ctx,
        }
    }

    /// The current version, read again when the file's stamp changed.
    fn load(&self) -> Result<Arc<Loaded>, String> {
        let unreadable = |e: std::io::Error| format!("cannot read its file: {e}");
        let stamp = FileStamp::of(&self.path).map_err(unreadable)?;
        if let Some(c) = self.versions.current()
            && c.tag.as_ref() == Some(&stamp)
        {
            return Ok(c.loaded.clone());
        }
        let value = read_secret_file(&self.path).map_err(unreadable)?;
        if value.expose_secret().is_empty() {
            return Err("its file is empty".into());
        }
        Ok(self.versions.install(&self.ctx.known, value, Some(stamp)))
    }
}

#[async_trait::async_trait]
impl SecretSource for FileSecret {
    fn preload(&self) -> Result<(), String> {
        self.load().map(|_| ())
    }

    async fn current(&self, _subject: Option<&str>) -> Result<Arc<Loaded>, String> {
        self.load()
    }

    async fn reload(&self, _since_ms: u64) -> Result<u64, String> {
        let value = read_secret_file(&self.path)
            .map_err(|_| format!("cannot read file {}", self.path.display()))?;
        if value.expose_secret().is_empty() {
            return Err("its file is empty".into());
        }
        let stamp = FileStamp::of(&self.path).ok();
        Ok(self.versions.install(&self.ctx.known, value, stamp).version)
    }
}
