//! A small tmpfs for a test to fill up (a full disk under the audit trail).
//! Mounting needs root: without it the test is skipped by the one skip rule.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs, unmounted when dropped.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mount a 256 KiB tmpfs at `at`; None (see [`super::skip::unavailable`])
    /// when this machine does not let the test mount one.
    pub fn mount(at: &Path) -> Option<Tmpfs> {
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            super::skip::unavailable("cannot mount a tmpfs here (needs root) to fill a disk");
            return None;
        }
        Some(Tmpfs(at.to_path_buf()))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Write a file bigger than the tmpfs: every later write fails.
    pub fn fill(&self) {
        let _ = std::fs::write(self.filler(), vec![0u8; 512 * 1024]);
    }

    /// Remove what [`Tmpfs::fill`] wrote.
    pub fn free(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }

    fn filler(&self) -> PathBuf {
        self.0.join("filler")
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: a writer thread may still hold a file open.
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}
