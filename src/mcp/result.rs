//! The shapes of a tool result that more than one tool makes: a failure
//! the model can act on, and the redaction every result passes.

use serde_json::{Value, json};

use crate::gateway::Gateway;
use crate::redact::JsonOptions;

/// Where an error result carries SPEC §8's code, message and details.
pub(crate) const ERROR_META: &str = "dev.toolgate/error";

/// A call that did not succeed: a text block with the code, message and
/// JSON pointers, and the same in `_meta`.
pub(crate) fn failed_with(
    code: &str,
    message: &str,
    details: &[Value],
    retry_after: Option<u64>,
) -> Value {
    let mut text = format!("{code}: {message}");
    for d in details {
        let pointer = d.get("pointer").and_then(Value::as_str);
        match (pointer, d.get("reason").and_then(Value::as_str)) {
            (Some(""), Some(r)) => text.push_str(&format!("\n- (arguments): {r}")),
            (Some(p), Some(r)) => text.push_str(&format!("\n- {p}: {r}")),
            _ => text.push_str(&format!("\n- {d}")),
        }
    }
    let mut meta = json!({"code": code, "message": message, "details": details});
    if let Some(secs) = retry_after {
        text.push_str(&format!("\nRetry after {secs} s."));
        meta["retry_after"] = json!(secs);
    }
    json!({
        "content": [{"type": "text", "text": text}],
        "isError": true,
        "_meta": { ERROR_META: meta },
    })
}

/// Every string of an answer through the redactor, once more.
pub(crate) fn redacted(gw: &Gateway, mut v: Value) -> Value {
    gw.redactor
        .load()
        .redact_json(&mut v, &JsonOptions::default());
    v
}
