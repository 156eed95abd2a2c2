//! JSON-RPC 2.0 as MCP's streamable HTTP transport carries it: one message
//! per POST (batches were dropped by the 2025-06-18 revision and are
//! refused here for every revision), answers with the standard codes.

use serde_json::{Map, Value, json};

/// Invalid JSON.
pub(crate) const PARSE_ERROR: i64 = -32700;
/// Not a JSON-RPC 2.0 message, or one this endpoint does not take.
pub(crate) const INVALID_REQUEST: i64 = -32600;
pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
pub(crate) const INVALID_PARAMS: i64 = -32602;

/// One message from the client.
#[derive(Debug)]
pub(crate) enum Message {
    /// Expects an answer with the same `id`.
    Request {
        id: Value,
        method: String,
        params: Map<String, Value>,
    },
    /// No `id`: answered with HTTP 202 and no body.
    Notification,
    /// A client's answer to a server request (this server sends none): 202.
    Response,
}

/// A JSON-RPC error, and the `id` it answers (`null` when unknown).
#[derive(Debug)]
pub(crate) struct RpcError {
    pub id: Value,
    pub code: i64,
    pub message: String,
    /// The error's `data` member, when it has one.
    pub data: Option<Value>,
}

impl RpcError {
    pub(crate) fn new(id: Value, code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            id,
            code,
            message: message.into(),
            data: None,
        }
    }

    pub(crate) fn with_data(mut self, data: Value) -> RpcError {
        self.data = Some(data);
        self
    }

    pub(crate) fn to_value(&self) -> Value {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        json!({"jsonrpc": "2.0", "id": self.id, "error": error})
    }
}

/// A successful answer to request `id`.
pub(crate) fn result(id: Value, result: Value) -> Value {
    let mut answer = Map::new();
    answer.insert("jsonrpc".into(), Value::from("2.0"));
    answer.insert("id".into(), id);
    answer.insert("result".into(), result);
    Value::Object(answer)
}

/// Read one message from a POST body.
pub(crate) fn parse(body: &[u8]) -> Result<Message, RpcError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        RpcError::new(
            Value::Null,
            PARSE_ERROR,
            format!("the body is not valid JSON ({e})"),
        )
    })?;
    let obj = match value {
        Value::Object(obj) => obj,
        Value::Array(_) => {
            return Err(RpcError::new(
                Value::Null,
                INVALID_REQUEST,
                "JSON-RPC batches are not supported (MCP 2025-06-18 and later dropped them); send one message per request",
            ));
        }
        _ => {
            return Err(RpcError::new(
                Value::Null,
                INVALID_REQUEST,
                "a JSON-RPC message is a JSON object",
            ));
        }
    };
    let id = obj.get("id").cloned();
    let invalid = |message: &str| {
        RpcError::new(
            id.clone().filter(valid_id).unwrap_or(Value::Null),
            INVALID_REQUEST,
            message,
        )
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid("jsonrpc must be \"2.0\""));
    }
    if let Some(id) = &id
        && !valid_id(id)
    {
        return Err(invalid("id must be a string or an integer"));
    }
    let method = match obj.get("method") {
        Some(Value::String(m)) => m.clone(),
        Some(_) => return Err(invalid("method must be a string")),
        None if id.is_some() && (obj.contains_key("result") || obj.contains_key("error")) => {
            return Ok(Message::Response);
        }
        None => return Err(invalid("method is required")),
    };
    let params = match obj.get("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(_) => {
            return Err(RpcError::new(
                id.unwrap_or(Value::Null),
                INVALID_PARAMS,
                "params must be an object",
            ));
        }
    };
    Ok(match id {
        Some(id) => Message::Request { id, method, params },
        None => Message::Notification,
    })
}

/// MCP request ids are strings or integers, never null.
fn valid_id(id: &Value) -> bool {
    id.is_string() || id.is_i64() || id.is_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> i64 {
        parse(body.as_bytes()).expect_err("refused").code
    }

    #[test]
    fn messages_are_told_apart() {
        let m = parse(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).unwrap();
        assert!(matches!(m, Message::Request { ref method, .. } if method == "ping"));
        let m = parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert!(matches!(m, Message::Notification));
        let m = parse(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#).unwrap();
        assert!(matches!(m, Message::Response));
    }

    #[test]
    fn malformed_messages_get_the_standard_codes() {
        assert_eq!(code("{"), PARSE_ERROR);
        assert_eq!(
            code(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#),
            INVALID_REQUEST
        );
        assert_eq!(code(r#"{"id":1,"method":"ping"}"#), INVALID_REQUEST);
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#),
            INVALID_REQUEST
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":7}"#),
            INVALID_REQUEST
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#),
            INVALID_PARAMS
        );
    }
}
