//! `/mcp` against the real binary, over raw HTTP: the 2025 session flow,
//! authorization, tool list and calls through the pipeline; and the
//! official Python SDK (`tests/mcp/client.py`) listing and calling.

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::support::calls_config::{config_yaml, leaks, tools_yaml};
use crate::support::process::{Proc, Serve, free_port};
use crate::support::skip;
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, Keys, canary, repo_root};

struct Mcp {
    proc: Proc,
    keys: Keys,
    secret: String,
    _up: Upstream,
    _dir: ConfigDir,
}

const HELD_TOOL: &str = "name: held\ndescription: Needs approval.\nscopes: [t:held]\n\
input_schema: { type: object, additionalProperties: false }\n";

async fn start() -> Mcp {
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = ConfigDir::new();
    for (rel, text) in tools_yaml(&up.base()) {
        dir.write(&rel, &text);
    }
    dir.write(
        "tools/held.yaml",
        &format!(
            "{HELD_TOOL}upstream: {{ method: POST, url: \"{}/echo/held\", credential: api, allow_private_network: true }}\napproval: always\n",
            up.base()
        ),
    );
    // Only `main` (which has an approver) is granted the held tool.
    let config = config_yaml(
        &keys,
        "mcp: { allowed_origins: [\"https://app.example.com\"], approval_wait_seconds: 0 }\n",
    )
    .replacen(
        "  main:\n    environment: test\n    scopes: [t:read]",
        "  main:\n    environment: test\n    scopes: [t:read, t:held]",
        1,
    );
    assert!(config.contains("t:held"));
    dir.write("toolgate.yaml", &config);
    let secret = canary("api-");
    let proc = Serve::new(&dir.config_path(), free_port())
        .envs(&[
            ("TEST_API_KEY", &secret),
            ("TEST_BASIC", &canary("basic-")),
            ("TEST_QUERY", &canary("query-")),
        ])
        .stderr_to(&dir.path().join("toolgate.log"))
        .start()
        .await;
    Mcp {
        proc,
        keys,
        secret,
        _up: up,
        _dir: dir,
    }
}

