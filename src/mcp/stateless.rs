//! The `2026-07-28` revision: no session, no `initialize`. Every request
//! names its protocol version and the client's capabilities in `_meta`,
//! and mirrors its method (and, for `tools/call`, the tool's name) into
//! the `Mcp-Method` and `Mcp-Name` headers so that a balancer can route on
//! them; toolgate checks each header against the body and refuses a
//! mismatch (HTTP 400, `-32020`), since a component that routes on a header
//! and one that acts on the body must agree on what is being asked.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

use super::jsonrpc::{INVALID_PARAMS, METHOD_NOT_FOUND, RpcError};
use super::{Reply, VERSION_HEADER, header};

/// The stateless revision.
pub(crate) const VERSION: &str = "2026-07-28";

/// HTTP headers do not match the body, or a required one is missing.
pub(crate) const HEADER_MISMATCH: i64 = -32020;
/// The requested protocol version is not served.
pub(crate) const UNSUPPORTED_VERSION: i64 = -32022;

pub(crate) const METHOD_HEADER: &str = "mcp-method";
pub(crate) const NAME_HEADER: &str = "mcp-name";

/// Where a request's `_meta` carries its protocol version.
pub(crate) const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// How long a client may keep `server/discover` and `tools/list` answers:
/// a configuration reload can change the list, and a list kept too long
/// costs only a refused call (a tool no longer granted is refused anyway).
pub(crate) const TTL_MS: u64 = 60_000;

/// The methods this revision offers.
const METHODS: &str = "server/discover, tools/list and tools/call";

/// Check a request against this revision's rules before it is answered:
/// the mirrored headers, and the `_meta` fields every request must carry.
pub(crate) fn check(
    headers: &HeaderMap,
    id: &Value,
    method: &str,
    params: &Map<String, Value>,
) -> Result<(), Reply> {
    let mismatch = |what: &str| {
        Err(Reply::error(
            StatusCode::BAD_REQUEST,
            &RpcError::new(
                id.clone(),
                HEADER_MISMATCH,
                format!("Header mismatch: {what}"),
            ),
        ))
    };
    if header(headers, VERSION_HEADER) != Some(VERSION) {
        return mismatch(&format!(
            "the MCP-Protocol-Version header must be {VERSION}, as params._meta[\"{META_VERSION}\"] says"
        ));
    }
    let meta = params.get("_meta").and_then(Value::as_object);
    let version = meta.and_then(|m| m.get(META_VERSION));
    match version {
        None => {
            return Err(invalid(
                id,
                format!("params._meta[\"{META_VERSION}\"] is required in the {VERSION} revision"),
            ));
        }
        Some(Value::String(v)) if v == VERSION => {}
        Some(_) => {
            return mismatch(&format!(
                "the MCP-Protocol-Version header does not match params._meta[\"{META_VERSION}\"]"
            ));
        }
    }
    if !meta
        .and_then(|m| m.get(META_CAPABILITIES))
        .is_some_and(Value::is_object)
    {
        return Err(invalid(
            id,
            format!(
                "params._meta[\"{META_CAPABILITIES}\"] (an object) is required in the {VERSION} revision"
            ),
        ));
    }
    match header(headers, METHOD_HEADER) {
        None => return mismatch("the Mcp-Method header is required"),
        Some(m) if m != method => {
            return mismatch("the Mcp-Method header does not match the body's method");
        }
        Some(_) => {}
    }
    if method == "tools/call" {
        let body_name = params.get("name").and_then(Value::as_str);
        match (header(headers, NAME_HEADER).map(decode_name), body_name) {
            (None, _) => return mismatch("the Mcp-Name header is required for tools/call"),
            (Some(None), _) => {
                return mismatch("the Mcp-Name header is not a valid =?base64?…?= value");
            }
            (Some(Some(h)), Some(b)) if h == b => {}
            (Some(Some(_)), _) => {
                return mismatch("the Mcp-Name header does not match params.name");
            }
        }
    }
    Ok(())
}

/// An `Mcp-Name` value: as sent, or decoded from the `=?base64?…?=` form.
fn decode_name(value: &str) -> Option<String> {
    match value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    {
        Some(encoded) => STANDARD
            .decode(encoded)
            .ok()
            .and_then(|b| String::from_utf8(b).ok()),
        None => Some(value.to_owned()),
    }
}

fn invalid(id: &Value, message: String) -> Reply {
    Reply::error(
        StatusCode::BAD_REQUEST,
        &RpcError::new(id.clone(), INVALID_PARAMS, message),
    )
}

/// A method this revision does not offer: HTTP 404 with `-32601`, which
/// tells a modern client apart from a missing endpoint.
pub(crate) fn unknown_method(id: &Value, method: &str) -> Reply {
    let hint = match method {
        "initialize" | "ping" => format!(" ({method} belongs to the 2025 revisions)"),
        _ => String::new(),
    };
    Reply::error(
        StatusCode::NOT_FOUND,
        &RpcError::new(
            id.clone(),
            METHOD_NOT_FOUND,
            format!("method not found{hint}; the {VERSION} revision here offers {METHODS}"),
        ),
    )
}

/// A protocol version not served: HTTP 400 with `-32022`, listing those that are.
pub(crate) fn unsupported(id: &Value, requested: &str, supported: &[&str]) -> Reply {
    let error = RpcError::new(
        id.clone(),
        UNSUPPORTED_VERSION,
        "Unsupported protocol version",
    )
    .with_data(json!({"supported": supported, "requested": requested}));
    Reply::error(StatusCode::BAD_REQUEST, &error)
}

