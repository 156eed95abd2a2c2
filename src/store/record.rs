//! Records kept as JSON under one key, changed by compare-and-swap: read,
//! let a function decide, write only if nobody wrote in between, else read
//! again. Actions and dead letters move through their states this way.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::contract::{Ns, Store, StoreError, Swapped};

/// What a change function decided.
#[derive(Debug)]
pub(crate) enum Step<T> {
    /// Store the changed record, then return T.
    Write(T),
    /// Leave the record as it is and return T.
    Keep(T),
}

/// `what` as JSON bytes.
pub(crate) fn encode<R: Serialize>(what: &str, r: &R) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(r).map_err(|e| StoreError(format!("cannot encode {what}: {e}")))
}

/// `what` from JSON bytes.
pub(crate) fn decode<R: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<R, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError(format!("damaged {what}: {e}")))
}

/// Apply `f` to the stored record and store the result with compare-and-swap
/// (kept for `ttl` of the new record), retrying on a concurrent change.
/// `None` when there is no such record.
pub(crate) async fn update<R, T>(
    store: &dyn Store,
    (ns, what): (Ns, &str),
    key: &str,
    ttl: impl Fn(&R) -> Option<Duration>,
    mut f: impl FnMut(&mut R) -> Step<T>,
) -> Result<Option<(R, T)>, StoreError>
where
    R: Serialize + DeserializeOwned,
{
    loop {
        let Some(v) = store.get(ns, key).await? else {
            return Ok(None);
        };
        let mut r: R = decode(what, &v.value)?;
        match f(&mut r) {
            Step::Keep(t) => return Ok(Some((r, t))),
            Step::Write(t) => {
                let bytes = encode(what, &r)?;
                match store
                    .compare_and_swap(ns, key, v.version, &bytes, ttl(&r))
                    .await?
                {
                    Swapped::Done(_) => return Ok(Some((r, t))),
                    Swapped::Conflict(_) => continue,
                }
            }
        }
    }
}
