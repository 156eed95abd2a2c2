//! Serde shapes of the config files, exactly as users write them.
//!
//! These are deserialized only after the document passed the shipped JSON
//! Schema (which reports every structural problem at once, with lines), so
//! `deny_unknown_fields` here is a second guard, not the user's error path.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub environment: String,
    pub listen: Option<String>,
    pub tls: Option<Value>,
    pub store: Option<Value>,
    pub audit: Option<RawAudit>,
    /// Read from the document before deserialization, so tools load even when this file has errors.
    #[allow(dead_code)]
    pub tools_dir: Option<String>,
    pub vault: Option<Value>,
    pub sessions: Option<Value>,
    pub limits: Option<RawLimits>,
    #[serde(default)]
    pub credentials: BTreeMap<String, RawCredential>,
    #[serde(default)]
    pub workflows: BTreeMap<String, RawWorkflow>,
    #[serde(default)]
    pub agents: BTreeMap<String, RawAgent>,
    #[serde(default)]
    pub approvers: BTreeMap<String, RawApprover>,
    #[serde(default)]
    pub admins: BTreeMap<String, RawAdmin>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAudit {
    pub kind: String,
    pub path: Option<String>,
    pub hmac_key: Option<RawSource>,
    pub signing_key: Option<RawSource>,
    pub max_file_bytes: Option<u64>,
    pub checkpoint_interval_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    pub max_body_bytes: Option<usize>,
    pub max_concurrency: Option<usize>,
    pub request_timeout_ms: Option<u64>,
    pub shutdown_grace_ms: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSource {
    pub env: Option<String>,
    pub file: Option<String>,
    pub vault: Option<Value>,
    pub oauth2: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCredential {
    #[allow(dead_code)]
    pub description: Option<String>,
    pub environment: String,
    pub source: RawSource,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub inject: RawInject,
    pub max_age_days: Option<u32>,
    pub rotated_at: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInject {
    pub header: Option<String>,
    pub format: Option<String>,
    pub basic: Option<RawBasic>,
    pub query: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBasic {
    pub username: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRateLimit {
    pub per_minute: u32,
    pub burst: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkflow {
    #[allow(dead_code)]
    pub description: Option<String>,
    pub environment: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub credentials: BTreeMap<String, String>,
    pub rate_limit: Option<RawRateLimit>,
    pub notify: Option<Value>,
    #[serde(default)]
    pub tools: BTreeMap<String, RawToolOverride>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawToolOverride {
    pub schema: Option<Value>,
    pub approval: Option<Value>,
    pub approvals_required: Option<u32>,
    pub expires_in: Option<String>,
    pub rate_limit: Option<RawRateLimit>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAgent {
    pub workflow: String,
    pub key_sha256: String,
    #[allow(dead_code)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApprover {
    pub key_sha256: String,
    pub workflows: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdmin {
    pub key_sha256: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTool {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub input_schema: Value,
    pub upstream: RawUpstream,
    pub approval: Option<Value>,
    pub approvals_required: Option<u32>,
    pub expires_in: Option<String>,
    pub response: Option<RawResponse>,
    #[serde(default)]
    pub sensitive: Vec<String>,
    #[serde(default)]
    pub pii: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUpstream {
    pub method: String,
    pub url: String,
    pub body: Option<Value>,
    #[serde(default)]
    pub query: BTreeMap<String, Value>,
    #[serde(default)]
    pub headers: BTreeMap<String, Value>,
    pub timeout_ms: Option<u64>,
    pub credential: Option<String>,
    #[serde(default)]
    pub allow_private_network: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawResponse {
    #[serde(default)]
    pub fields: Vec<String>,
    pub max_bytes: Option<usize>,
    #[serde(default)]
    pub headers: Vec<String>,
}
