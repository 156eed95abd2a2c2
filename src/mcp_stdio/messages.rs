//! The JSON-RPC side of the bridge: which messages get an answer, what is
//! forwarded, and the errors it writes itself.

use reqwest::StatusCode;
use serde_json::{Value, json};

/// The id of a request (a message with a method and an id); `None` for a
/// notification or a response, which get no answer.
pub(super) fn request_id(message: &Value) -> Option<Value> {
    message.get("method")?;
    message.get("id").filter(|id| !id.is_null()).cloned()
}

/// A JSON-RPC 2.0 message (or a batch of them).
pub(super) fn is_message(v: &Value) -> bool {
    match v {
        Value::Array(items) => !items.is_empty() && items.iter().all(is_message),
        Value::Object(o) => {
            o.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
                && (o.contains_key("method") || o.contains_key("result") || o.contains_key("error"))
        }
        _ => false,
    }
}

pub(super) fn error_answer(id: &Value, code: i64, message: &str, data: Option<Value>) -> Value {
    let mut error = json!({"code": code, "message": message});
    if let Some(d) = data {
        error["data"] = d;
    }
    json!({"jsonrpc": "2.0", "id": id, "error": error})
}

/// A JSON answer that is not JSON-RPC: toolgate's own error body
/// (`{"error": {"code", "message"}}`, e.g. a 401 or 403 from the gate).
pub(super) fn refusal(status: StatusCode, body: &Value) -> String {
    let code = body["error"]["code"].as_str();
    let message = body["error"]["message"].as_str();
    match (code, message) {
        (Some(c), Some(m)) => format!("toolgate refused the request (HTTP {status}, {c}): {m}"),
        _ => format!("toolgate answered HTTP {status} with JSON that is not JSON-RPC"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_requests_have_an_id_to_answer_and_only_json_rpc_is_forwarded() {
        assert_eq!(
            request_id(&json!({"jsonrpc": "2.0", "id": 7, "method": "ping"})),
            Some(json!(7))
        );
        assert_eq!(
            request_id(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"})),
            None
        );
        assert_eq!(
            request_id(&json!({"jsonrpc": "2.0", "id": 7, "result": {}})),
            None
        );
        assert!(is_message(
            &json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -1, "message": "x"}})
        ));
        assert!(!is_message(
            &json!({"error": {"code": "unauthorized", "message": "x"}})
        ));
        assert!(!is_message(&json!([])));
    }
}
