//! Stage 8, run — shape the upstream's answer for the caller: redact it, keep
//! only allow-listed headers, project the manifest's `fields`, and check the
//! result against the manifest's `output_schema`.
//!
//! Redaction runs on the parsed JSON (every string and key) or on the text,
//! before projection, so no path around it exists. The upstream status
//! decides the outcome: 2xx succeeds; 401/403 is `credential_rejected`; a
//! redirect is never followed; any other status is `upstream_error` with the
//! redacted answer in the details, so the model can correct its call. A
//! 2xx answer whose shaped result does not satisfy `output_schema` is
//! `upstream_error` too, and nothing of it is returned (fail closed).

use std::sync::Arc;

use http::{HeaderName, StatusCode, header};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::forward::UpstreamResponse;
use crate::config::{OutputSchema, ToolDef};
use crate::error::{ApiError, Code};
use crate::redact::{JsonOptions, Redactions, Redactor};

/// Upstream headers passed back unless a manifest adds more.
static DEFAULT_HEADERS: [HeaderName; 5] = [
    header::CONTENT_TYPE,
    header::ETAG,
    header::LAST_MODIFIED,
    header::RETRY_AFTER,
    HeaderName::from_static("x-request-id"),
];

/// How much of an upstream error body is passed back.
const ERROR_BODY_MAX: usize = 4096;

/// At most this many output schema violations are listed in one answer.
const MAX_VIOLATIONS: usize = 20;

/// A result as the caller gets it: parsed JSON, or — on the fast path — the
/// upstream's JSON text itself, already redacted and checked to be JSON.
#[derive(Debug)]
pub(crate) enum ResultBody {
    Value(Value),
    Raw(Box<RawValue>),
}

impl Serialize for ResultBody {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ResultBody::Value(v) => v.serialize(s),
            ResultBody::Raw(r) => r.serialize(s),
        }
    }
}

pub(crate) struct Shaped {
    pub result: ResultBody,
    pub headers: Map<String, Value>,
    pub redactions: Redactions,
}

/// The body as JSON when it is JSON, else as (lossy UTF-8) text; redacted.
fn redacted_body(
    redactor: &Redactor,
    tool: &ToolDef,
    resp: &UpstreamResponse,
    limit: Option<usize>,
) -> (Value, Redactions) {
    let opts = JsonOptions {
        sensitive_pointers: tool.sensitive.clone(),
        pii: tool.pii,
    };
    if let Ok(mut v) = serde_json::from_slice::<Value>(&resp.body) {
        let n = redactor.redact_json_counted(&mut v, &opts);
        return (v, n);
    }
    let text = String::from_utf8_lossy(&resp.body);
    let (text, n) = redactor.redact_str_counted(&text);
    let text = match limit {
        Some(max) if text.len() > max => {
            let mut end = max;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}…", &text[..end])
        }
        _ => text.into_owned(),
    };
    (Value::String(text), n)
}

pub(crate) fn response(
    redactor: &Arc<Redactor>,
    tool: &ToolDef,
    resp: &UpstreamResponse,
) -> Result<Shaped, ApiError> {
    let status = resp.status;
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(ApiError::new(
            Code::CredentialRejected,
            "the upstream rejected toolgate's credential for this tool; an operator has to repair it",
        )
        .with_details(vec![json!({ "upstream_status": status.as_u16() })]));
    }
    if status.is_redirection() {
        return Err(ApiError::new(
            Code::UpstreamError,
            "the upstream answered with a redirect, which toolgate does not follow",
        )
        .with_details(vec![json!({ "upstream_status": status.as_u16() })]));
    }
    if !status.is_success() {
        let (body, _) = redacted_body(redactor, tool, resp, Some(ERROR_BODY_MAX));
        return Err(ApiError::new(
            Code::UpstreamError,
            format!("the upstream answered {}", status.as_u16()),
        )
        .with_details(vec![
            json!({ "upstream_status": status.as_u16(), "body": body }),
        ]));
    }

    let (result, mut redactions) = if resp.body.is_empty() {
        (ResultBody::Value(Value::Null), Redactions::default())
    } else if let Some(fast) = raw_fast_path(redactor, tool, &resp.body) {
        fast
    } else {
        let (body, n) = redacted_body(redactor, tool, resp, None);
        let body = if tool.response.fields.is_empty() {
            body
        } else {
            project(&body, &tool.response.fields)
        };
        (ResultBody::Value(body), n)
    };
    if let (Some(out), ResultBody::Value(v)) = (&tool.response.output_schema, &result) {
        satisfies(out, tool, status, v)?;
    }

    let mut headers = Map::new();
    let allowed = DEFAULT_HEADERS.iter().chain(tool.response.headers.iter());
    for name in allowed {
        if let Some(v) = resp.headers.get(name).and_then(|v| v.to_str().ok()) {
            let (v, n) = redactor.redact_str_counted(v);
            redactions += n;
            headers.insert(name.as_str().to_owned(), Value::String(v.into_owned()));
        }
    }
    Ok(Shaped {
        result,
        headers,
        redactions,
    })
}

