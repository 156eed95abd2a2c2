//! Calls end to end: authentication, resolution, validation, building,
//! injection, shaping, and every error code on the way.

use std::collections::HashMap;

use serde_json::{Value, json};

// Other test files still import these from here.
pub use crate::support::calls_config::{leaks, setup, setup_with};
use crate::support::code;

#[tokio::test]
async fn a_call_reaches_the_upstream_built_from_the_template() {
    let s = setup().await;
    let (status, body, headers) = s
        .gw
        .call(
            &s.keys.agent,
            json!({"tool": "echo", "arguments": {"id": "A1", "q": "a b&c=d", "tag": "t1", "n": 7, "nested": {"k": [1, 2]}}, "call_id": "c-1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "succeeded");
    assert_eq!(body["call_id"], "c-1");
    assert_eq!(body["upstream_status"], 200);
    let got = s.up.last();
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, "/echo/items/A1/view");
    let q: HashMap<String, String> = url::form_urlencoded::parse(got.query.unwrap().as_bytes())
        .into_owned()
        .collect();
    assert_eq!(q["q"], "a b&c=d");
    assert_eq!(q["fixed"], "yes");
    assert_eq!(got.headers["x-tag"], "t1");
    let sent: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(
        sent,
        json!({"n": 7, "nested": {"k": [1, 2]}, "literal": "toolgate"})
    );
    assert_eq!(
        got.headers["authorization"].to_str().unwrap(),
        format!("Bearer {}", s.secret)
    );
    // The result is what the upstream answered, minus the credential.
    assert_eq!(body["result"]["path"], "/echo/items/A1/view");
    assert!(!leaks(&body.to_string(), &s.secret));
    let timing = headers["server-timing"].to_str().unwrap();
    assert!(
        timing.contains("gateway;dur=") && timing.contains("upstream;dur="),
        "{timing}"
    );
    assert!(headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn absent_optional_arguments_are_left_out() {
    let s = setup().await;
    let (status, _, _) =
        s.gw.call(
            &s.keys.agent,
            json!({"tool": "echo", "arguments": {"id": "A2"}}),
        )
        .await;
    assert_eq!(status, 200);
    let got = s.up.last();
    assert_eq!(got.query.as_deref(), Some("fixed=yes"));
    assert!(!got.headers.contains_key("x-tag"));
    let sent: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(sent, json!({"literal": "toolgate"}));
}

#[tokio::test]
async fn each_injection_form_arrives_where_it_belongs() {
    use base64::Engine as _;
    let s = setup().await;
    let (status, body, _) =
        s.gw.call(&s.keys.agent, json!({"tool": "echo_basic"}))
            .await;
    assert_eq!(status, 200, "{body}");
    let auth = s.up.last().headers["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("svc-user:{}", s.basic_secret));
    assert_eq!(auth, format!("Basic {expected}"));
    assert!(!leaks(&body.to_string(), &s.basic_secret));
    assert!(
        !body.to_string().contains(&expected),
        "the Basic pair came back"
    );

    let (status, body, _) =
        s.gw.call(&s.keys.agent, json!({"tool": "echo_query"}))
            .await;
    assert_eq!(status, 200, "{body}");
    let got = s.up.last();
    assert!(!got.headers.contains_key("authorization"));
    let q: HashMap<String, String> = url::form_urlencoded::parse(got.query.unwrap().as_bytes())
        .into_owned()
        .collect();
    assert_eq!(q["api_key"], s.query_secret);
    assert_eq!(q["x"], "1");
    assert!(!leaks(&body.to_string(), &s.query_secret), "{body}");
}

#[tokio::test]
async fn path_traversal_stays_inside_one_segment() {
    let s = setup().await;
    for (id, expect) in [
        ("../../admin", "/echo/items/..%2F..%2Fadmin/view"),
        ("a/b", "/echo/items/a%2Fb/view"),
        ("%2F..%2Fadmin", "/echo/items/%252F..%252Fadmin/view"),
        ("x?y=1#z", "/echo/items/x%3Fy%3D1%23z/view"),
        ("..%2f", "/echo/items/..%252f/view"),
    ] {
        let (status, body, _) =
            s.gw.call(
                &s.keys.agent,
                json!({"tool": "echo", "arguments": {"id": id}}),
            )
            .await;
        assert_eq!(status, 200, "{id}: {body}");
        let got = s.up.last();
        assert_eq!(got.path, expect, "for {id}");
        assert_eq!(got.query.as_deref(), Some("fixed=yes"), "for {id}");
    }
    let before = s.up.count();
    for id in ["..", ".", ""] {
        let (status, body, _) =
            s.gw.call(
                &s.keys.agent,
                json!({"tool": "echo", "arguments": {"id": id}}),
            )
            .await;
        assert_eq!(status, 400, "{id}: {body}");
        assert_eq!(code(&body), "bad_request");
        assert_eq!(body["error"]["details"][0]["pointer"], "/id");
    }
    assert_eq!(
        s.up.count(),
        before,
        "nothing was sent for refused path values"
    );
}

#[tokio::test]
async fn crlf_in_a_header_value_is_refused() {
    let s = setup().await;
    let before = s.up.count();
    for tag in ["a\r\nX-Injected: 1", "a\nb", "a\rb"] {
        let (status, body, _) =
            s.gw.call(
                &s.keys.agent,
                json!({"tool": "echo", "arguments": {"id": "x", "tag": tag}}),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(code(&body), "bad_request");
        assert_eq!(body["error"]["details"][0]["pointer"], "/x-tag");
    }
    assert_eq!(s.up.count(), before);
}

#[tokio::test]
async fn an_echoed_credential_never_comes_back() {
    let s = setup().await;
    let (status, body, _) = s.gw.call(&s.keys.agent, json!({"tool": "leak"})).await;
    assert_eq!(status, 200, "{body}");
    let text = body.to_string();
    assert!(!leaks(&text, &s.secret), "{text}");
    assert!(text.contains("[REDACTED:credential:api-key]"));
    // The allow-listed header that echoed it is scrubbed too.
    assert_eq!(
        body["headers"]["x-request-id"],
        "[REDACTED:credential:api-key]"
    );

    let (status, body, _) = s.gw.call(&s.keys.agent, json!({"tool": "leak_text"})).await;
    assert_eq!(status, 200);
    let text = body["result"].as_str().unwrap();
    assert!(text.starts_with("debug dump: auth="));
    assert!(!leaks(text, &s.secret), "{text}");
    assert!(text.contains("[REDACTED:credential:api-key]"), "{text}");

    // An upstream error body is scrubbed as well.
    let (status, body, _) =
        s.gw.call(
            &s.keys.agent,
            json!({"tool": "status", "arguments": {"code": 500}}),
        )
        .await;
    assert_eq!(status, 502);
    assert_eq!(code(&body), "upstream_error");
    assert_eq!(body["error"]["details"][0]["upstream_status"], 500);
    assert!(!leaks(&body.to_string(), &s.secret), "{body}");
    assert!(
        body.to_string().contains("[REDACTED:credential:api-key]"),
        "{body}"
    );
}

#[tokio::test]
async fn fields_projection_keeps_only_listed_pointers() {
    let s = setup().await;
    let (status, body, _) = s.gw.call(&s.keys.agent, json!({"tool": "projected"})).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["result"],
        json!({"ok": true, "enc": {"nested": {"deeper": [{"auth": "[REDACTED:credential:api-key]"}]}}})
    );
}

#[tokio::test]
async fn sensitive_fields_are_removed_from_results() {
    let s = setup().await;
    let (st, body, _) =
        s.gw.call(&s.keys.agent, json!({"tool": "sensitive_result"}))
            .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["result"]["ok"], "[REDACTED:key]");
    assert_eq!(
        body["result"]["enc"]["nested"]["deeper"][0]["auth"],
        "[REDACTED:key]"
    );
    assert!(!leaks(&body.to_string(), &s.secret));
}

#[tokio::test]
async fn unknown_and_not_granted_tools_are_indistinguishable() {
    let s = setup().await;
    let (s1, b1, _) =
        s.gw.call(&s.keys.agent, json!({"tool": "admin_only"}))
            .await;
    let (s2, b2, _) =
        s.gw.call(&s.keys.agent, json!({"tool": "no_such_tool"}))
            .await;
    assert_eq!(s1, 404);
    assert_eq!((s1, &b1), (s2, &b2));
    assert_eq!(code(&b1), "unknown_tool");
    // The other workflow grants it.
    let (s3, b3, _) =
        s.gw.call(&s.keys.other_agent, json!({"tool": "admin_only"}))
            .await;
    assert_eq!(s3, 200, "{b3}");
}

#[tokio::test]
async fn authentication_and_roles() {
    let s = setup().await;
    let call = json!({"tool": "echo", "arguments": {"id": "1"}});
    let r =
        s.gw.http
            .post(s.gw.url("/v1/calls"))
            .json(&call)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 401);
    let (st, body, _) = s.gw.call("tg_agent_not-a-real-key", call.clone()).await;
    assert_eq!((st, code(&body)), (401, "unauthenticated"));
    let r =
        s.gw.http
            .post(s.gw.url("/v1/calls"))
            .header("authorization", format!("Basic {}", s.keys.agent))
            .json(&call)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 401);
    for key in [&s.keys.approver, &s.keys.admin] {
        let (st, body, _) = s.gw.call(key, call.clone()).await;
        assert_eq!((st, code(&body)), (403, "forbidden"));
        let (st, _) = s.gw.get(Some(key), "/v1/tools").await;
        assert_eq!(st, 403);
    }
    assert_eq!(s.up.count(), 0);
}

#[tokio::test]
async fn schema_violations_list_pointers_and_reasons() {
    let s = setup().await;
    let (st, body, _) =
        s.gw.call(
            &s.keys.agent,
            json!({"tool": "echo", "arguments": {"id": 5, "n": 70, "extra": true}}),
        )
        .await;
    assert_eq!(st, 422);
    assert_eq!(code(&body), "schema_violation");
    let details = body["error"]["details"].as_array().unwrap();
    let pointers: Vec<&str> = details
        .iter()
        .map(|d| d["pointer"].as_str().unwrap())
        .collect();
    assert!(pointers.contains(&"/id"), "{body}");
    // 70 passes the tool's maximum (100) but not the workflow overlay's (50).
    assert!(pointers.contains(&"/n"), "{body}");
    assert!(
        details
            .iter()
            .any(|d| d["reason"].as_str().unwrap().contains("extra")),
        "{body}"
    );
    assert!(
        details
            .iter()
            .all(|d| !d["reason"].as_str().unwrap().is_empty())
    );
    assert_eq!(s.up.count(), 0);
}

#[tokio::test]
async fn malformed_requests_are_bad_requests() {
    let s = setup().await;
    let k = &s.keys.agent;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", b"{not json".to_vec()),
        (
            "text/plain",
            br#"{"tool":"echo","arguments":{"id":"1"}}"#.to_vec(),
        ),
        (
            "application/json",
            br#"{"tool":"echo","arguments":[1,2]}"#.to_vec(),
        ),
        (
            "application/json",
            br#"{"tool":"echo","arguments":"{\"id\":\"1\"}"}"#.to_vec(),
        ),
        ("application/json", br#"[1,2,3]"#.to_vec()),
        ("application/json", br#"{"arguments":{}}"#.to_vec()),
        (
            "application/json",
            br#"{"tool":"echo","arguments":{},"surprise":1}"#.to_vec(),
        ),
        (
            "application/json",
            br#"{"id":"c1","type":"function","function":{"name":"echo","arguments":"{not json"}}"#
                .to_vec(),
        ),
        (
            "application/json",
            br#"{"id":"c1","type":"function","function":{"name":"echo","arguments":"[1]"}}"#
                .to_vec(),
        ),
        (
            "application/json",
            br#"{"tool":"echo","arguments":{"id":"1"},"idempotency_key":"has space"}"#.to_vec(),
        ),
        (
            "application/json",
            br#"{"tool":"echo","arguments":{"id":"1"},"call_id":"has space"}"#.to_vec(),
        ),
    ];
    for (ct, body) in cases {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let (st, v) = s.gw.post_raw(k, ct, body).await;
        assert_eq!((st, code(&v)), (400, "bad_request"), "{shown}: {v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    }
    // Deep nesting cannot overflow the stack: it is just a bad request.
    let deep = format!(
        "{{\"tool\":\"echo\",\"arguments\":{{\"nested\":{}{}}}}}",
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let (st, v) =
        s.gw.post_raw(k, "application/json", deep.into_bytes())
            .await;
    assert_eq!((st, code(&v)), (400, "bad_request"));
    // Too large a body.
    let big = format!(
        "{{\"tool\":\"echo\",\"arguments\":{{\"id\":\"{}\"}}}}",
        "x".repeat(70_000)
    );
    let (st, v) = s.gw.post_raw(k, "application/json", big.into_bytes()).await;
    assert_eq!((st, code(&v)), (413, "payload_too_large"));
    assert_eq!(s.up.count(), 0);
}

#[tokio::test]
async fn openai_and_anthropic_shapes_are_accepted() {
    let s = setup().await;
    let item = json!({"id": "call_abc", "type": "function", "function": {"name": "echo", "arguments": "{\"id\":\"o1\",\"n\":3}"}});
    let (st, body, _) = s.gw.call(&s.keys.agent, item).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["call_id"], "call_abc");
    assert_eq!(s.up.last().path, "/echo/items/o1/view");
    let block = json!({"type": "tool_use", "id": "toolu_1", "name": "echo", "input": {"id": "a1"}});
    let (st, body, _) = s.gw.call(&s.keys.agent, block).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["call_id"], "toolu_1");
    assert_eq!(s.up.last().path, "/echo/items/a1/view");
}

#[tokio::test]
async fn upstream_failures_map_to_codes() {
    let s = setup().await;
    let (st, body, _) =
        s.gw.call(
            &s.keys.agent,
            json!({"tool": "status", "arguments": {"code": 401}}),
        )
        .await;
    assert_eq!((st, code(&body)), (502, "credential_rejected"));
    let (st, body, _) =
        s.gw.call(
            &s.keys.agent,
            json!({"tool": "status", "arguments": {"code": 403}}),
        )
        .await;
    assert_eq!((st, code(&body)), (502, "credential_rejected"));
    assert!(!leaks(&body.to_string(), &s.secret));
    let (st, body, _) =
        s.gw.call(
            &s.keys.agent,
            json!({"tool": "status", "arguments": {"code": 422}}),
        )
        .await;
    assert_eq!((st, code(&body)), (502, "upstream_error"));
    assert_eq!(
        body["error"]["details"][0]["body"]["error"],
        "upstream says no"
    );
    let (st, body, _) = s.gw.call(&s.keys.agent, json!({"tool": "slow"})).await;
    assert_eq!((st, code(&body)), (504, "upstream_timeout"));
    let (st, body, _) =
        s.gw.call(&s.keys.agent, json!({"tool": "missing_cred"}))
            .await;
    assert_eq!((st, code(&body)), (503, "credential_unavailable"));
    assert!(
        s.up.requests().iter().all(|r| r.path != "/echo/x"),
        "no call without its credential"
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let s = setup().await;
    let (st, body, _) = s.gw.call(&s.keys.agent, json!({"tool": "redirect"})).await;
    assert_eq!((st, code(&body)), (502, "upstream_error"));
    assert_eq!(body["error"]["details"][0]["upstream_status"], 302);
    assert!(s.up.requests().iter().all(|r| r.path != "/redirect-target"));
}

#[tokio::test]
async fn tools_are_listed_in_each_format() {
    let s = setup().await;
    let (st, v) =
        s.gw.get(Some(&s.keys.agent), "/v1/tools?format=openai")
            .await;
    assert_eq!(st, 200);
    let tools = v.as_array().unwrap();
    let names: Vec<&str> = tools
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"echo") && !names.contains(&"admin_only"),
        "{names:?}"
    );
    let echo = tools
        .iter()
        .find(|t| t["function"]["name"] == "echo")
        .unwrap();
    assert_eq!(echo["type"], "function");
    assert_eq!(echo["function"]["parameters"]["type"], "object");
    // The overlay narrows what the model is shown, merged into one schema.
    let n = &echo["function"]["parameters"]["properties"]["n"];
    assert_eq!(
        n,
        &json!({"type": "integer", "minimum": 0, "maximum": 50}),
        "{n}"
    );

    let (st, v) =
        s.gw.get(Some(&s.keys.agent), "/v1/tools?format=anthropic")
            .await;
    assert_eq!(st, 200);
    let echo = v
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "echo")
        .unwrap();
    assert_eq!(echo["input_schema"]["type"], "object");
    assert!(echo["description"].is_string());
    assert_eq!(echo.as_object().unwrap().len(), 3);

    let (st, v) =
        s.gw.get(Some(&s.keys.agent), "/v1/tools?format=native")
            .await;
    assert_eq!(st, 200);
    assert_eq!(v["workflow"], "main");
    let (st, v) = s.gw.get(Some(&s.keys.agent), "/v1/tools?format=xml").await;
    assert_eq!((st, code(&v)), (400, "bad_request"));
    let (st, v) = s.gw.get(None, "/v1/tools").await;
    assert_eq!((st, code(&v)), (401, "unauthenticated"));
}

#[tokio::test]
async fn health_and_unknown_routes() {
    let s = setup().await;
    let (st, v) = s.gw.get(None, "/healthz").await;
    assert_eq!((st, v["status"].as_str()), (200, Some("ok")));
    // One credential (unset-key) cannot be loaded: not ready, and no name revealed.
    let (st, v) = s.gw.get(None, "/readyz").await;
    assert_eq!(st, 503);
    assert_eq!(v["checks"]["credentials"]["unavailable"], 1);
    // It names the subsystem and the kind of source, never the credential.
    assert_eq!(v["not_ready"], json!(["credentials:env"]), "{v}");
    assert_eq!(v["checks"]["credentials"]["kinds"], json!({"env": 1}));
    assert_eq!(v["checks"]["store"]["kind"], "file");
    assert!(!v.to_string().contains("unset"));
    assert!(!v.to_string().contains("TEST_NOT_SET"));
    let (st, v) = s.gw.get(None, "/v1/nothing").await;
    assert_eq!((st, code(&v)), (404, "not_found"));
}
