//! Configuration: `toolgate.yaml`, `tools/*.yaml` and the schemas they name.
//!
//! Loading goes raw → validated. Every file is parsed with line positions,
//! checked against the shipped JSON Schema of its format (so every unknown
//! key and wrong type is reported at once, with file, line and key), then
//! deserialized and cross-checked (dangling references, environments,
//! uncompilable schemas). All problems of all files come back together.
//! Nothing in here reads a secret value; `lint` may, to measure one.

mod diag;
pub mod lint;
mod raw;
pub mod template;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use http::{HeaderName, Method};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use diag::{Diagnostic, Severity};
use raw::*;
use template::{UrlTemplate, ValueTemplate};
use yaml::Spans;

/// The shipped JSON Schema of `toolgate.yaml`.
pub const CONFIG_SCHEMA: &str = include_str!("../../schemas/toolgate.schema.json");
/// The shipped JSON Schema of a tool manifest.
pub const TOOL_SCHEMA: &str = include_str!("../../schemas/tool.schema.json");

static CONFIG_VALIDATOR: LazyLock<jsonschema::Validator> =
    LazyLock::new(|| compile_shipped(CONFIG_SCHEMA));
static TOOL_VALIDATOR: LazyLock<jsonschema::Validator> =
    LazyLock::new(|| compile_shipped(TOOL_SCHEMA));

/// Compile a user schema: `format` is asserted (an `email` must look like one),
/// and no remote `$ref` is ever fetched.
pub fn compile_schema(
    schema: &Value,
) -> Result<jsonschema::Validator, jsonschema::ValidationError<'static>> {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
}

fn compile_shipped(text: &str) -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(text).expect("shipped schema is JSON");
    jsonschema::validator_for(&schema).expect("shipped schema compiles")
}

/// The validated configuration of one gateway process.
#[derive(Debug)]
pub struct Config {
    /// Directory of `toolgate.yaml`; relative paths start here.
    pub base_dir: PathBuf,
    pub environment: String,
    pub listen: SocketAddr,
    pub limits: Limits,
    /// Longest session a token may be minted for.
    pub sessions_max_ttl: Duration,
    pub vault: VaultConfig,
    pub store: StoreConfig,
    /// Seals secret material the store keeps (OAuth2 tokens).
    pub store_encryption_key: Option<SourceDef>,
    pub audit: AuditConfig,
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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_concurrency: 1024,
            request_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Where state between requests lives.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreConfig {
    Memory,
    File(PathBuf),
    /// A Redis (or Valkey) URL, `redis://[user:password@]host:port/db`. The
    /// URL may hold a password: it is never logged or echoed.
    Redis(String),
}

/// Never prints a Redis URL's password.
impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreConfig::Memory => f.write_str("Memory"),
            StoreConfig::File(p) => f.debug_tuple("File").field(p).finish(),
            StoreConfig::Redis(url) => {
                let shown = match url::Url::parse(url) {
                    Ok(mut u) => {
                        if u.password().is_some() {
                            let _ = u.set_password(Some("***"));
                        }
                        u.to_string()
                    }
                    Err(_) => "(unparsable)".to_owned(),
                };
                f.debug_tuple("Redis").field(&shown).finish()
            }
        }
    }
}

