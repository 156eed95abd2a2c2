//! Entry points for the fuzz targets under `fuzz/`, compiled only with the
//! `fuzzing` feature. Each is a thin wrapper that calls the real code —
//! the `POST /v1/calls` parser, the configuration loader, the build stage,
//! the redactor, the audit verifier — so a target exercises exactly what
//! the gateway runs, while the items themselves stay private to the crate.
//!
//! Not an API: nothing but the fuzz targets may use it.

use std::io::Cursor;
use std::path::Path;

use http::{HeaderMap, HeaderValue, header};
use serde_json::Value;

use crate::audit::checkpoint::Checkpoint;
use crate::audit::verify::{self, Report};
use crate::catalog::{self, Loaded, ToolBinding};
use crate::config::Diagnostic;
use crate::digest::DigestKey;
use crate::error::ApiError;
use crate::redact::{JsonOptions, Redactor};
use crate::request::{FrozenRequest, UpstreamRequest};

/// Shorter secrets cannot be removed by value (`toolgate check` warns).
pub const MIN_REDACTABLE_LEN: usize = crate::redact::MIN_REDACTABLE_LEN;

/// A tool call as `POST /v1/calls` accepted it (the pipeline's `CallRequest`).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedCall {
    pub tool: String,
    pub arguments: Value,
    pub call_id: String,
    pub idempotency_key: Option<String>,
    pub model: Option<String>,
    pub reason: Option<String>,
}

/// Parse a call body exactly as the `POST /v1/calls` handler does, with
/// this `Content-Type` (none when absent or not a valid header value).
pub fn parse_call_body(content_type: Option<&[u8]>, body: &[u8]) -> Result<ParsedCall, ApiError> {
    let mut headers = HeaderMap::new();
    if let Some(v) = content_type.and_then(|c| HeaderValue::from_bytes(c).ok()) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    let req = crate::api::calls::parse(&headers, body)?;
    Ok(ParsedCall {
        tool: req.tool,
        arguments: req.arguments,
        call_id: req.call_id,
        idempotency_key: req.idempotency_key,
        model: req.model,
        reason: req.reason,
    })
}

/// Load `toolgate.yaml` in `dir` (and the manifests it names) as `serve`
/// and `toolgate check` do: the document, then the catalog.
pub fn load_config_dir(dir: &Path) -> Result<(Loaded, Vec<Diagnostic>), Vec<Diagnostic>> {
    catalog::load(&dir.join("toolgate.yaml"))
}

/// Stage 6: the upstream request for these arguments, as the pipeline builds it.
pub fn build_request(binding: &ToolBinding, args: &Value) -> Result<UpstreamRequest, ApiError> {
    crate::pipeline::build::request(binding, args)
}

/// A frozen request back to the request it was frozen from (`None`: damaged).
pub fn thaw_request(frozen: &FrozenRequest, key: &DigestKey) -> Option<UpstreamRequest> {
    frozen.thaw(key)
}

/// One-shot redaction of bytes, as an upstream body is redacted.
pub fn redact_bytes(redactor: &Redactor, text: &[u8]) -> (Vec<u8>, usize) {
    let (out, n) = redactor.redact_bytes(text);
    (out.into_owned(), n)
}

/// Redaction of a JSON value in place, as a result is shaped (no sensitive
/// pointers; PII detectors on or off).
pub fn redact_json(redactor: &Redactor, value: &mut Value, pii: bool) -> usize {
    let opts = JsonOptions {
        sensitive_pointers: Vec::new(),
        pii,
    };
    redactor.redact_json(value, &opts)
}

/// `toolgate audit verify` over trail bytes held in memory, with the
/// checkpoints in `checkpoints` (one JSON object a line; unparsable lines
/// are skipped, as when they are read from a file).
pub fn verify_trail_bytes(
    trail: &[u8],
    key: Option<&[u8]>,
    checkpoints: &[u8],
    public_key: Option<&str>,
) -> Report {
    let checkpoints: Vec<Checkpoint> = std::str::from_utf8(checkpoints)
        .map(|text| {
            text.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default();
    verify::verify_reader(
        Path::new("audit.jsonl"),
        Cursor::new(trail.to_vec()),
        key,
        &checkpoints,
        public_key,
    )
}
