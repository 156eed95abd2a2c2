//! Reading one config document: the file, its YAML with line positions, the
//! shipped JSON Schema of its format, and the typed `Raw*` value; plus the
//! per-file diagnostics sink and the small readers every step shares (JSON
//! Schemas inline or from a file, durations, header names).

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use http::HeaderName;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::diag::{self, Diagnostic};
use super::model::Loc;
use super::raw::RawSchema;
use super::yaml::{self, Spans};

/// The shipped JSON Schema of `toolgate.yaml`.
pub const CONFIG_SCHEMA: &str = include_str!("../../schemas/toolgate.schema.json");
/// The shipped JSON Schema of a tool manifest.
pub const TOOL_SCHEMA: &str = include_str!("../../schemas/tool.schema.json");

pub(super) static CONFIG_VALIDATOR: LazyLock<jsonschema::Validator> =
    LazyLock::new(|| compile_shipped(CONFIG_SCHEMA));
pub(super) static TOOL_VALIDATOR: LazyLock<jsonschema::Validator> =
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

/// One file being read: its path (as shown to users), spans, and its diagnostics sink.
pub(super) struct FileCtx<'a> {
    pub(super) path: PathBuf,
    pub(super) spans: Spans,
    pub(super) diags: &'a mut Vec<Diagnostic>,
}

impl FileCtx<'_> {
    /// The file, line and dotted key of a JSON pointer into this document.
    pub(super) fn at(&self, pointer: &str) -> Loc {
        Loc {
            file: self.path.clone(),
            line: self.spans.line(pointer),
            key: diag::key_of(pointer),
        }
    }

    pub(super) fn error(&mut self, pointer: &str, message: impl Into<String>) {
        let loc = self.at(pointer);
        self.diags.push(Diagnostic::error(loc, message));
    }

    /// How many diagnostics this load has so far (to tell whether a step added any).
    pub(super) fn count(&self) -> usize {
        self.diags.len()
    }

    /// A key this version of toolgate accepts in the schema but cannot honour.
    pub(super) fn unsupported(&mut self, pointer: &str, what: &str) {
        self.error(
            pointer,
            format!("{what} is not available in this version of toolgate; remove the key (see README, \"Not yet available\")"),
        );
    }
}

/// Read, parse and structurally check one YAML file. `None` when it is unusable.
pub(super) fn read_document(
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

/// The typed form of a document that passed its schema; `what` names it in the error.
pub(super) fn typed<T: DeserializeOwned>(
    value: Value,
    ctx: &mut FileCtx<'_>,
    what: &str,
) -> Option<T> {
    match serde_json::from_value(value) {
        Ok(raw) => Some(raw),
        Err(e) => {
            ctx.error("", format!("could not read the {what}: {e}"));
            None
        }
    }
}

/// Read a JSON Schema: inline, or a file relative to the config directory.
pub(super) fn load_schema(
    raw: &RawSchema,
    base_dir: &Path,
    ctx: &mut FileCtx<'_>,
    pointer: &str,
) -> Option<Value> {
    let schema = match raw {
        RawSchema::File(rel) => {
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
        RawSchema::Inline(v) => v.clone(),
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

/// `15m`, `30s`, `2h`, `1d` (the schema enforced the form).
pub(super) fn duration(text: &str) -> Option<Duration> {
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

pub(super) fn header_name(name: &str, ctx: &mut FileCtx<'_>, pointer: &str) -> Option<HeaderName> {
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

/// Headers the HTTP layer owns: a manifest setting them could change where or how the request goes.
/// `traceparent` and `tracestate` are toolgate's own (`propagate_trace`): no
/// manifest, and so no argument, can put a trace context upstream.
pub(super) const FORBIDDEN_HEADERS: [&str; 10] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "traceparent",
    "tracestate",
];
