//! Signed checkpoints: the trail's head `(seq, hash, time)` signed with
//! Ed25519, for anchoring somewhere the gateway cannot rewrite (a ticket, a
//! WORM bucket, another team's log). `verify` given a checkpoint proves the
//! trail still reaches it — nothing before it was truncated or rewritten.
//!
//! The signing key comes from a source (`audit.signing_key`); its text is
//! hashed (SHA-256) into the 32-byte Ed25519 seed, so any high-entropy
//! secret works. The public key is printed in every checkpoint as `key`.
//!
//! Signing happens here (the gateway's checkpoint loop and
//! `/v1/admin/audit/head`); keeping a checkpoint is the sink's job
//! (`AuditSink::checkpoint`). Nothing here ever prints or stores the signing
//! key itself, only its public half.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::record::Receipt;

/// The trail's head, signed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Checkpoint {
    pub seq: u64,
    pub hash: String,
    pub time: String,
    /// Hex Ed25519 public key.
    pub key: String,
    /// Hex Ed25519 signature over `message(seq, hash, time)`.
    pub signature: String,
}

pub fn message(seq: u64, hash: &str, time: &str) -> Vec<u8> {
    format!("toolgate audit checkpoint\n{seq}\n{hash}\n{time}\n").into_bytes()
}

pub fn signing_key(secret: &[u8]) -> SigningKey {
    let seed: [u8; 32] = Sha256::digest(secret).into();
    SigningKey::from_bytes(&seed)
}

pub fn sign(key: &SigningKey, head: &Receipt) -> Checkpoint {
    let time = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let sig = key.sign(&message(head.seq, &head.hash, &time));
    Checkpoint {
        seq: head.seq,
        hash: head.hash.clone(),
        time,
        key: hex::encode(key.verifying_key().to_bytes()),
        signature: hex::encode(sig.to_bytes()),
    }
}

/// Whether the checkpoint is signed by `public_key` (hex).
pub fn check_signature(c: &Checkpoint, public_key: &str) -> bool {
    let Ok(pk) = hex::decode(public_key) else {
        return false;
    };
    let Ok(pk) = <[u8; 32]>::try_from(pk.as_slice()) else {
        return false;
    };
    let Ok(vk) = VerifyingKey::from_bytes(&pk) else {
        return false;
    };
    let Ok(sig) = hex::decode(&c.signature) else {
        return false;
    };
    let Ok(sig) = <[u8; 64]>::try_from(sig.as_slice()) else {
        return false;
    };
    vk.verify(
        &message(c.seq, &c.hash, &c.time),
        &Signature::from_bytes(&sig),
    )
    .is_ok()
}

/// Where checkpoints of a trail are appended: `<audit path>.checkpoints`.
pub fn file_for(trail: &Path) -> PathBuf {
    let name = trail
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("audit.jsonl");
    trail.with_file_name(format!("{name}.checkpoints"))
}

/// Append one checkpoint line to `path` and sync it (the file sink's format).
pub(super) fn append(path: &Path, c: &Checkpoint) -> std::io::Result<()> {
    let created = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let mut line = serde_json::to_vec(c).map_err(std::io::Error::other)?;
    line.push(b'\n');
    f.write_all(&line)?;
    f.sync_data()?;
    if created && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Every checkpoint in a file (unparsable lines are skipped).
pub fn read(path: &Path) -> std::io::Result<Vec<Checkpoint>> {
    Ok(std::fs::read_to_string(path)?
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_with_the_key_and_the_data() {
        let k = signing_key(b"a high-entropy audit signing secret");
        let c = sign(
            &k,
            &Receipt {
                seq: 7,
                hash: "ab".repeat(32),
            },
        );
        assert!(check_signature(&c, &c.key));
        let other = hex::encode(signing_key(b"another").verifying_key().to_bytes());
        assert!(!check_signature(&c, &other));
        let mut forged = c.clone();
        forged.seq = 8;
        assert!(!check_signature(&forged, &c.key));
    }
}