impl StoreConfig {
    pub fn redis_url(&self) -> Option<&str> {
        match self {
            StoreConfig::Redis(url) => Some(url),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// The trail file (`kind: file`).
    pub path: PathBuf,
    /// `kind: redis`: the trail is a stream on the store's Redis.
    pub redis: bool,
    pub hmac_key: Option<SourceDef>,
    pub signing_key: Option<SourceDef>,
    pub max_file_bytes: Option<u64>,
    pub checkpoint_interval: Duration,
}

/// Where a file and line of the config sit, for lints reported after load.
#[derive(Debug, Clone)]
pub struct Loc {
    pub file: PathBuf,
    pub line: usize,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceDef {
    Env(String),
    File(PathBuf),
    /// A field of a Vault / OpenBao KV v2 secret; `path` is the API path
    /// (`secret/data/…`).
    Vault {
        path: String,
        field: String,
    },
    /// Access tokens from an OAuth2 token endpoint.
    OAuth2(Box<OAuth2Def>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    ClientCredentials,
    RefreshToken,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2Def {
    pub token_url: url::Url,
    pub client_id: String,
    pub client_secret: SourceDef,
    pub grant: Grant,
    /// The first refresh token (`grant: refresh_token`); rotated ones are
    /// kept, sealed, in the store.
    pub refresh_token: Option<SourceDef>,
    pub scopes: Vec<String>,
    pub audience: Option<String>,
    pub resource: Option<String>,
}

impl SourceDef {
    pub fn describe(&self) -> String {
        match self {
            SourceDef::Env(var) => format!("environment variable {var}"),
            SourceDef::File(path) => format!("file {}", path.display()),
            SourceDef::Vault { path, field } => format!("vault {path}#{field}"),
            SourceDef::OAuth2(o) => format!(
                "OAuth2 token endpoint at {}",
                o.token_url.host_str().unwrap_or("?")
            ),
        }
    }
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
}

#[derive(Debug, Clone)]
pub struct CredentialDef {
    pub name: String,
    pub environment: String,
    pub source: SourceDef,
    pub scopes: BTreeSet<String>,
    pub inject: Inject,
    pub max_age_days: Option<u32>,
    pub rotated_at: Option<String>,
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
}

#[derive(Debug)]
pub struct ResponseDef {
    pub fields: Vec<String>,
    pub max_bytes: usize,
    pub headers: Vec<HeaderName>,
}

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
    pub loc: Loc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

#[derive(Debug)]
pub struct ToolBinding {
    pub tool: Arc<ToolDef>,
    /// The tool's schema and the workflow's overlay, both enforced.
    pub validator: jsonschema::Validator,
    /// What the model is shown: the tool schema narrowed by the overlay.
    pub effective_schema: Value,
    /// The credential bound to the tool's slot in this workflow.
    pub credential: Option<Arc<CredentialDef>>,
    pub rate_limit: Option<RateLimit>,
    pub overlay: Option<Value>,
    pub approval: ApprovalPolicy,
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
pub const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(15 * 60);

impl ApprovalPolicy {
    fn merge(tool: &ApprovalSpec, over: &ApprovalSpec) -> ApprovalPolicy {
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
    pub fn applies(&self, args: &Value) -> bool {
        match &self.when {
            ApprovalWhen::Never => false,
            ApprovalWhen::Always => true,
            ApprovalWhen::Matches(v) => v.is_valid(args),
        }
    }
}

/// Where a workflow's pending actions are announced.
#[derive(Debug, Clone)]
pub struct NotifyDef {
    pub webhook: url::Url,
    pub secret: SourceDef,
}

#[derive(Debug)]
pub struct WorkflowDef {
    pub name: String,
    pub environment: String,
    pub scopes: BTreeSet<String>,
    pub credentials: BTreeMap<String, String>,
    /// Callable tools (all scopes granted), resolved once.
    pub tools: BTreeMap<String, Arc<ToolBinding>>,
    pub notify: Option<NotifyDef>,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub struct AgentDef {
    pub name: String,
    pub workflow: String,
    pub key_sha256: [u8; 32],
}

#[derive(Debug, Clone)]
pub struct ApproverDef {
    pub name: String,
    pub workflows: Vec<String>,
    pub key_sha256: [u8; 32],
}

#[derive(Debug, Clone)]
pub struct AdminDef {
    pub name: String,
    pub key_sha256: [u8; 32],
}

/// Headers the HTTP layer owns: a manifest setting them could change where or how the request goes.
const FORBIDDEN_HEADERS: [&str; 8] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
];

/// Default upstream timeout when a manifest sets none.
const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Default cap on an upstream response body.
pub const DEFAULT_MAX_BYTES: usize = 1024 * 1024;

/// One file being read: its path (as shown to users), spans, and its diagnostics sink.
struct FileCtx<'a> {
    path: PathBuf,
    spans: Spans,
    diags: &'a mut Vec<Diagnostic>,
}

impl FileCtx<'_> {
    fn at(&self, pointer: &str) -> Loc {
        Loc {
            file: self.path.clone(),
            line: self.spans.line(pointer),
            key: diag::key_of(pointer),
        }
    }

    fn error(&mut self, pointer: &str, message: impl Into<String>) {
        let loc = self.at(pointer);
        self.diags.push(Diagnostic::error(loc, message));
    }
}

/// Load and validate everything. `Err` holds every error found; `Ok` may carry warnings.
pub fn load(path: &Path) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut hasher = Sha256::new();
    let base_dir = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."))
        .to_path_buf();

    let parsed = read_document(path, &CONFIG_VALIDATOR, &mut hasher, &mut diags);
    let tools_dir = parsed
        .as_ref()
        .and_then(|(v, _)| {
            v.get("tools_dir")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "tools".into());
    let tools = load_tools(
        &base_dir,
        &base_dir.join(&tools_dir),
        &mut hasher,
        &mut diags,
    );

    let Some((value, spans)) = parsed else {
        return Err(diags);
    };
    let mut ctx = FileCtx {
        path: path.to_path_buf(),
        spans,
        diags: &mut diags,
    };
    let raw: RawConfig = match serde_json::from_value(value) {
        Ok(raw) => raw,
        Err(e) => {
            ctx.error("", format!("could not read the config: {e}"));
            return Err(diags);
        }
    };
    let config = build_config(raw, &base_dir, tools, &mut ctx, hasher);
    if diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(diags);
    }
    match config {
        Some(c) => Ok((c, diags)),
        None => Err(diags),
    }
}

/// Read, parse and structurally check one YAML file. `None` when it is unusable.
fn read_document(
    path: &Path,
    validator: &jsonschema::Validator,
    hasher: &mut Sha256,
    diags: &mut Vec<Diagnostic>,
) -> Option<(Value, Spans)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            diags.push(Diagnostic::error(
                Loc {
                    file: path.to_path_buf(),
                    line: 0,
                    key: String::new(),
                },
                format!("cannot read file: {e}"),
            ));
            return None;
        }
    };
    hasher.update(path.as_os_str().as_encoded_bytes());
    hasher.update([0]);
    hasher.update(text.as_bytes());
    hasher.update([0]);
    let (value, spans) = match yaml::parse(&text) {
        Ok(ok) => ok,
        Err(errors) => {
            for e in errors {
                diags.push(Diagnostic::error(
                    Loc {
                        file: path.to_path_buf(),
                        line: e.line,
                        key: diag::key_of(&e.pointer),
                    },
                    e.message,
                ));
            }
            return None;
        }
    };
    let before = diags.len();
    for error in validator.iter_errors(&value) {
        diags.extend(diag::from_schema_error(path, &spans, &error));
    }
    if diags.len() > before {
        return None;
    }
    Some((value, spans))
}

fn load_tools(
    base_dir: &Path,
    dir: &Path,
    hasher: &mut Sha256,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Arc<ToolDef>> {
    let mut tools = BTreeMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.push(Diagnostic::error(
                Loc {
                    file: dir.to_path_buf(),
                    line: 0,
                    key: "tools_dir".into(),
                },
                format!("cannot read the tools directory: {e}"),
            ));
            return tools;
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    for file in files {
        let Some((value, spans)) = read_document(&file, &TOOL_VALIDATOR, hasher, diags) else {
            continue;
        };
        let mut ctx = FileCtx {
            path: file.clone(),
            spans,
            diags,
        };
        let raw: RawTool = match serde_json::from_value(value) {
            Ok(r) => r,
            Err(e) => {
                ctx.error("", format!("could not read the manifest: {e}"));
                continue;
            }
        };
        let name = raw.name.clone();
        if let Some(tool) = build_tool(raw, base_dir, &mut ctx) {
            if let Some(prev) = tools.get(&name) {
                let prev: &Arc<ToolDef> = prev;
                let msg = format!(
                    "tool \"{name}\" is also defined in {}",
                    prev.loc.file.display()
                );
                ctx.error("/name", msg);
                continue;
            }
            tools.insert(name, Arc::new(tool));
        }
    }
    tools
}

/// Read a JSON Schema: inline, or a file relative to the config directory.
fn load_schema(v: &Value, base_dir: &Path, ctx: &mut FileCtx<'_>, pointer: &str) -> Option<Value> {
    let schema = match v {
        Value::String(rel) => {
            let path = base_dir.join(rel);
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    ctx.error(
                        pointer,
                        format!("cannot read schema file {}: {e}", path.display()),
                    );
                    return None;
                }
            };
            match serde_json::from_str::<Value>(&text) {
                Ok(s) => s,
                Err(e) => {
                    ctx.error(
                        pointer,
                        format!(
                            "schema file {} is not JSON (line {}): {e}",
                            path.display(),
                            e.line()
                        ),
                    );
                    return None;
                }
            }
        }
        other => other.clone(),
    };
    if let Err(e) = compile_schema(&schema) {
        let at = e.instance_path().as_str();
        let at = if at.is_empty() {
            String::new()
        } else {
            format!(" (at {at} in the schema)")
        };
        ctx.error(
            pointer,
            format!("the schema does not compile{at}: {}", e.masked()),
        );
        return None;
    }
    Some(schema)
}

