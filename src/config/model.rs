//! The validated document model: what `toolgate.yaml` and `tools/*.yaml`
//! mean once every reference is resolved and every invariant checked.
//!
//! Nothing here reads a secret value or touches the network; the types only
//! say where secrets live. The per-workflow tool table (compiled schemas,
//! merged policy, bound credential) is built from this model by `catalog`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, Method};
use serde_json::Value;

use super::mcp_model::McpConfig;
use super::rotation_model::RotationDef;
pub use super::source_model::{AwsSecretDef, Grant, OAuth2Def, SourceDef};
use super::template::{UrlTemplate, ValueTemplate};
use super::ui_model::UiConfig;

/// The validated configuration of one gateway process.
#[derive(Debug)]
pub struct Config {
    /// Directory of `toolgate.yaml`; relative paths start here.
    pub base_dir: PathBuf,
    pub environment: String,
    pub listen: SocketAddr,
    /// TLS on the listener (`tls:`); plain HTTP without it.
    pub tls: Option<crate::tls::TlsSettings>,
    /// Where `/metrics` is served instead of the main listener, when set.
    pub metrics_listen: Option<SocketAddr>,
    pub limits: Limits,
    /// Longest session a token may be minted for.
    pub sessions_max_ttl: Duration,
    pub vault: VaultConfig,
    pub store: StoreConfig,
    /// `store.tls`: TLS to a `rediss://` store (system roots when empty).
    pub store_redis: crate::store::RedisOptions,
    /// `store.password`: the Redis password's source, read at start.
    pub store_password: Option<SourceDef>,
    /// Seals secret material the store keeps (OAuth2 tokens).
    pub store_encryption_key: Option<SourceDef>,
    pub audit: AuditConfig,
    pub telemetry: TelemetryConfig,
    /// The address clients reach the gateway at (`public_url`), without a
    /// trailing `/`; `None`: the scheme and `Host` of each request.
    pub public_url: Option<String>,
    pub mcp: McpConfig,
    pub ui: UiConfig,
    pub connections: super::connections::ConnectionsConfig,
    pub credentials: BTreeMap<String, Arc<CredentialDef>>,
    pub tools: BTreeMap<String, Arc<ToolDef>>,
    pub workflows: BTreeMap<String, WorkflowDef>,
    pub agents: BTreeMap<String, AgentDef>,
    pub approvers: BTreeMap<String, ApproverDef>,
    pub admins: BTreeMap<String, AdminDef>,
    /// SHA-256 over every file loaded, in order (for the audit's config event).
    pub sha256: String,
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_concurrency: usize,
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
    /// How long a client may take to send a request's head (HTTP/1), and
    /// how long a connection with no request in flight is kept (both).
    pub header_read_timeout: Duration,
    /// Largest request head (HTTP/1 buffer, HTTP/2 header list).
    pub max_header_bytes: usize,
    /// Most header fields in an HTTP/1 request head (an HTTP/2 header list
    /// is bounded by `max_header_bytes`, each field counting 32 bytes more).
    pub max_headers: usize,
    /// Connections open at once, and from one client address.
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    /// HTTP/2 streams at once on one connection.
    pub max_streams_per_connection: u32,
    /// How long a request body may take to arrive, from the end of its head.
    pub body_read_timeout: Duration,
    /// After the first second, a body must arrive at least this fast on
    /// average (bytes a second; 0: no minimum).
    pub min_body_bytes_per_sec: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_concurrency: 1024,
            request_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            max_connections: 4096,
            max_connections_per_client: 256,
            max_streams_per_connection: 100,
            body_read_timeout: Duration::from_secs(15),
            min_body_bytes_per_sec: 4096,
        }
    }
}

/// Where state between requests lives.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreConfig {
    Memory,
    File(PathBuf),
    /// A Redis (or Valkey) server, `redis://[user:password@]host:port/db`,
    /// or a Redis Cluster by its seed nodes. A URL may hold a password: it
    /// is never logged or echoed.
    Redis(crate::store::RedisTarget),
}

/// Never prints a Redis URL's password.
impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreConfig::Memory => f.write_str("Memory"),
            StoreConfig::File(p) => f.debug_tuple("File").field(p).finish(),
            StoreConfig::Redis(target) => f.debug_tuple("Redis").field(target).finish(),
        }
    }
}