impl Mcp {
    async fn post(&self, key: &str, session: Option<&str>, body: Value) -> (u16, HeaderMap, Value) {
        let mut req = self
            .proc
            .api
            .http
            .post(self.proc.api.url("/mcp"))
            .bearer_auth(key)
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(s) = session {
            req = req
                .header("mcp-session-id", s)
                .header("mcp-protocol-version", "2025-06-18");
        }
        let r = req.send().await.expect("POST /mcp");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    async fn initialize(&self, key: &str) -> String {
        let (status, headers, body) = self
            .post(
                key,
                None,
                json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "it", "version": "0"}}}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["result"]["protocolVersion"], "2025-06-18");
        assert!(body["result"]["capabilities"]["tools"].is_object());
        let id = headers["mcp-session-id"].to_str().unwrap().to_owned();
        let (status, _, _) = self
            .post(
                key,
                Some(&id),
                json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            )
            .await;
        assert_eq!(status, 202);
        id
    }

    async fn call(&self, session: &str, name: &str, args: Value) -> Value {
        let (status, _, body) = self
            .post(
                &self.keys.agent,
                Some(session),
                json!({"jsonrpc": "2.0", "id": "c", "method": "tools/call",
                       "params": {"name": name, "arguments": args}}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

#[tokio::test]
async fn the_session_flow_lists_and_calls_tools_through_the_pipeline() {
    let m = start().await;
    let agent = m.keys.agent.clone();
    let s = m.initialize(&agent).await;

    // Session rules: required, checked, bound to its agent.
    let ping = json!({"jsonrpc": "2.0", "id": 2, "method": "ping"});
    assert_eq!(m.post(&agent, None, ping.clone()).await.0, 400);
    let (status, _, body) = m.post(&agent, Some(&s), ping.clone()).await;
    assert_eq!((status, &body["result"]), (200, &json!({})));
    assert_eq!(m.post(&agent, Some("made-up"), ping.clone()).await.0, 404);
    assert_eq!(
        m.post(&m.keys.other_agent, Some(&s), ping.clone()).await.0,
        404
    );
    let bad_version = m
        .proc
        .api
        .http
        .post(m.proc.api.url("/mcp"))
        .bearer_auth(&agent)
        .header("mcp-session-id", &s)
        .header("mcp-protocol-version", "1999-01-01")
        .json(&ping)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_version.status(), 400);
    let (_, _, body) = m.post(&agent, Some(&s), json!([ping.clone()])).await;
    assert_eq!(body["error"]["code"], -32600, "batches are refused");
    let (_, _, body) = m
        .post(
            &agent,
            Some(&s),
            json!({"jsonrpc": "2.0", "id": 3, "method": "nope"}),
        )
        .await;
    assert_eq!(body["error"]["code"], -32601);

    // The list: exactly the callable tools, sorted, with the effective schema.
    let (_, _, body) = m
        .post(
            &agent,
            Some(&s),
            json!({"jsonrpc": "2.0", "id": 4, "method": "tools/list"}),
        )
        .await;
    let tools = body["result"]["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    assert!(names.contains(&"echo") && !names.contains(&"admin_only"));
    let (_, rest) = m.proc.api.get(Some(&agent), "/v1/tools").await;
    let rest_echo = rest["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "echo")
        .unwrap();
    let echo = tools.iter().find(|t| t["name"] == "echo").unwrap();
    assert_eq!(echo["inputSchema"], rest_echo["input_schema"]);
    assert_eq!(echo["annotations"]["readOnlyHint"], false);
    let leak = tools.iter().find(|t| t["name"] == "leak").unwrap();
    assert_eq!(leak["annotations"]["readOnlyHint"], true);

    // A call: the credential the upstream echoes is redacted in both forms.
    let body = m.call(&s, "leak", json!({})).await;
    let result = &body["result"];
    assert_eq!(result["isError"], false, "{body}");
    assert!(result["structuredContent"].is_object());
    assert!(
        !leaks(&body.to_string(), &m.secret),
        "the credential leaked: {body}"
    );
    let text = result["content"][0]["text"].as_str().unwrap();
    assert!(!leaks(text, &m.secret));
    assert_eq!(
        serde_json::from_str::<Value>(text).unwrap(),
        result["structuredContent"]
    );

    // A schema error is a tool result with the stable code.
    let body = m.call(&s, "echo", json!({"id": "x", "n": 77})).await;
    assert_eq!(body["result"]["isError"], true, "{body}");
    assert_eq!(
        body["result"]["_meta"]["dev.toolgate/error"]["code"],
        "schema_violation"
    );
    assert!(
        body["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("/n")
    );

    // Unknown and not granted: the same JSON-RPC error.
    let unknown = m.call(&s, "no_such_tool", json!({})).await;
    let denied = m.call(&s, "admin_only", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32602);
    assert_eq!(denied["error"]["code"], -32602);
    let msg = |b: &Value| {
        b["error"]["message"]
            .as_str()
            .unwrap()
            .replace("no_such_tool", "admin_only")
    };
    assert_eq!(msg(&unknown), msg(&denied));
    assert!(msg(&unknown).contains("tools/list"), "{unknown}");

    // Held for approval: pending, with how to get the outcome.
    let body = m.call(&s, "held", json!({})).await;
    let pending = &body["result"]["structuredContent"];
    assert_eq!(body["result"]["isError"], false, "{body} {names:?}");
    assert_eq!(pending["status"], "pending_approval");
    let action = pending["action_id"].as_str().unwrap();
    assert!(pending["expires_at"].is_string());
    assert!(
        body["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains(&format!(
                "toolgate_action_status with {{\"action_id\": \"{action}\"}}"
            ))
    );
    let (status, view) = m
        .proc
        .api
        .get(Some(&agent), &format!("/v1/calls/{action}"))
        .await;
    assert_eq!((status, &view["status"]), (200, &json!("pending_approval")));

    // Counted as MCP calls.
    assert!(metrics_text(&m).await.contains("via=\"mcp\""));
    // Audited as MCP calls, with the session's id hashed, never in clear.
    let trail = std::fs::read_to_string(m._dir.path().join("data/audit.jsonl")).unwrap();
    assert!(!trail.contains(&s), "the session id is in the trail");
    let hashed = toolgate::identity::key_sha256(&s);
    let mcp_records: Vec<Value> = trail
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["via"] == "mcp")
        .collect();
    assert!(
        mcp_records
            .iter()
            .any(|r| r["event"] == "executed" && r["tool"] == "leak")
    );
    assert!(
        mcp_records
            .iter()
            .all(|r| r["mcp_session_sha256"] == hashed.as_str())
    );

    // DELETE ends the session; GET offers no stream.
    let del = |key: &str| {
        m.proc
            .api
            .http
            .delete(m.proc.api.url("/mcp"))
            .bearer_auth(key.to_owned())
            .header("mcp-session-id", &s)
            .send()
    };
    assert_eq!(del(&m.keys.other_agent).await.unwrap().status(), 404);
    assert_eq!(del(&agent).await.unwrap().status(), 204);
    assert_eq!(m.post(&agent, Some(&s), ping).await.0, 404);
    let get = m
        .proc
        .api
        .http
        .get(m.proc.api.url("/mcp"))
        .bearer_auth(&agent)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
}

async fn metrics_text(m: &Mcp) -> String {
    m.proc
        .api
        .http
        .get(m.proc.api.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn only_agents_with_a_header_token_and_an_allowed_origin_get_in() {
    let m = start().await;
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}});
    // No key: 401, pointing at the resource metadata.
    let r = m
        .proc
        .api
        .http
        .post(m.proc.api.url("/mcp"))
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    let host = m.proc.base.trim_start_matches("http://").to_owned();
    let link = format!("http://{host}/.well-known/oauth-protected-resource/mcp");
    assert_eq!(challenge, format!("Bearer resource_metadata=\"{link}\""));
    let doc: Value = m
        .proc
        .api
        .http
        .get(&link)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["resource"], format!("http://{host}/mcp"));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    assert!(
        doc["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("t:read"))
    );
    // A token in the query string is refused.
    let r = m
        .proc
        .api
        .http
        .post(
            m.proc
                .api
                .url(&format!("/mcp?access_token={}", m.keys.agent)),
        )
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A browser origin not allowed: 403; an allowed one passes.
    let with_origin = |o: &'static str| {
        m.proc
            .api
            .http
            .post(m.proc.api.url("/mcp"))
            .bearer_auth(&m.keys.agent)
            .header("origin", o)
            .json(&init)
            .send()
    };
    assert_eq!(
        with_origin("https://evil.example").await.unwrap().status(),
        403
    );
    assert_eq!(
        with_origin("https://app.example.com")
            .await
            .unwrap()
            .status(),
        200
    );
    // Approver and admin keys: 403.
    for key in [&m.keys.approver, &m.keys.admin] {
        let (status, _, _) = m.post(key, None, init.clone()).await;
        assert_eq!(status, 403);
    }
}

#[tokio::test]
async fn the_official_python_sdk_lists_and_calls() {
    let importable = std::process::Command::new("python3")
        .args(["-c", "import mcp.client.streamable_http"])
        .status()
        .is_ok_and(|s| s.success());
    if !importable {
        skip::unavailable("python3 with the `mcp` package (pip install mcp) is not available");
        return;
    }
    let m = start().await;
    // Both eras: a 2025 session, and the stateless 2026-07-28 revision.
    for era in ["legacy", "modern"] {
        let out = tokio::process::Command::new("python3")
            .arg(repo_root().join("tests/mcp/client.py"))
            .arg(format!("{}/mcp", m.proc.base))
            .arg(era)
            .env("TOOLGATE_KEY", &m.keys.agent)
            .output()
            .await
            .expect("python3 runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{era}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("ok"), "{stdout}");
        assert!(!leaks(&stdout, &m.secret));
    }
    let trail = std::fs::read_to_string(m._dir.path().join("data/audit.jsonl")).unwrap();
    let executed = |session: bool| {
        trail
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|r| r["event"] == "executed" && r["via"] == "mcp")
            .any(|r| r["mcp_session_sha256"].is_string() == session)
    };
    assert!(
        executed(true) && executed(false),
        "one call in each era: {trail}"
    );
}

/// The `_meta` every request of the 2026-07-28 revision carries.
fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "it", "version": "0"},
    })
}