/// Pointers of the properties a schema marks `x-sensitive: true` (`*` for array items).
fn x_sensitive(schema: &Value, at: String, out: &mut Vec<String>) {
    if schema.get("x-sensitive") == Some(&Value::Bool(true)) && !at.is_empty() {
        out.push(at.clone());
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            x_sensitive(v, format!("{at}/{}", yaml::escape_token(k)), out);
        }
    }
    if let Some(items) = schema.get("items") {
        x_sensitive(items, format!("{at}/*"), out);
    }
}

/// `15m`, `30s`, `2h`, `1d` (the schema enforced the form).
fn duration(text: &str) -> Option<Duration> {
    let (n, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: u64 = n.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// Longest an action may wait for approval.
const MAX_EXPIRES_IN: Duration = Duration::from_secs(7 * 86_400);

fn approval_spec(
    approval: Option<&Value>,
    required: Option<u32>,
    expires_in: Option<&str>,
    ctx: &mut FileCtx<'_>,
    p: &str,
) -> ApprovalSpec {
    let when = match approval {
        None => None,
        Some(Value::String(s)) if s == "never" => Some(ApprovalWhen::Never),
        Some(Value::String(s)) if s == "always" => Some(ApprovalWhen::Always),
        Some(Value::Object(o)) => match o.get("when_matches").map(compile_schema) {
            Some(Ok(v)) => Some(ApprovalWhen::Matches(Arc::new(v))),
            Some(Err(e)) => {
                ctx.error(
                    &format!("{p}/approval/when_matches"),
                    format!("the schema does not compile: {}", e.masked()),
                );
                None
            }
            None => None,
        },
        Some(_) => None,
    };
    let expires_in = expires_in.and_then(|t| match duration(t) {
        Some(d) if d > Duration::ZERO && d <= MAX_EXPIRES_IN => Some(d),
        _ => {
            ctx.error(
                &format!("{p}/expires_in"),
                "expires_in must be between 1s and 7d",
            );
            None
        }
    });
    ApprovalSpec {
        when,
        approvals_required: required,
        expires_in,
    }
}

fn header_name(name: &str, ctx: &mut FileCtx<'_>, pointer: &str) -> Option<HeaderName> {
    match HeaderName::from_bytes(name.as_bytes()) {
        Ok(h) => Some(h),
        Err(_) => {
            ctx.error(
                pointer,
                format!("\"{name}\" is not a valid HTTP header name"),
            );
            None
        }
    }
}

fn unsupported(ctx: &mut FileCtx<'_>, pointer: &str, what: &str) {
    ctx.error(
        pointer,
        format!("{what} is not available in this version of toolgate; remove the key (see README, \"Not yet available\")"),
    );
}

fn build_tool(raw: RawTool, base_dir: &Path, ctx: &mut FileCtx<'_>) -> Option<ToolDef> {
    let before = ctx.diags.len();
    let input_schema = load_schema(&raw.input_schema, base_dir, ctx, "/input_schema");
    if let Some(schema) = &input_schema
        && schema.get("type").and_then(Value::as_str) != Some("object")
    {
        ctx.error(
            "/input_schema",
            "a tool's input schema must have \"type\": \"object\"",
        );
    }
    let url = match UrlTemplate::compile(&raw.upstream.url) {
        Ok(u) => Some(u),
        Err(e) => {
            ctx.error("/upstream/url", e);
            None
        }
    };
    if let (Some(url), Some(schema)) = (&url, &input_schema) {
        let required: BTreeSet<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for p in url.params() {
            if !required.contains(p.as_str()) {
                ctx.error(
                    "/upstream/url",
                    format!(
                        "path placeholder {{{p}}} must name a required property of input_schema"
                    ),
                );
            }
        }
    }
    let method = Method::from_bytes(raw.upstream.method.as_bytes()).ok();
    let body = match &raw.upstream.body {
        None => None,
        Some(b) => match ValueTemplate::compile(b) {
            Ok(t) => Some(t),
            Err(e) => {
                ctx.error("/upstream/body", e);
                None
            }
        },
    };
    let mut query = Vec::new();
    for (k, v) in &raw.upstream.query {
        match ValueTemplate::compile(v) {
            Ok(t) => query.push((k.clone(), t)),
            Err(e) => ctx.error(&format!("/upstream/query/{}", yaml::escape_token(k)), e),
        }
    }
    let mut headers = Vec::new();
    for (k, v) in &raw.upstream.headers {
        let pointer = format!("/upstream/headers/{}", yaml::escape_token(k));
        let Some(name) = header_name(k, ctx, &pointer) else {
            continue;
        };
        if FORBIDDEN_HEADERS.contains(&name.as_str()) {
            ctx.error(
                &pointer,
                format!("toolgate sets {name} itself; a manifest cannot"),
            );
            continue;
        }
        if let Value::String(s) = v
            && s.contains(['\r', '\n'])
        {
            ctx.error(&pointer, "a header value must not contain CR or LF");
            continue;
        }
        match ValueTemplate::compile(v) {
            Ok(t) => headers.push((name, t)),
            Err(e) => ctx.error(&pointer, e),
        }
    }
    let approval = approval_spec(
        raw.approval.as_ref(),
        raw.approvals_required,
        raw.expires_in.as_deref(),
        ctx,
        "",
    );
    let response = raw.response.unwrap_or(RawResponse {
        fields: Vec::new(),
        max_bytes: None,
        headers: Vec::new(),
    });
    let mut response_headers = Vec::new();
    for (i, h) in response.headers.iter().enumerate() {
        if let Some(name) = header_name(h, ctx, &format!("/response/headers/{i}")) {
            response_headers.push(name);
        }
    }
    if ctx.diags.len() > before {
        return None;
    }
    let mut sensitive_args = raw.sensitive.clone();
    if let Some(schema) = &input_schema {
        x_sensitive(schema, String::new(), &mut sensitive_args);
    }
    sensitive_args.sort();
    sensitive_args.dedup();
    Some(ToolDef {
        loc: ctx.at(""),
        name: raw.name,
        description: raw.description,
        scopes: raw.scopes.into_iter().collect(),
        input_schema: input_schema?,
        upstream: UpstreamDef {
            method: method?,
            url: url?,
            query,
            headers,
            body,
            timeout: Duration::from_millis(raw.upstream.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS)),
            credential_slot: raw.upstream.credential,
            allow_private_network: raw.upstream.allow_private_network,
        },
        approval,
        response: ResponseDef {
            fields: response.fields,
            max_bytes: response.max_bytes.unwrap_or(DEFAULT_MAX_BYTES),
            headers: response_headers,
        },
        sensitive_args,
        sensitive: raw.sensitive,
        pii: raw.pii,
    })
}

fn source(
    raw: &RawSource,
    base_dir: &Path,
    ctx: &mut FileCtx<'_>,
    pointer: &str,
) -> Option<SourceDef> {
    if let Some(var) = &raw.env {
        return Some(SourceDef::Env(var.clone()));
    }
    if let Some(file) = &raw.file {
        return Some(SourceDef::File(base_dir.join(file)));
    }
    if let Some(v) = &raw.vault {
        if !pointer.starts_with("/credentials/") {
            unsupported(
                ctx,
                &format!("{pointer}/vault"),
                "a vault source outside credentials",
            );
            return None;
        }
        let path = v.get("path").and_then(Value::as_str).unwrap_or_default();
        let field = v.get("field").and_then(Value::as_str).unwrap_or_default();
        let braces_ok = path
            .replace("{subject}", "")
            .chars()
            .all(|c| c != '{' && c != '}');
        if path.is_empty()
            || field.is_empty()
            || path.contains("..")
            || path.starts_with('/')
            || !braces_ok
        {
            ctx.error(
                &format!("{pointer}/vault"),
                "vault needs a relative API path (e.g. secret/data/app/crm, or secret/data/users/{subject}/crm) and a field",
            );
            return None;
        }
        return Some(SourceDef::Vault {
            path: path.to_owned(),
            field: field.to_owned(),
        });
    }
    if let Some(v) = &raw.oauth2 {
        return oauth2_source(v, base_dir, ctx, &format!("{pointer}/oauth2"));
    }
    None
}

fn oauth2_source(
    v: &Value,
    base_dir: &Path,
    ctx: &mut FileCtx<'_>,
    pointer: &str,
) -> Option<SourceDef> {
    if !pointer.starts_with("/credentials/") || pointer.matches("/oauth2").count() > 1 {
        ctx.error(
            pointer,
            "an oauth2 source gives a credential's access tokens; its own secrets come from env, file or vault",
        );
        return None;
    }
    let before = ctx.diags.len();
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let token_url = match text("token_url").map(|u| url::Url::parse(&u)) {
        Some(Ok(u))
            if u.scheme() == "https"
                || (u.scheme() == "http"
                    && matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))) =>
        {
            Some(u)
        }
        _ => {
            ctx.error(
                &format!("{pointer}/token_url"),
                "token_url must be an https:// URL (http:// only on loopback)",
            );
            None
        }
    };
    let nested = |k: &str, ctx: &mut FileCtx<'_>| -> Option<SourceDef> {
        let raw: RawSource = serde_json::from_value(v.get(k)?.clone()).ok()?;
        source(&raw, base_dir, ctx, &format!("{pointer}/{k}"))
    };
    let client_secret = nested("client_secret", ctx);
    let refresh_token = nested("refresh_token", ctx);
    let grant = match text("grant").as_deref() {
        Some("refresh_token") => Grant::RefreshToken,
        _ => Grant::ClientCredentials,
    };
    match (&grant, &refresh_token) {
        (Grant::RefreshToken, None) => ctx.error(
            &format!("{pointer}/refresh_token"),
            "grant: refresh_token needs refresh_token: <source> (the first refresh token)",
        ),
        (Grant::ClientCredentials, Some(_)) => ctx.error(
            &format!("{pointer}/refresh_token"),
            "a refresh_token is only used with grant: refresh_token",
        ),
        _ => {}
    }
    let scopes = v
        .get("scopes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if ctx.diags.len() > before {
        return None;
    }
    Some(SourceDef::OAuth2(Box::new(OAuth2Def {
        token_url: token_url?,
        client_id: text("client_id")?,
        client_secret: client_secret?,
        grant,
        refresh_token,
        scopes,
        audience: text("audience"),
        resource: text("resource"),
    })))
}