impl StoreConfig {
    /// The store's Redis (one server or a cluster), when it is on Redis.
    pub fn redis(&self) -> Option<&crate::store::RedisTarget> {
        match self {
            StoreConfig::Redis(target) => Some(target),
            _ => None,
        }
    }

    /// Every Redis URL configured (`store.url`, or each of `store.cluster`).
    pub fn redis_urls(&self) -> &[String] {
        self.redis().map(|t| t.urls()).unwrap_or(&[])
    }
}

#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// The trail file (`kind: file`).
    pub path: PathBuf,
    /// `kind: redis`: the trail is a stream on the store's Redis.
    pub redis: bool,
    /// `chains: per_replica` (Redis only): each replica appends to a chain
    /// of its own, named by `TOOLGATE_REPLICA_ID` or the host name.
    pub per_replica: bool,
    pub hmac_key: Option<SourceDef>,
    pub signing_key: Option<SourceDef>,
    pub max_file_bytes: Option<u64>,
    pub checkpoint_interval: Duration,
    /// How often refusals of unauthenticated requests are written, as counts.
    pub refusals_interval: Duration,
    /// Below this much free space on the trail's file system, no record of
    /// an unauthenticated refusal is written (0: never held back).
    pub min_free_bytes: u64,
}

/// `telemetry:` — traces over OTLP, and what they may carry.
#[derive(Debug, Clone, Default)]
pub struct TelemetryConfig {
    /// `telemetry.otlp`, as written; `None` when absent (the `OTEL_*`
    /// variables alone may still turn export on).
    pub otlp: Option<OtlpConfig>,
    pub record_payloads: RecordPayloads,
}

/// `telemetry.otlp`: each key overrides its `OTEL_EXPORTER_OTLP_*` variable.
#[derive(Debug, Clone, Default)]
pub struct OtlpConfig {
    /// A base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT`: `/v1/traces` is appended for HTTP.
    pub endpoint: Option<url::Url>,
    pub protocol: Option<OtlpProtocol>,
    /// Header name → where its value (a secret) lives.
    pub headers: Vec<(HeaderName, SourceDef)>,
}

/// How spans travel to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// `http/protobuf`: POST `<endpoint>/v1/traces`.
    HttpProtobuf,
    /// `grpc`: the OTLP trace service at `<endpoint>`.
    Grpc,
}

impl OtlpProtocol {
    /// The `OTEL_EXPORTER_OTLP_PROTOCOL` spelling; `http/json` is not offered.
    pub fn parse(s: &str) -> Option<OtlpProtocol> {
        match s {
            "http/protobuf" => Some(OtlpProtocol::HttpProtobuf),
            "grpc" => Some(OtlpProtocol::Grpc),
            _ => None,
        }
    }
}

/// Whether a call's arguments and result are span attributes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RecordPayloads {
    /// Never (the default).
    #[default]
    None,
    /// After redaction: `gen_ai.tool.call.arguments` and `gen_ai.tool.call.result`.
    Redacted,
}

/// Where a file and line of the config sit, for lints reported after load.
#[derive(Debug, Clone)]
pub struct Loc {
    pub file: PathBuf,
    pub line: usize,
    pub key: String,
}

/// How toolgate reaches Vault / OpenBao.
#[derive(Debug, Clone)]
pub struct VaultConfig {
    /// Default: `VAULT_ADDR`.
    pub address: Option<String>,
    pub auth: VaultAuth,
    pub cache: Duration,
    pub max_stale: Duration,
}

#[derive(Debug, Clone)]
pub enum VaultAuth {
    /// A token from a source; `None` means `VAULT_TOKEN`.
    Token(Option<SourceDef>),
    AppRole {
        role_id: SourceDef,
        secret_id: SourceDef,
    },
}

#[derive(Debug, Clone)]
pub enum Inject {
    /// `format` with `{secret}` split out: prefix + secret + suffix.
    Header {
        name: HeaderName,
        prefix: String,
        suffix: String,
    },
    Basic {
        username: String,
    },
    Query {
        param: String,
    },
    /// A canary's: never attached to anything.
    Never,
}

