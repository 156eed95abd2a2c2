//! Serde shapes of the config files, exactly as users write them.
//!
//! These are deserialized only after the document passed the shipped JSON
//! Schema (which reports every structural problem at once, with lines), so
//! `deny_unknown_fields` here is a second guard, not the user's error path.
//! Every alternative a user chooses between (secret sources, store kinds,
//! approval forms, inline or file schemas) is a Rust enum, so the steps that
//! read these types match on variants and never probe JSON by key.
//! `serde_json::Value` is left only where the user writes free JSON: JSON
//! Schemas and the upstream request templates.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub environment: String,
    pub listen: Option<String>,
    pub tls: Option<RawTls>,
    pub store: Option<RawStore>,
    pub audit: Option<RawAudit>,
    /// Read from the document before deserialization, so tools load even when this file has errors.
    #[allow(dead_code)]
    pub tools_dir: Option<String>,
    pub vault: Option<RawVault>,
    pub sessions: Option<RawSessions>,
    pub limits: Option<RawLimits>,
    pub metrics: Option<RawMetrics>,
    pub telemetry: Option<RawTelemetry>,
    pub public_url: Option<String>,
    pub mcp: Option<RawMcp>,
    pub ui: Option<RawUi>,
    pub connections: Option<RawConnections>,
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

/// The one key read before the rest of `toolgate.yaml`, so tools load even when it has errors.
#[derive(Debug, Deserialize)]
pub(crate) struct RawToolsDir {
    pub tools_dir: Option<String>,
}

/// `tls: {cert, key, client_ca?, min_version?}`: TLS on the listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTls {
    pub cert: String,
    pub key: String,
    pub client_ca: Option<String>,
    pub min_version: Option<String>,
}

/// `metrics: {listen?}`: where `/metrics` is served.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetrics {
    pub listen: Option<String>,
}

/// `store: {kind: memory | file | redis, ...}`.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawStore {
    Memory {
        encryption_key: Option<RawSource>,
    },
    File {
        path: Option<String>,
        encryption_key: Option<RawSource>,
    },
    Redis {
        url: Option<String>,
        cluster: Option<Vec<String>>,
        encryption_key: Option<RawSource>,
        tls: Option<RawRedisTls>,
        username: Option<String>,
        password: Option<RawSource>,
    },
}

/// `store.tls: {ca?, cert?, key?}`: TLS to Redis (`rediss://`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRedisTls {
    pub ca: Option<String>,
    pub cert: Option<String>,
    pub key: Option<String>,
}