fn build_credential(
    name: &str,
    raw: RawCredential,
    env: &str,
    base_dir: &Path,
    ctx: &mut FileCtx<'_>,
) -> Option<CredentialDef> {
    let p = format!("/credentials/{}", yaml::escape_token(name));
    if raw.environment != env {
        ctx.error(
            &format!("{p}/environment"),
            format!(
                "credential of environment \"{}\" in a gateway for \"{env}\": toolgate refuses to start rather than mix environments",
                raw.environment
            ),
        );
    }
    let source = source(&raw.source, base_dir, ctx, &format!("{p}/source"));
    let i = &raw.inject;
    let forms = [i.header.is_some(), i.basic.is_some(), i.query.is_some()];
    let inject = if forms.iter().filter(|f| **f).count() != 1 {
        ctx.error(
            &format!("{p}/inject"),
            "inject needs exactly one of header, basic, query",
        );
        None
    } else if i.format.is_some() && i.header.is_none() {
        ctx.error(
            &format!("{p}/inject/format"),
            "format applies only to header injection",
        );
        None
    } else if let Some(h) = &i.header {
        let format = i.format.clone().unwrap_or_else(|| "{secret}".into());
        let mut name = header_name(h, ctx, &format!("{p}/inject/header"));
        if name
            .as_ref()
            .is_some_and(|n| FORBIDDEN_HEADERS.contains(&n.as_str()))
        {
            ctx.error(
                &format!("{p}/inject/header"),
                format!("toolgate sets {h} itself; inject the secret elsewhere"),
            );
            name = None;
        }
        match format.split_once("{secret}") {
            Some((prefix, suffix))
                if !suffix.contains("{secret}") && !format.contains(['\r', '\n']) =>
            {
                name.map(|name| Inject::Header {
                    name,
                    prefix: prefix.to_owned(),
                    suffix: suffix.to_owned(),
                })
            }
            _ => {
                ctx.error(
                    &format!("{p}/inject/format"),
                    "format must contain {secret} exactly once and no CR or LF",
                );
                None
            }
        }
    } else if let Some(b) = &i.basic {
        if b.username.contains(':') {
            ctx.error(
                &format!("{p}/inject/basic/username"),
                "a Basic auth username cannot contain ':'",
            );
            None
        } else {
            Some(Inject::Basic {
                username: b.username.clone(),
            })
        }
    } else {
        i.query.as_ref().map(|q| Inject::Query { param: q.clone() })
    };
    Some(CredentialDef {
        loc: ctx.at(&p),
        name: name.to_owned(),
        environment: raw.environment,
        source: source?,
        scopes: raw.scopes.into_iter().collect(),
        inject: inject?,
        max_age_days: raw.max_age_days,
        rotated_at: raw.rotated_at,
    })
}

