//! Stage 6 — build the upstream request from the manifest's template.
//!
//! Scheme, host and port come from the manifest only; each path placeholder
//! is one percent-encoded segment; query, headers and body are filled
//! structurally; a header value with CR or LF is refused. The request built
//! here carries no credential yet.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, header};
use serde_json::{Value, json};

use crate::catalog::ToolBinding;
use crate::error::ApiError;
use crate::request::UpstreamRequest;

/// A request on its way upstream.
fn argument_error(pointer: &str, reason: &str) -> ApiError {
    ApiError::bad_request("an argument cannot be used to build the request")
        .with_details(vec![json!({ "pointer": pointer, "reason": reason })])
}

/// The text of a query or header value; objects and arrays are refused.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(crate) fn request(binding: &ToolBinding, args: &Value) -> Result<UpstreamRequest, ApiError> {
    let up = &binding.tool.upstream;
    let mut url = up
        .url
        .render(args)
        .map_err(|e| argument_error(&e.pointer, &e.reason))?;

    if !up.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, template) in &up.query {
            let Some(v) = template.render(args) else {
                continue;
            };
            let text = scalar_text(&v).ok_or_else(|| {
                argument_error(
                    &format!("/{name}"),
                    "must be a string, number or boolean (used in the query)",
                )
            })?;
            pairs.append_pair(name, &text);
        }
    }

    let mut headers = HeaderMap::new();
    for (name, template) in &up.headers {
        let Some(v) = template.render(args) else {
            continue;
        };
        let text = scalar_text(&v).ok_or_else(|| {
            argument_error(
                &format!("/{name}"),
                "must be a string, number or boolean (used in a header)",
            )
        })?;
        if text.contains(['\r', '\n']) {
            return Err(argument_error(
                &format!("/{}", name.as_str()),
                "must not contain CR or LF (used in a header)",
            ));
        }
        let value = HeaderValue::from_str(&text).map_err(|_| {
            argument_error(
                &format!("/{}", name.as_str()),
                "contains characters not allowed in a header",
            )
        })?;
        headers.insert(name.clone(), value);
    }

    let body = match &up.body {
        None => None,
        Some(template) => {
            let v = template.render(args).unwrap_or(Value::Null);
            let bytes = serde_json::to_vec(&v)
                .map_err(|e| ApiError::internal(format!("body serialization: {e}")))?;
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Some(Bytes::from(bytes))
        }
    };
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));

    Ok(UpstreamRequest {
        method: up.method.clone(),
        url,
        headers,
        body,
    })
}