impl RawStore {
    pub(super) fn encryption_key(&self) -> Option<&RawSource> {
        match self {
            RawStore::Memory { encryption_key }
            | RawStore::File { encryption_key, .. }
            | RawStore::Redis { encryption_key, .. } => encryption_key.as_ref(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawAuditKind {
    File,
    Redis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawAuditChains {
    Shared,
    PerReplica,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAudit {
    pub kind: RawAuditKind,
    pub chains: Option<RawAuditChains>,
    pub path: Option<String>,
    pub hmac_key: Option<RawSource>,
    pub signing_key: Option<RawSource>,
    pub max_file_bytes: Option<u64>,
    pub checkpoint_interval_seconds: Option<u64>,
    pub refusals_interval_seconds: Option<u64>,
    pub min_free_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVault {
    pub address: Option<String>,
    pub token: Option<RawSource>,
    pub approle: Option<RawAppRole>,
    pub cache_seconds: Option<u64>,
    pub max_stale_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAppRole {
    pub role_id: RawSource,
    pub secret_id: RawSource,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSessions {
    pub max_ttl_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    pub max_body_bytes: Option<usize>,
    pub max_concurrency: Option<usize>,
    pub request_timeout_ms: Option<u64>,
    pub shutdown_grace_ms: Option<u64>,
    pub header_read_timeout_ms: Option<u64>,
    pub max_header_bytes: Option<usize>,
    pub max_headers: Option<usize>,
    pub max_connections: Option<usize>,
    pub max_connections_per_client: Option<usize>,
    pub max_streams_per_connection: Option<u32>,
    pub body_read_timeout_ms: Option<u64>,
    pub min_body_bytes_per_sec: Option<u64>,
}

/// `mcp: {allowed_origins?, session_ttl_seconds?, approval_wait_seconds?}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMcp {
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    pub session_ttl_seconds: Option<u64>,
    pub approval_wait_seconds: Option<u64>,
}

/// `ui: {enabled?, session_ttl_seconds?, oidc?}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUi {
    pub enabled: Option<bool>,
    pub session_ttl_seconds: Option<u64>,
    pub oidc: Option<RawOidc>,
}

/// `ui.oidc: {issuer, client_id, client_secret: <source>, scopes?}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOidc {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: RawSource,
    pub scopes: Option<Vec<String>>,
}

/// `connections: {return_to_origins?, state_ttl_seconds?}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConnections {
    #[serde(default)]
    pub return_to_origins: Vec<String>,
    pub state_ttl_seconds: Option<u64>,
}

/// `telemetry: {otlp?, record_payloads?}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTelemetry {
    pub otlp: Option<RawOtlp>,
    pub record_payloads: Option<RawRecordPayloads>,
}

/// Where traces are exported; every key may also come from the standard
/// `OTEL_EXPORTER_OTLP_*` variables, which these override.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOtlp {
    pub endpoint: Option<String>,
    pub protocol: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, RawSource>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawRecordPayloads {
    None,
    Redacted,
}

/// Where a secret lives: exactly one of `env`, `file`, `vault`, `oauth2`,
/// `aws_secrets_manager`, `store`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawSource {
    Env(String),
    File(String),
    Vault(RawVaultRef),
    Oauth2(Box<RawOAuth2>),
    AwsSecretsManager(Box<RawAwsSecret>),
    /// `{store: {initial: <source>}}`: versions kept sealed in the store.
    Store(Box<RawStoreSource>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAwsSecret {
    pub secret_id: String,
    pub field: Option<String>,
    pub region: Option<String>,
    pub version_stage: Option<String>,
    pub endpoint_url: Option<String>,
    pub cache_seconds: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStoreSource {
    /// Where the value comes from before the first rotation.
    pub initial: RawSource,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVaultRef {
    pub path: String,
    pub field: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawGrant {
    ClientCredentials,
    RefreshToken,
    AuthorizationCode,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOAuth2 {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: RawSource,
    pub grant: RawGrant,
    pub refresh_token: Option<RawSource>,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub audience: Option<String>,
    pub resource: Option<String>,
    pub authorize_url: Option<String>,
    pub revocation_url: Option<String>,
    #[serde(default)]
    pub per_subject: bool,
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
    pub inject: Option<RawInject>,
    #[serde(default)]
    pub canary: bool,
    pub max_age_days: Option<u32>,
    pub rotated_at: Option<String>,
    pub rotation: Option<RawRotation>,
}

/// `rotation: {every, grace, retry?, mint, revoke?}`: toolgate makes new keys itself.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRotation {
    pub every: String,
    pub grace: String,
    pub retry: Option<RawRetry>,
    pub mint: RawRotationRequest,
    pub revoke: Option<RawRotationRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetry {
    pub initial: Option<String>,
    pub max: Option<String>,
}

/// A request toolgate sends itself, written like a tool's upstream.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRotationRequest {
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body: Option<Value>,
    pub credential: Option<String>,
    #[serde(default)]
    pub allow_private_network: bool,
    pub timeout_ms: Option<u64>,
    /// Mint only: where the new secret is in the answer.
    pub secret_at: Option<String>,
    /// Mint only: where the new key's id is in the answer.
    pub id_at: Option<String>,
}

/// Kept as optional keys (not an enum) so "exactly one of" is reported in the user's terms.
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

/// `never | always | {when_matches: <JSON Schema>}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawApproval {
    Never,
    Always,
    WhenMatches(Value),
}

/// A JSON Schema written inline, or the path of a JSON file relative to `toolgate.yaml`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawSchema {
    File(String),
    Inline(Value),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotify {
    pub webhook: Option<String>,
    pub secret: Option<RawSource>,
    pub slack_webhook: Option<RawSource>,
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
    pub notify: Option<RawNotify>,
    #[serde(default)]
    pub tools: BTreeMap<String, RawToolOverride>,
    pub dead_letters: Option<RawDeadLetters>,
}

/// `workflows.<name>.dead_letters`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDeadLetters {
    pub retention: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawToolOverride {
    pub schema: Option<RawSchema>,
    pub approval: Option<RawApproval>,
    pub approvals_required: Option<u32>,
    pub expires_in: Option<String>,
    pub rate_limit: Option<RawRateLimit>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAgent {
    pub workflow: String,
    pub key_sha256: Option<String>,
    #[allow(dead_code)]
    pub description: Option<String>,
    pub cert_sha256: Option<String>,
    pub cert_uri: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApprover {
    pub key_sha256: Option<String>,
    pub workflows: Vec<String>,
    pub cert_sha256: Option<String>,
    pub cert_uri: Option<String>,
    pub email: Option<String>,
    pub oidc_subject: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdmin {
    pub key_sha256: Option<String>,
    pub cert_sha256: Option<String>,
    pub cert_uri: Option<String>,
    pub email: Option<String>,
    pub oidc_subject: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTool {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub input_schema: RawSchema,
    pub upstream: RawUpstream,
    pub approval: Option<RawApproval>,
    pub approvals_required: Option<u32>,
    pub expires_in: Option<String>,
    #[serde(default)]
    pub response: RawResponse,
    #[serde(default)]
    pub sensitive: Vec<String>,
    #[serde(default)]
    pub pii: bool,
    #[serde(default)]
    pub inbound: RawInbound,
    #[serde(default)]
    pub annotations: RawAnnotations,
}

/// `annotations: {read_only?, destructive?, idempotent?, open_world?}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAnnotations {
    pub read_only: Option<bool>,
    pub destructive: Option<bool>,
    pub idempotent: Option<bool>,
    pub open_world: Option<bool>,
}

/// `inbound: {refuse_token_shapes?}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInbound {
    #[serde(default)]
    pub refuse_token_shapes: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUpstream {
    pub method: String,
    pub url: String,
    /// A request template: free JSON whose string leaves may be `{args.x}`.
    pub body: Option<Value>,
    #[serde(default)]
    pub query: BTreeMap<String, Value>,
    #[serde(default)]
    pub headers: BTreeMap<String, Value>,
    pub timeout_ms: Option<u64>,
    pub credential: Option<String>,
    #[serde(default)]
    pub allow_private_network: bool,
    #[serde(default)]
    pub propagate_trace: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawResponse {
    #[serde(default)]
    pub fields: Vec<String>,
    pub max_bytes: Option<usize>,
    #[serde(default)]
    pub headers: Vec<String>,
    pub output_schema: Option<RawSchema>,
}
