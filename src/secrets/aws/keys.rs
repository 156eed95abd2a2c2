//! The keys requests are signed with, as every link of the chain gives
//! them: the secret key and session token in secrecy types, out of `Debug`.

use std::time::SystemTime;

use secrecy::SecretString;

/// Keys to sign with.
pub(crate) struct AwsCredentials {
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: SecretString,
    pub(crate) session_token: Option<SecretString>,
    /// When temporary credentials end; `None` for static keys.
    pub(crate) expires: Option<SystemTime>,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}
