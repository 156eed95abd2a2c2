//! The fingerprint of each credential's value in use (the keyed HMAC the
//! audit trail records, `audit::chain::fingerprint`), taken once per loaded
//! value rather than once per call. Keeps fingerprints only, never a value.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use secrecy::ExposeSecret;

use super::Loaded;
use crate::audit::chain;

/// The fingerprint of each credential's value in use, taken once per
/// loaded value rather than once per call. An entry holds the loaded value
/// weakly: while it does, no other value can be at that address, so a value
/// loaded anew (a rotation, a re-read) is fingerprinted anew.
#[derive(Default)]
pub(crate) struct Fingerprints(Mutex<HashMap<String, (Weak<Loaded>, String)>>);

impl Fingerprints {
    pub(crate) fn of(&self, name: &str, loaded: &Arc<Loaded>, key: &[u8]) -> String {
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((held, fingerprint)) = known.get(name)
            && std::ptr::eq(held.as_ptr(), Arc::as_ptr(loaded))
        {
            return fingerprint.clone();
        }
        let fingerprint = chain::fingerprint(loaded.value.expose_secret().as_bytes(), key);
        known.insert(
            name.to_owned(),
            (Arc::downgrade(loaded), fingerprint.clone()),
        );
        fingerprint
    }
}

impl std::fmt::Debug for Fingerprints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fingerprints").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_is_kept_per_loaded_value() {
        let loaded = |v: &str| {
            Arc::new(Loaded {
                value: secrecy::SecretString::from(v.to_owned()),
                version: 1,
                loaded_at: std::time::SystemTime::now(),
            })
        };
        let fps = Fingerprints::default();
        let (a, b) = (loaded("first-value-1"), loaded("second-value-2"));
        let fa = fps.of("crm", &a, b"k");
        assert_eq!(fa, chain::fingerprint(b"first-value-1", b"k"));
        assert_eq!(fps.of("crm", &a, b"k"), fa);
        // Another value under the same name: fingerprinted anew.
        assert_eq!(
            fps.of("crm", &b, b"k"),
            chain::fingerprint(b"second-value-2", b"k")
        );
        drop(a);
        assert_eq!(
            fps.of("crm", &loaded("first-value-1"), b"k"),
            fa,
            "the same value loaded again gives the same fingerprint"
        );
    }
}
