//! Tool manifests (`tools/*.yaml`): each file read and checked on its own
//! (schema, URL template, request templates, headers, approval keys) into a
//! `ToolDef`; and the approval and rate-limit keys that tools and workflow
//! entries share.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use serde_json::Value;
use sha2::Sha256;

use super::diag::Diagnostic;
use super::document::{
    FORBIDDEN_HEADERS, FileCtx, TOOL_VALIDATOR, compile_schema, duration, header_name, load_schema,
    read_document, typed,
};
use super::model::{
    ApprovalSpec, ApprovalWhen, DEFAULT_MAX_BYTES, Loc, OutputSchema, RateLimit, ResponseDef,
    ToolAnnotations, ToolDef, UpstreamDef,
};
use super::raw::{RawAnnotations, RawApproval, RawRateLimit, RawSchema, RawTool};
use super::template::{UrlTemplate, ValueTemplate};
use super::yaml;

/// Default upstream timeout when a manifest sets none.
const DEFAULT_TIMEOUT_MS: u64 = 10_000;

pub(super) fn load_tools(
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
        let Some(raw) = typed::<RawTool>(value, &mut ctx, "manifest") else {
            continue;
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

/// Pointers of the properties a schema marks `x-sensitive: true` (`*` for array items).
fn x_sensitive(schema: &Value, at: &str, out: &mut Vec<String>) {
    if schema.get("x-sensitive") == Some(&Value::Bool(true)) && !at.is_empty() {
        out.push(at.to_owned());
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            x_sensitive(v, &format!("{at}/{}", yaml::escape_token(k)), out);
        }
    }
    if let Some(items) = schema.get("items") {
        x_sensitive(items, &format!("{at}/*"), out);
    }
}

/// Longest an action may wait for approval.
const MAX_EXPIRES_IN: Duration = Duration::from_secs(7 * 86_400);

pub(super) fn approval_spec(
    approval: Option<&RawApproval>,
    required: Option<u32>,
    expires_in: Option<&str>,
    ctx: &mut FileCtx<'_>,
    p: &str,
) -> ApprovalSpec {
    let when = match approval {
        None => None,
        Some(RawApproval::Never) => Some(ApprovalWhen::Never),
        Some(RawApproval::Always) => Some(ApprovalWhen::Always),
        Some(RawApproval::WhenMatches(schema)) => match compile_schema(schema) {
            Ok(v) => Some(ApprovalWhen::Matches(Arc::new(v))),
            Err(e) => {
                ctx.error(
                    &format!("{p}/approval/when_matches"),
                    format!("the schema does not compile: {}", e.masked()),
                );
                None
            }
        },
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

pub(super) fn rate_limit(raw: Option<&RawRateLimit>) -> Option<RateLimit> {
    raw.map(|r| RateLimit {
        per_minute: r.per_minute,
        burst: r.burst.unwrap_or(r.per_minute.div_ceil(6).max(1)),
    })
}

fn build_tool(raw: RawTool, base_dir: &Path, ctx: &mut FileCtx<'_>) -> Option<ToolDef> {
    let before = ctx.count();
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
    let response = raw.response;
    let output_schema = response
        .output_schema
        .as_ref()
        .and_then(|s| output_schema(s, base_dir, ctx));
    let annotations = annotations(&raw.annotations, method.as_ref(), ctx);
    let mut response_headers = Vec::new();
    for (i, h) in response.headers.iter().enumerate() {
        if let Some(name) = header_name(h, ctx, &format!("/response/headers/{i}")) {
            response_headers.push(name);
        }
    }
    if ctx.count() > before {
        return None;
    }
    let mut sensitive_args = raw.sensitive.clone();
    if let Some(schema) = &input_schema {
        x_sensitive(schema, "", &mut sensitive_args);
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
            propagate_trace: raw.upstream.propagate_trace,
        },
        approval,
        response: ResponseDef {
            fields: response.fields,
            max_bytes: response.max_bytes.unwrap_or(DEFAULT_MAX_BYTES),
            headers: response_headers,
            output_schema,
        },
        sensitive_args,
        sensitive: raw.sensitive,
        pii: raw.pii,
        refuse_token_shapes: raw.inbound.refuse_token_shapes,
        annotations,
    })
}

/// Whether a schema's `type` admits objects and nothing else.
pub fn is_object_schema(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(ts)) => !ts.is_empty() && ts.iter().all(|t| t == "object"),
        _ => false,
    }
}

/// `response.output_schema`, compiled. Its `type` must say whether results
/// are objects: an MCP client gets an object result as it is and any other
/// wrapped as `{"result": …}`, and the schema shown has to say which.
fn output_schema(raw: &RawSchema, base_dir: &Path, ctx: &mut FileCtx<'_>) -> Option<OutputSchema> {
    let p = "/response/output_schema";
    let schema = load_schema(raw, base_dir, ctx, p)?;
    let types: Option<Vec<&str>> = match schema.get("type") {
        Some(Value::String(t)) => Some(vec![t.as_str()]),
        Some(Value::Array(ts)) => ts.iter().map(Value::as_str).collect(),
        _ => None,
    };
    let clear = types.is_some_and(|t| {
        !t.is_empty() && (t.iter().all(|t| *t == "object") || !t.contains(&"object"))
    });
    if !clear {
        ctx.error(
            p,
            "an output schema must set \"type\": \"object\", or types without object (such a result is shown to MCP clients as {\"result\": …})",
        );
        return None;
    }
    match compile_schema(&schema) {
        Ok(v) => Some(OutputSchema {
            schema,
            validator: Arc::new(v),
        }),
        // load_schema compiled it already; kept for the type's sake.
        Err(e) => {
            ctx.error(p, format!("the schema does not compile: {}", e.masked()));
            None
        }
    }
}

/// `annotations`: hints for MCP clients. `read_only` defaults to whether
/// the method is GET; a read-only tool cannot be `destructive`.
fn annotations(
    raw: &RawAnnotations,
    method: Option<&Method>,
    ctx: &mut FileCtx<'_>,
) -> ToolAnnotations {
    let a = ToolAnnotations {
        read_only: raw.read_only,
        destructive: raw.destructive,
        idempotent: raw.idempotent,
        open_world: raw.open_world,
    };
    let read_only = a.read_only.unwrap_or(method == Some(&Method::GET));
    if read_only && a.destructive == Some(true) {
        ctx.error(
            "/annotations/destructive",
            "a read-only tool cannot be destructive; set annotations.read_only: false if this tool changes anything",
        );
    }
    a
}