impl Mcp {
    /// A raw POST with exactly these headers (and the bearer key).
    async fn modern(&self, headers: &[(&str, &str)], body: Value) -> (u16, HeaderMap, Value) {
        let mut req = self
            .proc
            .api
            .http
            .post(self.proc.api.url("/mcp"))
            .bearer_auth(&self.keys.agent)
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.expect("POST /mcp");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    /// A well-formed stateless request: the version, method and name
    /// mirrored into the headers.
    async fn stateless(&self, method: &str, params: Value) -> (u16, HeaderMap, Value) {
        let mut params = params;
        params["_meta"] = modern_meta();
        let name = params["name"].as_str().map(str::to_owned);
        let mut headers = vec![
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", method),
        ];
        if let Some(n) = &name {
            headers.push(("mcp-name", n));
        }
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
        self.modern(&headers, body).await
    }
}

#[tokio::test]
async fn the_stateless_revision_serves_each_request_alone() {
    let m = start().await;

    // Discovery: both eras, cacheable privately, no session minted.
    let (status, headers, body) = m.stateless("server/discover", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(headers.get("mcp-session-id").is_none());
    let found = &body["result"];
    assert_eq!(found["resultType"], "complete");
    let versions = found["supportedVersions"].as_array().unwrap();
    assert!(versions.contains(&json!("2026-07-28")) && versions.contains(&json!("2025-06-18")));
    assert!(found["capabilities"]["tools"].is_object());
    assert_eq!(found["cacheScope"], "private");
    assert!(found["ttlMs"].as_u64().is_some());
    assert_eq!(
        found["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "toolgate"
    );

    // The list: the same tools as the session flow's, cacheable privately.
    let (status, _, body) = m.stateless("tools/list", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let listed = &body["result"];
    assert_eq!(listed["resultType"], "complete");
    assert_eq!(listed["cacheScope"], "private");
    assert!(listed["ttlMs"].as_u64().is_some());
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"echo") && !names.contains(&"admin_only"),
        "{names:?}"
    );

    // A call through the pipeline, its credential redacted, audited
    // without a session.
    let (status, _, body) = m
        .stateless("tools/call", json!({"name": "leak", "arguments": {}}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["resultType"], "complete");
    assert_eq!(body["result"]["isError"], false, "{body}");
    assert!(!leaks(&body.to_string(), &m.secret), "leaked: {body}");
    let (_, _, body) = m
        .stateless(
            "tools/call",
            json!({"name": "echo", "arguments": {"id": "x", "n": 77}}),
        )
        .await;
    assert_eq!(body["result"]["isError"], true, "{body}");
    assert_eq!(body["result"]["resultType"], "complete");
    assert_eq!(
        body["result"]["_meta"]["dev.toolgate/error"]["code"],
        "schema_violation"
    );
    let (_, _, body) = m
        .stateless("tools/call", json!({"name": "admin_only", "arguments": {}}))
        .await;
    assert_eq!(body["error"]["code"], -32602, "{body}");
    let trail = std::fs::read_to_string(m._dir.path().join("data/audit.jsonl")).unwrap();
    let executed: Vec<Value> = trail
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["event"] == "executed" && r["tool"] == "leak")
        .collect();
    assert_eq!(executed.len(), 1, "{trail}");
    assert_eq!(executed[0]["via"], "mcp");
    assert!(executed[0]["mcp_session_sha256"].is_null());

    // A session id from the other era is ignored, not required or checked.
    let call = |name: &str| {
        json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
               "params": {"name": name, "arguments": {"id": "a"}, "_meta": modern_meta()}})
    };
    let v = ("mcp-protocol-version", "2026-07-28");
    let method = ("mcp-method", "tools/call");
    let (status, _, body) = m
        .modern(
            &[
                v,
                method,
                ("mcp-name", "echo"),
                ("mcp-session-id", "made-up"),
            ],
            call("echo"),
        )
        .await;
    assert_eq!(
        (status, &body["result"]["isError"]),
        (200, &json!(false)),
        "{body}"
    );