/// `server/discover`'s result.
pub(crate) fn discover(supported: &[&str]) -> Value {
    json!({
        "supportedVersions": supported,
        "capabilities": {"tools": {}},
        "instructions": "Tools act on real APIs on your behalf; some calls are held for a person's approval, and a held call's outcome is read later.",
        "ttlMs": TTL_MS,
        "cacheScope": "private",
    })
}

/// What every result of this revision carries: `resultType`, and the
/// server's name in `_meta`; a list also says how long it may be kept.
pub(crate) fn complete(method: &str, mut result: Value) -> Value {
    if let Value::Object(fields) = &mut result {
        fields.insert("resultType".into(), Value::from("complete"));
        if method == "tools/list" {
            fields.insert("ttlMs".into(), Value::from(TTL_MS));
            fields.insert("cacheScope".into(), Value::from("private"));
        }
        let meta = fields
            .entry("_meta")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(meta) = meta {
            meta.insert(
                META_SERVER_INFO.into(),
                json!({"name": "toolgate", "version": env!("CARGO_PKG_VERSION")}),
            );
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The version header and `pairs`.
    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(VERSION_HEADER, VERSION.parse().unwrap());
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn params(name: Option<&str>) -> Map<String, Value> {
        let mut p = json!({"_meta": {META_VERSION: VERSION, META_CAPABILITIES: {}}});
        if let Some(n) = name {
            p["name"] = json!(n);
        }
        p.as_object().unwrap().clone()
    }

    fn code(r: Result<(), Reply>) -> (StatusCode, i64) {
        let r = r.expect_err("refused");
        (r.status, r.body.unwrap()["error"]["code"].as_i64().unwrap())
    }

    #[test]
    fn the_mirrored_headers_must_match_the_body() {
        let id = json!(1);
        let ok = headers(&[(METHOD_HEADER, "tools/call"), (NAME_HEADER, "echo")]);
        assert!(check(&ok, &id, "tools/call", &params(Some("echo"))).is_ok());
        let mismatch = (StatusCode::BAD_REQUEST, HEADER_MISMATCH);
        let other = headers(&[(METHOD_HEADER, "tools/call"), (NAME_HEADER, "other")]);
        assert_eq!(
            code(check(&other, &id, "tools/call", &params(Some("echo")))),
            mismatch
        );
        let no_name = headers(&[(METHOD_HEADER, "tools/call")]);
        assert_eq!(
            code(check(&no_name, &id, "tools/call", &params(Some("echo")))),
            mismatch
        );
        let wrong_method = headers(&[(METHOD_HEADER, "tools/list")]);
        assert_eq!(
            code(check(&wrong_method, &id, "tools/call", &params(Some("e")))),
            mismatch
        );
        assert_eq!(
            code(check(&headers(&[]), &id, "tools/list", &params(None))),
            mismatch
        );
        let mut unversioned = ok;
        unversioned.remove(VERSION_HEADER);
        assert_eq!(
            code(check(
                &unversioned,
                &id,
                "tools/call",
                &params(Some("echo"))
            )),
            mismatch
        );
    }

    #[test]
    fn a_base64_name_is_decoded_before_it_is_compared() {
        let encoded = format!("=?base64?{}?=", STANDARD.encode("créer_lead"));
        let h = headers(&[(METHOD_HEADER, "tools/call"), (NAME_HEADER, &encoded)]);
        assert!(check(&h, &json!(1), "tools/call", &params(Some("créer_lead"))).is_ok());
        let bad = headers(&[
            (METHOD_HEADER, "tools/call"),
            (NAME_HEADER, "=?base64?%%?="),
        ]);
        assert_eq!(
            code(check(&bad, &json!(1), "tools/call", &params(Some("x")))).1,
            HEADER_MISMATCH
        );
    }

    #[test]
    fn the_meta_fields_are_required() {
        let h = headers(&[(METHOD_HEADER, "tools/list")]);
        let mut p = params(None);
        p["_meta"]
            .as_object_mut()
            .unwrap()
            .remove(META_CAPABILITIES);
        assert_eq!(
            code(check(&h, &json!(1), "tools/list", &p)),
            (StatusCode::BAD_REQUEST, INVALID_PARAMS)
        );
        assert_eq!(
            code(check(&h, &json!(1), "tools/list", &Map::new())),
            (StatusCode::BAD_REQUEST, INVALID_PARAMS)
        );
        let mut p = params(None);
        p["_meta"][META_VERSION] = json!("2025-11-25");
        assert_eq!(
            code(check(&h, &json!(1), "tools/list", &p)).1,
            HEADER_MISMATCH
        );
    }

    #[test]
    fn results_say_they_are_complete() {
        let r = complete("tools/list", json!({"tools": []}));
        assert_eq!(r["resultType"], "complete");
        assert_eq!(r["ttlMs"], TTL_MS);
        assert_eq!(r["cacheScope"], "private");
        assert_eq!(r["_meta"][META_SERVER_INFO]["name"], "toolgate");
        let r = complete("tools/call", json!({"content": [], "_meta": {"a": 1}}));
        assert_eq!(r["resultType"], "complete");
        assert!(r.get("ttlMs").is_none());
        assert_eq!(r["_meta"]["a"], 1);
    }
}