#[derive(Debug, Clone)]
pub struct CredentialDef {
    pub name: String,
    pub environment: String,
    pub source: SourceDef,
    pub scopes: BTreeSet<String>,
    pub inject: Inject,
    /// A decoy, watched for and never injected (`inject` is [`Inject::Never`]).
    pub canary: bool,
    pub max_age_days: Option<u32>,
    pub rotated_at: Option<String>,
    /// `rotation:`: toolgate mints, writes, switches and revokes keys itself.
    pub rotation: Option<Arc<RotationDef>>,
    pub loc: Loc,
}

#[derive(Debug)]
pub struct UpstreamDef {
    pub method: Method,
    pub url: UrlTemplate,
    pub query: Vec<(String, ValueTemplate)>,
    pub headers: Vec<(HeaderName, ValueTemplate)>,
    pub body: Option<ValueTemplate>,
    pub timeout: Duration,
    pub credential_slot: Option<String>,
    pub allow_private_network: bool,
    /// Send the W3C `traceparent` of the upstream request's span (only when
    /// traces are exported).
    pub propagate_trace: bool,
}

#[derive(Debug)]
pub struct ResponseDef {
    pub fields: Vec<String>,
    pub max_bytes: usize,
    pub headers: Vec<HeaderName>,
    /// `response.output_schema`: what the shaped result must satisfy.
    pub output_schema: Option<OutputSchema>,
}

/// A JSON Schema the shaped result must satisfy, compiled once at load.
#[derive(Debug, Clone)]
pub struct OutputSchema {
    pub schema: Value,
    pub validator: Arc<jsonschema::Validator>,
}

/// The MCP tool hints a manifest sets (`annotations`); unset ones are not shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ToolAnnotations {
    /// `readOnlyHint`; unset, whether the method is GET.
    pub read_only: Option<bool>,
    pub destructive: Option<bool>,
    pub idempotent: Option<bool>,
    pub open_world: Option<bool>,
}

/// The tool `/mcp` lists itself (an action's status); no manifest may use the name.
pub const RESERVED_TOOL_NAME: &str = "toolgate_action_status";

#[derive(Debug)]
pub struct ToolDef {
    pub name: String,
    pub description: String,
    pub scopes: BTreeSet<String>,
    pub input_schema: Value,
    pub upstream: UpstreamDef,
    pub approval: ApprovalSpec,
    pub response: ResponseDef,
    pub sensitive: Vec<String>,
    /// Argument pointers masked in the audit trail: `sensitive` plus every
    /// property the input schema marks `x-sensitive: true`.
    pub sensitive_args: Vec<String>,
    pub pii: bool,
    /// Refuse arguments holding text shaped like a token (`inbound.refuse_token_shapes`).
    pub refuse_token_shapes: bool,
    /// Hints for MCP clients (`annotations`).
    pub annotations: ToolAnnotations,
    pub loc: Loc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

/// When a call needs a person's approval.
#[derive(Debug, Clone)]
pub enum ApprovalWhen {
    Never,
    Always,
    /// When the arguments match this schema.
    Matches(Arc<jsonschema::Validator>),
}

/// Approval keys as written on a tool or a workflow's tool entry (unset = inherit).
#[derive(Debug, Clone, Default)]
pub struct ApprovalSpec {
    pub when: Option<ApprovalWhen>,
    pub approvals_required: Option<u32>,
    pub expires_in: Option<Duration>,
}

/// The effective policy of a tool in a workflow.
#[derive(Debug, Clone)]
pub struct ApprovalPolicy {
    pub when: ApprovalWhen,
    pub approvals_required: u32,
    pub expires_in: Duration,
}

/// How long a pending action waits for approval unless configured.
pub(crate) const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(15 * 60);

impl ApprovalPolicy {
    /// A workflow's entry over the tool's own keys, then the defaults.
    pub(crate) fn merge(tool: &ApprovalSpec, over: &ApprovalSpec) -> ApprovalPolicy {
        ApprovalPolicy {
            when: over
                .when
                .clone()
                .or_else(|| tool.when.clone())
                .unwrap_or(ApprovalWhen::Never),
            approvals_required: over
                .approvals_required
                .or(tool.approvals_required)
                .unwrap_or(1),
            expires_in: over
                .expires_in
                .or(tool.expires_in)
                .unwrap_or(DEFAULT_EXPIRES_IN),
        }
    }

