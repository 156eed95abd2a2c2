//! The JSON-RPC side of the bridge: which messages get an answer, what is
//! forwarded, and the errors it writes itself.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Where a request of the stateless `2026-07-28` revision names its version.
const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";

/// The headers a request of the stateless revision mirrors from its body
/// (`MCP-Protocol-Version`, `Mcp-Method`, and `Mcp-Name` for `tools/call`);
/// `None` for a message of the 2025 session flow, which names no version.
pub(super) fn stateless_headers(message: &Value) -> Option<Vec<(&'static str, String)>> {
    let version = message["params"]["_meta"][META_VERSION].as_str()?;
    let mut headers = vec![("mcp-protocol-version", version.to_owned())];
    if let Some(method) = message["method"].as_str() {
        headers.push(("mcp-method", method.to_owned()));
        if method == "tools/call"
            && let Some(name) = message["params"]["name"].as_str()
        {
            headers.push(("mcp-name", header_safe(name)));
        }
    }
    Some(headers)
}

/// A name as a header value: as it is when it is plain visible ASCII, else
/// in the `=?base64?…?=` form.
fn header_safe(name: &str) -> String {
    let plain =
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic()) && !name.starts_with("=?");
    if plain {
        name.to_owned()
    } else {
        format!("=?base64?{}?=", STANDARD.encode(name))
    }
}

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
    fn a_stateless_request_mirrors_its_version_method_and_tool_name() {
        let call = |name: &str| {
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": name, "_meta": {META_VERSION: "2026-07-28"}}})
        };
        assert_eq!(
            stateless_headers(&call("echo")).unwrap(),
            [
                ("mcp-protocol-version", "2026-07-28".to_owned()),
                ("mcp-method", "tools/call".to_owned()),
                ("mcp-name", "echo".to_owned()),
            ]
        );
        let odd = stateless_headers(&call("créer lead")).unwrap();
        assert_eq!(
            odd[2].1,
            format!("=?base64?{}?=", STANDARD.encode("créer lead"))
        );
        assert!(stateless_headers(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})).is_none());
    }

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