/// The fast path for a JSON answer that needs no projection or field-level
/// redaction (no sensitive pointer, and no member name that could be a
/// sensitive key): redact the text itself and pass it on unparsed.
///
/// Only taken when the text holds no backslash: then every JSON string's
/// content is exactly its bytes, so matching the bytes finds every secret
/// that parsing would (with escapes, an upstream could spell a secret in
/// forms only parsing normalizes). The markers contain no quote or
/// backslash, so the redacted text is still JSON; it is checked anyway.
fn raw_fast_path(
    redactor: &Redactor,
    tool: &ToolDef,
    body: &[u8],
) -> Option<(ResultBody, Redactions)> {
    if !tool.response.fields.is_empty()
        || tool.response.output_schema.is_some()
        || !tool.sensitive.is_empty()
        || tool.pii
        || body.contains(&b'\\')
        || crate::redact::may_hold_sensitive_keys(body)
    {
        return None;
    }
    let (text, n) = redactor.redact_bytes_counted(body);
    let text = std::str::from_utf8(&text).ok()?;
    let raw = RawValue::from_string(text.trim().to_owned()).ok()?;
    Some((ResultBody::Raw(raw), n))
}

/// The shaped (redacted, projected) result against the manifest's output
/// schema. A violation names where in the result and which keyword of the
/// schema, never the value.
fn satisfies(
    out: &OutputSchema,
    tool: &ToolDef,
    status: StatusCode,
    result: &Value,
) -> Result<(), ApiError> {
    let violations: Vec<Value> = out
        .validator
        .iter_errors(result)
        .take(MAX_VIOLATIONS)
        .map(|e| {
            json!({
                "pointer": e.instance_path().as_str(),
                "schema_pointer": e.schema_path().as_str(),
                "reason": e.masked_with("the value").to_string(),
            })
        })
        .collect();
    if violations.is_empty() {
        return Ok(());
    }
    let summary: Vec<String> = violations
        .iter()
        .map(|v| {
            format!(
                "{} ({})",
                v["pointer"].as_str().unwrap_or_default(),
                v["schema_pointer"].as_str().unwrap_or_default()
            )
        })
        .collect();
    Err(ApiError::new(
        Code::UpstreamError,
        format!(
            "the upstream's answer does not match the output schema of {} ({} problem(s)), so none of it is returned. \
             The call reached the upstream and may have taken effect; an operator has to repair the manifest or the upstream",
            tool.name,
            violations.len()
        ),
    )
    .with_details(vec![json!({
        "upstream_status": status.as_u16(),
        "output_schema_violations": violations,
    })])
    .with_internal(format!(
        "the shaped result of {} violates response.output_schema at {}",
        tool.name,
        summary.join(", ")
    )))
}

/// Keep only the values at `pointers`, in their places; `*` spans every array item.
pub(crate) fn project(body: &Value, pointers: &[String]) -> Value {
    let mut out = Value::Null;
    for p in pointers {
        let tokens: Vec<String> = p
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        copy_path(body, &tokens, &mut out);
    }
    if out.is_null() && !body.is_object() && !body.is_array() {
        return Value::Null;
    }
    out
}

fn copy_path(src: &Value, tokens: &[String], dst: &mut Value) {
    let Some((first, rest)) = tokens.split_first() else {
        *dst = src.clone();
        return;
    };
    match src {
        Value::Object(map) => {
            let Some(child) = map.get(first) else { return };
            if !dst.is_object() {
                *dst = Value::Object(Map::new());
            }
            let slot = dst
                .as_object_mut()
                .map(|m| m.entry(first.clone()).or_insert(Value::Null));
            if let Some(slot) = slot {
                copy_path(child, rest, slot);
                if slot.is_null() && !child.is_null() {
                    dst.as_object_mut().map(|m| m.remove(first));
                }
            }
        }
        Value::Array(items) if first == "*" => {
            if !dst.is_array() {
                *dst = Value::Array(vec![Value::Null; items.len()]);
            }
            if let Some(out) = dst.as_array_mut() {
                for (i, item) in items.iter().enumerate() {
                    if let Some(slot) = out.get_mut(i) {
                        copy_path(item, rest, slot);
                    }
                }
            }
        }
        Value::Array(items) => {
            let Ok(i) = first.parse::<usize>() else {
                return;
            };
            let Some(child) = items.get(i) else { return };
            if !dst.is_object() {
                *dst = Value::Object(Map::new());
            }
            if let Some(m) = dst.as_object_mut() {
                let slot = m.entry(first.clone()).or_insert(Value::Null);
                copy_path(child, rest, slot);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_keeps_structure() {
        let body = json!({
            "id": "L1", "status": "new", "secret_notes": "x",
            "owner": {"name": "Ann", "email": "a@example.com"},
            "items": [{"id": 1, "p": 2}, {"id": 2, "p": 3}]
        });
        let out = project(
            &body,
            &[
                "/id".into(),
                "/owner/name".into(),
                "/items/*/id".into(),
                "/missing".into(),
            ],
        );
        assert_eq!(
            out,
            json!({"id": "L1", "owner": {"name": "Ann"}, "items": [{"id": 1}, {"id": 2}]})
        );
    }
}