    /// Whether these (validated) arguments need approval.
    pub(crate) fn applies(&self, args: &Value) -> bool {
        match &self.when {
            ApprovalWhen::Never => false,
            ApprovalWhen::Always => true,
            ApprovalWhen::Matches(v) => v.is_valid(args),
        }
    }
}

/// Where a workflow's pending actions are announced: a signed webhook, a
/// Slack incoming webhook, or both (at least one).
#[derive(Debug, Clone)]
pub struct NotifyDef {
    /// `webhook`, and the `secret` its body is signed with.
    pub webhook: Option<(url::Url, SourceDef)>,
    /// `slack_webhook`: where the Slack webhook's URL (itself a secret) lives.
    pub slack_webhook: Option<SourceDef>,
}

#[derive(Debug)]
pub struct WorkflowDef {
    pub name: String,
    pub environment: String,
    pub scopes: BTreeSet<String>,
    /// Credential slot (as tool manifests name it) -> credential name.
    pub credentials: BTreeMap<String, String>,
    /// The workflow-wide rate limit, unless a tool entry sets its own.
    pub rate_limit: Option<RateLimit>,
    /// The workflow's `tools:` entries, by tool name.
    pub overrides: BTreeMap<String, ToolOverride>,
    pub notify: Option<NotifyDef>,
    /// How long a dead letter of this workflow is kept (`dead_letters.retention`).
    pub dead_letter_retention: Duration,
    pub loc: Loc,
    /// Where `credentials:` is (or would be) written, for slot diagnostics.
    pub credentials_loc: Loc,
}

impl WorkflowDef {
    /// Whether the tool is callable here: the workflow grants every scope it needs.
    pub(crate) fn grants(&self, tool: &ToolDef) -> bool {
        tool.scopes.is_subset(&self.scopes)
    }

    /// The credential name bound to the tool's slot here (`None`: no slot, or unbound).
    pub(crate) fn credential_for(&self, tool: &ToolDef) -> Option<&str> {
        let slot = tool.upstream.credential_slot.as_ref()?;
        self.credentials.get(slot).map(String::as_str)
    }
}

/// A workflow's entry for one tool: the overlay schema and what it overrides.
#[derive(Debug)]
pub struct ToolOverride {
    /// Arguments must satisfy the tool's schema and this one.
    pub schema: Option<Value>,
    pub approval: ApprovalSpec,
    pub rate_limit: Option<RateLimit>,
    /// Where `schema:` is (or would be) written.
    pub schema_loc: Loc,
}

#[derive(Debug, Clone)]
pub struct AgentDef {
    pub name: String,
    pub workflow: String,
    /// The SHA-256 of its key; `None`: known by its certificate alone (`pin`).
    pub key_sha256: Option<[u8; 32]>,
    pub pin: Option<CertPin>,
}

#[derive(Debug, Clone)]
pub struct ApproverDef {
    pub name: String,
    pub workflows: Vec<String>,
    /// The SHA-256 of its key; `None`: known by its certificate alone
    /// (`pin`), or signing in to the console by single sign-on only.
    pub key_sha256: Option<[u8; 32]>,
    pub pin: Option<CertPin>,
    pub sso: SsoNames,
}

#[derive(Debug, Clone)]
pub struct AdminDef {
    pub name: String,
    /// The SHA-256 of its key; `None`: known by its certificate alone
    /// (`pin`), or signing in to the console by single sign-on only.
    pub key_sha256: Option<[u8; 32]>,
    pub pin: Option<CertPin>,
    pub sso: SsoNames,
}

/// What a person is known by at the single sign-on provider (`ui.oidc`):
/// the ID token's `sub` (`oidc_subject`), else a verified `email`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SsoNames {
    pub oidc_subject: Option<String>,
    /// Kept in lower case: addresses are matched without regard to case.
    pub email: Option<String>,
}

impl SsoNames {
    pub fn is_empty(&self) -> bool {
        self.oidc_subject.is_none() && self.email.is_none()
    }
}

/// The client certificate an identity's key must arrive over (`cert_sha256`,
/// `cert_uri`; at least one is set, and every one set must hold) — or, for
/// an identity without a key, the certificate it is known by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPin {
    /// SHA-256 of the leaf certificate's DER.
    pub sha256: Option<[u8; 32]>,
    /// A URI subject alternative name the certificate must carry.
    pub uri: Option<String>,
}

/// Default cap on an upstream response body.
pub(crate) const DEFAULT_MAX_BYTES: usize = 1024 * 1024;