fn parse_hash(hex_text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    // The schema already enforced 64 lower-case hex digits.
    hex::decode_to_slice(hex_text, &mut out).unwrap_or_default();
    out
}

fn rate_limit(raw: &Option<RawRateLimit>) -> Option<RateLimit> {
    raw.as_ref().map(|r| RateLimit {
        per_minute: r.per_minute,
        burst: r.burst.unwrap_or(r.per_minute.div_ceil(6).max(1)),
    })
}

fn build_config(
    raw: RawConfig,
    base_dir: &Path,
    tools: BTreeMap<String, Arc<ToolDef>>,
    ctx: &mut FileCtx<'_>,
    mut hasher: Sha256,
) -> Option<Config> {
    let env = raw.environment.clone();
    let listen = match raw
        .listen
        .as_deref()
        .unwrap_or("127.0.0.1:8080")
        .parse::<SocketAddr>()
    {
        Ok(a) => Some(a),
        Err(_) => {
            ctx.error(
                "/listen",
                "listen must be host:port with an IP address, e.g. 127.0.0.1:8080",
            );
            None
        }
    };
    if raw.tls.is_some() {
        unsupported(
            ctx,
            "/tls",
            "TLS on toolgate's own listener (terminate TLS in front of it)",
        );
    }
    let vault = {
        let v = raw.vault.clone().unwrap_or(Value::Null);
        let src = |ctx: &mut FileCtx<'_>, key: &str, v: Option<&Value>| {
            let raw: RawSource = serde_json::from_value(v?.clone()).ok()?;
            source(&raw, base_dir, ctx, &format!("/vault/{key}"))
        };
        let auth = match v.get("approle") {
            Some(a) => {
                let role_id = src(ctx, "approle/role_id", a.get("role_id"));
                let secret_id = src(ctx, "approle/secret_id", a.get("secret_id"));
                match (role_id, secret_id) {
                    (Some(role_id), Some(secret_id)) => VaultAuth::AppRole { role_id, secret_id },
                    _ => VaultAuth::Token(None),
                }
            }
            None => VaultAuth::Token(src(ctx, "token", v.get("token"))),
        };
        VaultConfig {
            address: v.get("address").and_then(Value::as_str).map(str::to_owned),
            auth,
            cache: Duration::from_secs(
                v.get("cache_seconds").and_then(Value::as_u64).unwrap_or(30),
            ),
            max_stale: Duration::from_secs(
                v.get("max_stale_seconds")
                    .and_then(Value::as_u64)
                    .unwrap_or(300),
            ),
        }
    };
    let sessions_max_ttl = Duration::from_secs(
        raw.sessions
            .as_ref()
            .and_then(|s| s.get("max_ttl_seconds"))
            .and_then(Value::as_u64)
            .unwrap_or(3600),
    );
    let store = match &raw.store {
        None => StoreConfig::File(base_dir.join("data/toolgate.redb")),
        Some(store) => match store.get("kind").and_then(Value::as_str) {
            Some("memory") => StoreConfig::Memory,
            Some("redis") => match store.get("url").and_then(Value::as_str) {
                None => {
                    ctx.error("/store", "`kind: redis` needs `url: redis://host:port/db`");
                    StoreConfig::Memory
                }
                Some(url) => {
                    match url::Url::parse(url) {
                        Ok(u) if u.scheme() == "redis" && u.host_str().is_some() => {}
                        Ok(u) if u.scheme() == "rediss" => {
                            unsupported(ctx, "/store/url", "TLS to Redis (rediss://)")
                        }
                        _ => ctx.error(
                            "/store/url",
                            "not a Redis URL; expected redis://[:password@]host:port/db",
                        ),
                    }
                    StoreConfig::Redis(url.to_owned())
                }
            },
            _ => StoreConfig::File(
                base_dir.join(
                    store
                        .get("path")
                        .and_then(Value::as_str)
                        .unwrap_or("data/toolgate.redb"),
                ),
            ),
        },
    };
    let audit = match &raw.audit {
        Some(a) => Some(AuditConfig {
            path: base_dir.join(a.path.as_deref().unwrap_or("data/audit.jsonl")),
            redis: a.kind == "redis",
            hmac_key: a
                .hmac_key
                .as_ref()
                .and_then(|s| source(s, base_dir, ctx, "/audit/hmac_key")),
            signing_key: a
                .signing_key
                .as_ref()
                .and_then(|s| source(s, base_dir, ctx, "/audit/signing_key")),
            max_file_bytes: a.max_file_bytes,
            checkpoint_interval: Duration::from_secs(a.checkpoint_interval_seconds.unwrap_or(60)),
        }),
        None => Some(AuditConfig {
            path: base_dir.join("data/audit.jsonl"),
            redis: false,
            hmac_key: None,
            signing_key: None,
            max_file_bytes: None,
            checkpoint_interval: Duration::from_secs(60),
        }),
    };
    if audit.as_ref().is_some_and(|a| a.redis) && store.redis_url().is_none() {
        ctx.error(
            "/audit/kind",
            "`audit: {kind: redis}` writes to the store's Redis; set `store: {kind: redis, url: ...}`",
        );
    }
    let limits = {
        let d = Limits::default();
        match &raw.limits {
            None => d,
            Some(l) => Limits {
                max_body_bytes: l.max_body_bytes.unwrap_or(d.max_body_bytes),
                max_concurrency: l.max_concurrency.unwrap_or(d.max_concurrency),
                request_timeout: l
                    .request_timeout_ms
                    .map(Duration::from_millis)
                    .unwrap_or(d.request_timeout),
                shutdown_grace: l
                    .shutdown_grace_ms
                    .map(Duration::from_millis)
                    .unwrap_or(d.shutdown_grace),
            },
        }
    };

    let mut credentials = BTreeMap::new();
    for (name, rc) in raw.credentials {
        if let Some(c) = build_credential(&name, rc, &env, base_dir, ctx) {
            credentials.insert(name, Arc::new(c));
        }
    }
    let store_encryption_key = raw
        .store
        .as_ref()
        .and_then(|s| s.get("encryption_key"))
        .and_then(|v| serde_json::from_value::<RawSource>(v.clone()).ok())
        .and_then(|r| source(&r, base_dir, ctx, "/store/encryption_key"));
    let oauth2 = credentials
        .values()
        .any(|c: &Arc<CredentialDef>| matches!(c.source, SourceDef::OAuth2(_)));
    if oauth2 && store != StoreConfig::Memory && store_encryption_key.is_none() {
        ctx.error(
            "/store",
            "OAuth2 credentials keep their tokens in the store, sealed: set store.encryption_key: <source> (a high-entropy secret)",
        );
    }

    let mut workflows = BTreeMap::new();
    for (name, rw) in raw.workflows {
        if let Some(w) = build_workflow(&name, rw, &env, base_dir, &tools, &credentials, ctx) {
            workflows.insert(name, w);
        }
    }

    let mut seen_keys: BTreeMap<[u8; 32], String> = BTreeMap::new();
    let mut check_key = |ctx: &mut FileCtx<'_>, pointer: String, who: String, key: [u8; 32]| {
        if let Some(other) = seen_keys.get(&key) {
            ctx.error(
                &format!("{pointer}/key_sha256"),
                format!("{who} has the same key as {other}; every identity needs its own key"),
            );
        } else {
            seen_keys.insert(key, who);
        }
    };
    let mut agents = BTreeMap::new();
    for (name, ra) in raw.agents {
        let p = format!("/agents/{}", yaml::escape_token(&name));
        if !workflows.contains_key(&ra.workflow) && !raw_workflow_failed(ctx, &ra.workflow) {
            ctx.error(
                &format!("{p}/workflow"),
                format!("unknown workflow \"{}\"", ra.workflow),
            );
        }
        let key = parse_hash(&ra.key_sha256);
        check_key(ctx, p, format!("agent {name}"), key);
        agents.insert(
            name.clone(),
            AgentDef {
                name,
                workflow: ra.workflow,
                key_sha256: key,
            },
        );
    }
    let mut approvers = BTreeMap::new();
    for (name, ra) in raw.approvers {
        let p = format!("/approvers/{}", yaml::escape_token(&name));
        for (i, w) in ra.workflows.iter().enumerate() {
            if !workflows.contains_key(w) && !raw_workflow_failed(ctx, w) {
                ctx.error(
                    &format!("{p}/workflows/{i}"),
                    format!("unknown workflow \"{w}\""),
                );
            }
        }
        let key = parse_hash(&ra.key_sha256);
        check_key(ctx, p, format!("approver {name}"), key);
        approvers.insert(
            name.clone(),
            ApproverDef {
                name,
                workflows: ra.workflows,
                key_sha256: key,
            },
        );
    }
    let mut admins = BTreeMap::new();
    for (name, ra) in raw.admins {
        let p = format!("/admins/{}", yaml::escape_token(&name));
        let key = parse_hash(&ra.key_sha256);
        check_key(ctx, p, format!("admin {name}"), key);
        admins.insert(
            name.clone(),
            AdminDef {
                name,
                key_sha256: key,
            },
        );
    }
    // An approval policy nobody can satisfy is a configuration error.
    for w in workflows.values() {
        let approvers_here = approvers
            .values()
            .filter(|a| a.workflows.contains(&w.name))
            .count();
        for (tname, b) in &w.tools {
            if matches!(b.approval.when, ApprovalWhen::Never) {
                continue;
            }
            let needed = b.approval.approvals_required as usize;
            if approvers_here < needed {
                ctx.error(
                    &format!("/workflows/{}", yaml::escape_token(&w.name)),
                    format!(
                        "tool \"{tname}\" needs {needed} approver(s) but only {approvers_here} approver(s) list workflow {}",
                        w.name
                    ),
                );
            }
        }
    }
    // Schema files are part of the configuration too.
    for (name, tool) in &tools {
        hasher.update(name.as_bytes());
        hasher.update(serde_json::to_vec(&tool.input_schema).unwrap_or_default());
    }

    Some(Config {
        base_dir: base_dir.to_path_buf(),
        environment: env,
        listen: listen?,
        limits,
        sessions_max_ttl,
        vault,
        store,
        store_encryption_key,
        audit: audit?,
        credentials,
        tools,
        workflows,
        agents,
        approvers,
        admins,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// True when the workflow exists in the file but failed validation (already reported).
fn raw_workflow_failed(ctx: &FileCtx<'_>, name: &str) -> bool {
    let prefix = format!("workflows.{name}");
    ctx.diags.iter().any(|d| d.loc.key.starts_with(&prefix))
}

fn build_workflow(
    name: &str,
    rw: RawWorkflow,
    env: &str,
    base_dir: &Path,
    tools: &BTreeMap<String, Arc<ToolDef>>,
    credentials: &BTreeMap<String, Arc<CredentialDef>>,
    ctx: &mut FileCtx<'_>,
) -> Option<WorkflowDef> {
    let p = format!("/workflows/{}", yaml::escape_token(name));
    let before = ctx.diags.len();
    if rw.environment != env {
        ctx.error(
            &format!("{p}/environment"),
            format!(
                "workflow of environment \"{}\" in a gateway for \"{env}\": toolgate refuses to start rather than mix environments",
                rw.environment
            ),
        );
    }
    let notify = rw.notify.as_ref().and_then(|n| {
        let np = format!("{p}/notify");
        let webhook = n.get("webhook").and_then(Value::as_str).unwrap_or_default();
        let url = match url::Url::parse(webhook) {
            Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() => Some(u),
            _ => {
                ctx.error(
                    &format!("{np}/webhook"),
                    "the webhook must be an http(s) URL",
                );
                None
            }
        };
        let secret = n
            .get("secret")
            .and_then(|v| serde_json::from_value::<RawSource>(v.clone()).ok())
            .and_then(|s| source(&s, base_dir, ctx, &format!("{np}/secret")));
        Some(NotifyDef {
            webhook: url?,
            secret: secret?,
        })
    });
    for (slot, cred) in &rw.credentials {
        if !credentials.contains_key(cred) {
            ctx.error(
                &format!("{p}/credentials/{}", yaml::escape_token(slot)),
                format!("unknown credential \"{cred}\""),
            );
        }
    }
    let scopes: BTreeSet<String> = rw.scopes.into_iter().collect();
    let wf_rate = rate_limit(&rw.rate_limit);
    for tname in rw.tools.keys() {
        let tp = format!("{p}/tools/{}", yaml::escape_token(tname));
        match tools.get(tname) {
            None => ctx.error(&tp, format!("unknown tool \"{tname}\"")),
            Some(t) if !t.scopes.is_subset(&scopes) => {
                let missing: Vec<&str> = t.scopes.difference(&scopes).map(String::as_str).collect();
                ctx.error(
                    &tp,
                    format!(
                        "tool \"{tname}\" is not callable here: scopes {missing:?} are not granted"
                    ),
                );
            }
            Some(_) => {}
        }
    }

    let mut bound = BTreeMap::new();
    for (tname, tool) in tools {
        if !tool.scopes.is_subset(&scopes) {
            continue;
        }
        let ov = rw.tools.get(tname);
        let tp = format!("{p}/tools/{}", yaml::escape_token(tname));
        let credential = match &tool.upstream.credential_slot {
            None => None,
            Some(slot) => match rw.credentials.get(slot) {
                None => {
                    ctx.error(
                        &format!("{p}/credentials"),
                        format!("tool \"{tname}\" needs credential slot \"{slot}\", which this workflow does not bind"),
                    );
                    continue;
                }
                Some(cname) => match credentials.get(cname) {
                    Some(c) => Some(c.clone()),
                    None => continue,
                },
            },
        };
        let overlay = match ov.and_then(|o| o.schema.as_ref()) {
            None => None,
            Some(s) => match load_schema(s, base_dir, ctx, &format!("{tp}/schema")) {
                Some(s) => Some(s),
                None => continue,
            },
        };
        let combined = match &overlay {
            None => tool.input_schema.clone(),
            Some(o) => serde_json::json!({ "allOf": [tool.input_schema, o] }),
        };
        let validator = match compile_schema(&combined) {
            Ok(v) => v,
            Err(e) => {
                ctx.error(
                    &format!("{tp}/schema"),
                    format!("the combined schema does not compile: {}", e.masked()),
                );
                continue;
            }
        };
        let effective_schema = match &overlay {
            None => tool.input_schema.clone(),
            Some(o) => crate::catalog::narrow(&tool.input_schema, o),
        };
        let rate = ov.and_then(|o| rate_limit(&o.rate_limit)).or(wf_rate);
        let over = ov
            .map(|o| {
                approval_spec(
                    o.approval.as_ref(),
                    o.approvals_required,
                    o.expires_in.as_deref(),
                    ctx,
                    &tp,
                )
            })
            .unwrap_or_default();
        let approval = ApprovalPolicy::merge(&tool.approval, &over);
        bound.insert(
            tname.clone(),
            Arc::new(ToolBinding {
                tool: tool.clone(),
                validator,
                effective_schema,
                credential,
                rate_limit: rate,
                overlay,
                approval,
            }),
        );
    }
    if ctx.diags.len() > before {
        return None;
    }
    Some(WorkflowDef {
        loc: ctx.at(&p),
        name: name.to_owned(),
        environment: rw.environment,
        scopes,
        credentials: rw.credentials,
        tools: bound,
        notify,
    })
}

#[cfg(test)]
mod store_config_tests {
    use super::StoreConfig;

    #[test]
    fn a_redis_password_is_never_printed() {
        let c = StoreConfig::Redis("redis://:s3cr%2Bt-pass@redis.internal:6379/0".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr"), "{shown}");
        assert!(shown.contains("redis.internal"), "{shown}");
    }
}