    // Headers that disagree with the body, or are missing: 400, -32020,
    // and the upstream is not called.
    for headers in [
        vec![v, method, ("mcp-name", "leak")],
        vec![v, method],
        vec![v, ("mcp-method", "tools/list"), ("mcp-name", "echo")],
        vec![v, ("mcp-name", "echo")],
        vec![method, ("mcp-name", "echo")],
    ] {
        let (status, _, body) = m.modern(&headers, call("echo")).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (400, &json!(-32020)),
            "{headers:?} {body}"
        );
        assert_eq!(body["id"], 8);
    }
    let mut other = call("echo");
    other["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2025-11-25");
    let (status, _, body) = m.modern(&[v, method, ("mcp-name", "echo")], other).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!(-32020)),
        "{body}"
    );
    let mut bare = call("echo");
    bare["params"]["_meta"]
        .as_object_mut()
        .unwrap()
        .remove("io.modelcontextprotocol/clientCapabilities");
    let (status, _, body) = m.modern(&[v, method, ("mcp-name", "echo")], bare).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!(-32602)),
        "{body}"
    );

    // A version not served: 400, -32022, with the ones that are.
    let (status, _, body) = m
        .modern(
            &[("mcp-protocol-version", "2099-01-01"), ("mcp-method", "server/discover")],
            json!({"jsonrpc": "2.0", "id": 9, "method": "server/discover", "params": {"_meta": modern_meta()}}),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!(-32022)),
        "{body}"
    );
    assert_eq!(body["error"]["data"]["requested"], "2099-01-01");
    assert!(
        body["error"]["data"]["supported"]
            .as_array()
            .unwrap()
            .contains(&json!("2026-07-28"))
    );

    // Methods of the other era, or none at all: 404, -32601.
    for name in ["ping", "initialize", "resources/list"] {
        let (status, _, body) = m.stateless(name, json!({})).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (404, &json!(-32601)),
            "{name} {body}"
        );
    }
    // A notification is accepted; nothing is answered.
    let (status, _, _) = m
        .modern(
            &[v, ("mcp-method", "notifications/cancelled")],
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"_meta": modern_meta()}}),
        )
        .await;
    assert_eq!(status, 202);
}
