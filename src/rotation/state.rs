//! A rotation's state, kept in the store (`Ns::Rotations`, one record per
//! credential), and the lease that makes one replica at a time act on it.
//!
//! The record holds no secret: the versions of the source and the ids the
//! vendor gave the keys. Every change is a compare-and-swap; a replica acts
//! only after it wrote its own lease into the record, and each later change
//! checks the lease is still its own, so two replicas never run a step of
//! the same rotation. A lease that ran out (its holder died) is taken over,
//! and the step the record names is done again or resumed.

use serde::{Deserialize, Serialize};

use crate::store::record::{decode, encode};
use crate::store::{Inserted, Ns, Store, StoreError, Swapped, now_ms};

/// Where a rotation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Phase {
    /// The key in use is the only one; the next rotation is scheduled.
    #[default]
    Idle,
    /// A new key is being minted and written to the source.
    Minting,
    /// The new key is written; calls are being switched to it.
    Switching,
    /// Calls use the new key; the old one stays valid until `revoke_at_ms`.
    Grace,
}

/// The key being replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OldKey {
    /// The vendor's id, from the mint that made it.
    pub id: Option<String>,
    /// Whether toolgate minted it (a first key it did not is revoked only by
    /// a revoke that needs no `{old_id}`).
    pub minted: bool,
    /// Its version in the source (to read it again for `{old_secret}`).
    pub version: u64,
}

/// The last step that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Failure {
    pub step: String,
    pub reason: String,
    pub at_ms: u64,
}

/// Who acts on the record, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Lease {
    pub owner: String,
    pub until_ms: u64,
}

/// One credential's rotation state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    pub phase: Phase,
    /// Since when the key in use is in use.
    pub current_since_ms: u64,
    /// The vendor's id of the key in use (when toolgate minted it).
    pub current_id: Option<String>,
    pub current_minted: bool,
    /// The source's version toolgate wrote (0 before its first rotation).
    pub current_version: u64,
    /// While minting: the source's version the write must follow.
    pub base_version: Option<u64>,
    /// While minting: the id of a key minted and not yet written.
    pub pending_id: Option<String>,
    pub old: Option<OldKey>,
    pub revoke_at_ms: u64,
    /// An admin asked for a rotation now.
    pub asked_by: Option<String>,
    /// Failed attempts in a row, and when the next one may start.
    pub failures: u32,
    pub retry_at_ms: u64,
    pub last_error: Option<Failure>,
    /// Rotations completed.
    pub completed: u64,
    pub lease: Option<Lease>,
}

impl Record {
    pub(crate) fn leased(&self, now: u64) -> bool {
        self.lease.as_ref().is_some_and(|l| l.until_ms > now)
    }

    fn held_by(&self, owner: &str) -> bool {
        self.lease.as_ref().is_some_and(|l| l.owner == owner)
    }
}

const WHAT: &str = "rotation record";

/// The record of `name`, made (the key in use counted from now) on first sight.
pub(crate) async fn load(store: &dyn Store, name: &str) -> Result<Record, StoreError> {
    loop {
        if let Some(v) = store.get(Ns::Rotations, name).await? {
            return decode(WHAT, &v.value);
        }
        let fresh = Record {
            current_since_ms: now_ms(),
            ..Record::default()
        };
        if let Inserted::New = store
            .insert_new(Ns::Rotations, name, &encode(WHAT, &fresh)?, None)
            .await?
        {
            return Ok(fresh);
        }
    }
}

/// Take the lease when `want` says the record needs work and nobody holds
/// it; `f` may change the record in the same swap. The record as taken.
pub(crate) async fn take(
    store: &dyn Store,
    name: &str,
    owner: &str,
    lease_ms: u64,
    mut want: impl FnMut(&mut Record, u64) -> bool,
) -> Result<Option<Record>, StoreError> {
    loop {
        load(store, name).await?;
        let Some(v) = store.get(Ns::Rotations, name).await? else {
            continue;
        };
        let mut r: Record = decode(WHAT, &v.value)?;
        let now = now_ms();
        if r.leased(now) || !want(&mut r, now) {
            return Ok(None);
        }
        r.lease = Some(Lease {
            owner: owner.to_owned(),
            until_ms: now + lease_ms,
        });
        match store
            .compare_and_swap(Ns::Rotations, name, v.version, &encode(WHAT, &r)?, None)
            .await?
        {
            Swapped::Done(_) => return Ok(Some(r)),
            Swapped::Conflict(_) => continue,
        }
    }
}

/// Why a change to a held record did not happen.
#[derive(Debug)]
pub(crate) enum Lost {
    /// Another replica holds the record now (the lease ran out).
    Lease,
    Store(StoreError),
}

impl From<StoreError> for Lost {
    fn from(e: StoreError) -> Lost {
        Lost::Store(e)
    }
}

/// Change a record this owner holds, renewing the lease (or releasing it
/// when `release`). The record as written.
pub(crate) async fn change(
    store: &dyn Store,
    name: &str,
    owner: &str,
    lease_ms: u64,
    release: bool,
    f: impl Fn(&mut Record),
) -> Result<Record, Lost> {
    loop {
        let Some(v) = store.get(Ns::Rotations, name).await? else {
            return Err(Lost::Lease);
        };
        let mut r: Record = decode(WHAT, &v.value)?;
        if !r.held_by(owner) {
            return Err(Lost::Lease);
        }
        f(&mut r);
        r.lease = (!release).then(|| Lease {
            owner: owner.to_owned(),
            until_ms: now_ms() + lease_ms,
        });
        match store
            .compare_and_swap(Ns::Rotations, name, v.version, &encode(WHAT, &r)?, None)
            .await?
        {
            Swapped::Done(_) => return Ok(r),
            Swapped::Conflict(_) => continue,
        }
    }
}

/// The wait before attempt `failures + 1`: `initial` doubled per failure, at most `max`.
pub(crate) fn backoff_ms(initial_ms: u64, max_ms: u64, failures: u32) -> u64 {
    let shift = failures.saturating_sub(1).min(32);
    initial_ms.saturating_mul(1u64 << shift).min(max_ms)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_up_to_its_max() {
        let b = |n| super::backoff_ms(1000, 5000, n);
        assert_eq!(
            (b(1), b(2), b(3), b(4), b(60)),
            (1000, 2000, 4000, 5000, 5000)
        );
    }
}
