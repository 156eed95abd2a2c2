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
        "mcp: { allowed_origins: [\"https://app.example.com\"] }\n",
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
            .contains(&format!("/v1/calls/{action}"))
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
    let out = tokio::process::Command::new("python3")
        .arg(repo_root().join("tests/mcp/client.py"))
        .arg(format!("{}/mcp", m.proc.base))
        .env("TOOLGATE_KEY", &m.keys.agent)
        .output()
        .await
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ok"), "{stdout}");
    assert!(!leaks(&stdout, &m.secret));
}
