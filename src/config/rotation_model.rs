//! The checked `rotation:` of a credential, as the rest of toolgate reads it
//! (checked in `rotation`; a module of its own so the model needs nothing
//! from the checks).

use std::time::Duration;

use http::{HeaderName, Method};
use serde_json::Value;

/// `rotation: {every, grace, retry?, mint, revoke?}`, checked.
#[derive(Debug, Clone)]
pub struct RotationDef {
    pub every: Duration,
    pub grace: Duration,
    /// The first wait after a failed step; doubled each time up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub mint: RotationRequest,
    /// Where the new secret is in mint's JSON answer.
    pub secret_at: String,
    /// Where the new key's id is in mint's JSON answer.
    pub id_at: Option<String>,
    pub revoke: Option<RotationRequest>,
}

/// A request toolgate sends itself during a rotation. Its URL, header values
/// and body strings may hold `{old_id}` and `{old_secret}` (revoke only).
#[derive(Debug, Clone)]
pub struct RotationRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(HeaderName, String)>,
    pub body: Option<Value>,
    /// The credential attached to it; `None`: the rotated credential itself.
    pub credential: Option<String>,
    pub allow_private_network: bool,
    pub timeout: Duration,
}

impl RotationRequest {
    /// Whether any part of the request names `placeholder` (`{old_id}`).
    pub fn uses(&self, placeholder: &str) -> bool {
        fn in_value(v: &Value, p: &str) -> bool {
            match v {
                Value::String(s) => s.contains(p),
                Value::Array(a) => a.iter().any(|v| in_value(v, p)),
                Value::Object(o) => o.values().any(|v| in_value(v, p)),
                _ => false,
            }
        }
        self.url.contains(placeholder)
            || self.headers.iter().any(|(_, v)| v.contains(placeholder))
            || self.body.as_ref().is_some_and(|b| in_value(b, placeholder))
    }
}
