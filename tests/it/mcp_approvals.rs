//! Approvals over `/mcp`, against the real binary: a held `tools/call`
//! waits for the decision made through the REST approver API (approved →
//! the normal result, denied → `approval_denied`), streams its progress as
//! server-sent events when given a progress token, or answers
//! `pending_approval` when the wait is over; `toolgate_action_status`
//! reads the outcome, for the caller's own actions only; the records of an
//! action held over MCP say `via: "mcp"` to the end; and the official
//! Python SDK (`tests/mcp/approvals.py`) sees it all through its progress
//! callback.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::calls_config::{config_yaml, leaks, tools_yaml};
use crate::support::process::{Proc, Serve, free_port};
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, Keys, canary, repo_root, skip};

struct Held {
    proc: Proc,
    keys: Keys,
    /// An agent of workflow `main` too, with a key of its own.
    second: String,
    secret: String,
    up: Upstream,
    dir: ConfigDir,
}

fn held_tool(base: &str) -> String {
    format!(
        "name: held\ndescription: Needs approval.\nscopes: [t:held]\n\
         input_schema: {{ type: object, additionalProperties: false, properties: {{ note: {{ type: string }} }} }}\n\
         upstream: {{ method: POST, url: \"{base}/echo/held\", body: {{ note: \"{{args.note}}\" }}, credential: api, allow_private_network: true }}\n\
         response: {{ output_schema: {{ type: object, required: [path] }} }}\n\
         approval: always\n"
    )
}

/// `main` has the held tool (and an approver); `approval_wait_seconds` as given.
async fn start(wait_seconds: u64) -> Held {
    let up = Upstream::start().await;
    let keys = Keys::new();
    let second = toolgate::identity::generate_key(toolgate::identity::Role::Agent);
    let dir = ConfigDir::new();
    for (rel, text) in tools_yaml(&up.base()) {
        dir.write(&rel, &text);
    }
    dir.write("tools/held.yaml", &held_tool(&up.base()));
    // Held too, but nobody has long to approve it.
    dir.write(
        "tools/brief.yaml",
        &format!(
            "{}expires_in: 2s\n",
            held_tool(&up.base()).replacen("name: held", "name: brief", 1)
        ),
    );
    let config = config_yaml(
        &keys,
        &format!("mcp: {{ approval_wait_seconds: {wait_seconds} }}\n"),
    )
    .replacen(
        "  main:\n    environment: test\n    scopes: [t:read]",
        "  main:\n    environment: test\n    scopes: [t:read, t:held]",
        1,
    )
    .replacen(
        "agents:\n",
        &format!(
            "agents:\n  second-agent: {{ workflow: main, key_sha256: \"{}\" }}\n",
            toolgate::identity::key_sha256(&second)
        ),
        1,
    );
    assert!(config.contains("t:held") && config.contains("second-agent"));
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
    Held {
        proc,
        keys,
        second,
        secret,
        up,
        dir,
    }
}

/// A raw answer: status, content type, and the body's text.
struct Raw {
    status: u16,
    content_type: String,
    text: String,
}

impl Held {
    fn request(&self, key: &str, session: Option<&str>, body: &Value) -> reqwest::RequestBuilder {
        let mut req = self
            .proc
            .api
            .http
            .post(self.proc.api.url("/mcp"))
            .bearer_auth(key)
            .header("accept", "application/json, text/event-stream")
            .json(body);
        if let Some(s) = session {
            req = req
                .header("mcp-session-id", s)
                .header("mcp-protocol-version", "2025-11-25");
        }
        req
    }

    async fn raw(&self, key: &str, session: Option<&str>, body: Value) -> Raw {
        let r = self
            .request(key, session, &body)
            .send()
            .await
            .expect("POST /mcp");
        Raw {
            status: r.status().as_u16(),
            content_type: r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            text: r.text().await.unwrap_or_default(),
        }
    }

    async fn initialize(&self, key: &str) -> String {
        let r = self
            .request(
                key,
                None,
                &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": "2025-11-25", "capabilities": {},
                    "clientInfo": {"name": "it", "version": "0"}}}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let id = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        assert_eq!(self.raw(key, Some(&id), note).await.status, 202);
        id
    }

    /// A `tools/call` answered as one JSON body.
    async fn call(&self, key: &str, session: &str, name: &str, args: Value) -> Value {
        let r = self
            .raw(
                key,
                Some(session),
                json!({"jsonrpc": "2.0", "id": "c", "method": "tools/call",
                       "params": {"name": name, "arguments": args}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            r.content_type.starts_with("application/json"),
            "{}",
            r.content_type
        );
        serde_json::from_str(&r.text).expect("a JSON answer")
    }

    /// The one pending action in the approver's queue, once it is there.
    async fn pending(&self) -> String {
        // Generous: the held call runs in another task, slow on a loaded machine.
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, list) = self
                .proc
                .api
                .get(Some(&self.keys.approver), "/v1/pending-actions")
                .await;
            assert_eq!(status, 200, "{list}");
            if let Some(id) = list["actions"][0]["action_id"].as_str() {
                return id.to_owned();
            }
            assert!(Instant::now() < until, "no action was held");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn decide(&self, id: &str, verb: &str) -> Value {
        let (status, body, _) = self
            .proc
            .api
            .request(
                "POST",
                Some(&self.keys.approver),
                &format!("/v1/pending-actions/{id}/{verb}"),
                Some(json!({"reason": "checked by the test"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    fn trail(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("data/audit.jsonl"))
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// The `data:` payloads of an event stream, each with its `event:` name.
fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = String::from("message");
            let mut data = String::new();
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim().to_owned();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            (name, serde_json::from_str(&data).unwrap_or(Value::Null))
        })
        .collect()
}

#[tokio::test]
async fn a_held_call_waits_for_its_decision_and_streams_its_progress() {
    let m = start(25).await;
    let agent = m.keys.agent.clone();
    let s = m.initialize(&agent).await;

    // With a progress token: server-sent events while it waits, then the
    // executed call's result as the last event.
    let body = json!({"jsonrpc": "2.0", "id": 41, "method": "tools/call",
        "params": {"name": "held", "arguments": {"note": "first"},
                   "_meta": {"progressToken": "tok-1"}}});
    let waiting = {
        let req = m.request(&agent, Some(&s), &body);
        tokio::spawn(async move {
            let r = req.send().await.expect("POST /mcp");
            let status = r.status().as_u16();
            let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
            (status, content_type, r.text().await.unwrap())
        })
    };
    let id = m.pending().await;
    assert_eq!(m.up.count(), 0, "nothing is sent before approval");
    // Past one tick, so there is more than one notification.
    tokio::time::sleep(Duration::from_millis(5600)).await;
    let decided = m.decide(&id, "approve").await;
    assert_eq!(decided["status"], "succeeded", "{decided}");
    let (status, content_type, text) = waiting.await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let stream = events(&text);
    assert!(stream.len() >= 3, "{text}");
    assert!(stream.iter().all(|(name, _)| name == "message"), "{text}");
    let (last, notes) = stream.split_last().unwrap();
    let mut seen = Vec::new();
    for (_, n) in notes {
        assert_eq!(n["method"], "notifications/progress", "{text}");
        assert!(n.get("id").is_none());
        assert_eq!(n["params"]["progressToken"], "tok-1");
        assert_eq!(n["params"]["total"], 25);
        let message = n["params"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("waiting for approval (action {id})")),
            "{message}"
        );
        seen.push(n["params"]["progress"].as_f64().unwrap());
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(last.1["id"], 41, "{text}");
    let result = &last.1["result"];
    assert_eq!(result["isError"], false, "{text}");
    assert_eq!(result["structuredContent"]["path"], "/echo/held");
    assert_eq!(
        result["structuredContent"]["body"],
        json!({"note": "first"})
    );
    assert_eq!(
        serde_json::from_str::<Value>(result["content"][0]["text"].as_str().unwrap()).unwrap(),
        result["structuredContent"]
    );
    assert!(!leaks(&text, &m.secret), "the credential leaked: {text}");
    assert_eq!(m.up.count(), 1);

    // The same result as `GET /v1/calls/{id}` gives the agent.
    let (_, view) = m
        .proc
        .api
        .get(Some(&agent), &format!("/v1/calls/{id}"))
        .await;
    assert_eq!(view["result"], result["structuredContent"]);

    // Without a token: one JSON answer; denied while it waits.
    let denying = {
        let req = m.request(
            &agent,
            Some(&s),
            &json!({"jsonrpc": "2.0", "id": 42, "method": "tools/call",
                    "params": {"name": "held", "arguments": {"note": "second"}}}),
        );
        tokio::spawn(async move {
            let r = req.send().await.unwrap();
            let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
            (ct, r.json::<Value>().await.unwrap())
        })
    };
    let second = m.pending().await;
    m.decide(&second, "deny").await;
    let (content_type, answer) = denying.await.unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let result = &answer["result"];
    assert_eq!(result["isError"], true, "{answer}");
    assert_eq!(
        result["_meta"]["dev.toolgate/error"]["code"],
        "approval_denied"
    );
    assert!(
        result["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("approval_denied:")
    );
    assert_eq!(m.up.count(), 1, "a denied call is not sent");

    // Expired while it waits: its stable code.
    let started = Instant::now();
    let expired = m.call(&agent, &s, "brief", json!({})).await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "it waited past the expiry"
    );
    assert_eq!(expired["result"]["isError"], true, "{expired}");
    assert_eq!(
        expired["result"]["_meta"]["dev.toolgate/error"]["code"],
        "approval_expired"
    );
    assert_eq!(m.up.count(), 1, "an expired call is not sent");

    // A call that is not held answers at once as JSON, token or not.
    let r = m
        .raw(
            &agent,
            Some(&s),
            json!({"jsonrpc": "2.0", "id": 43, "method": "tools/call",
                   "params": {"name": "echo", "arguments": {"id": "a"},
                              "_meta": {"progressToken": 9}}}),
        )
        .await;
    assert!(
        r.content_type.starts_with("application/json"),
        "{}",
        r.content_type
    );
    let v: Value = serde_json::from_str(&r.text).unwrap();
    assert_eq!(v["result"]["isError"], false, "{v}");

    // Every record of the action held over MCP, through its approval and
    // execution, says so and names the session (hashed).
    let hashed = toolgate::identity::key_sha256(&s);
    let trail = m.trail();
    let of = |action: &str| -> Vec<&Value> {
        trail.iter().filter(|r| r["action_id"] == action).collect()
    };
    let events: Vec<&str> = of(&id)
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    for e in ["pending", "approved", "executing", "executed"] {
        assert!(events.contains(&e), "{e} missing: {events:?}");
    }
    for r in of(&id).into_iter().chain(of(&second)) {
        assert_eq!(r["via"], "mcp", "{r}");
        assert_eq!(r["mcp_session_sha256"], hashed.as_str(), "{r}");
    }
    assert!(of(&second).iter().any(|r| r["event"] == "denied"));
}

#[tokio::test]
async fn a_call_still_pending_is_read_through_toolgate_action_status() {
    let m = start(1).await;
    let agent = m.keys.agent.clone();
    let s = m.initialize(&agent).await;

    // Listed, sorted with the rest, where a call can be held; not in a
    // workflow where none can.
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let listed: Value =
        serde_json::from_str(&m.raw(&agent, Some(&s), list.clone()).await.text).unwrap();
    let tools = listed["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    let status_tool = tools
        .iter()
        .find(|t| t["name"] == "toolgate_action_status")
        .expect("listed");
    assert_eq!(status_tool["inputSchema"]["required"], json!(["action_id"]));
    assert_eq!(status_tool["inputSchema"]["additionalProperties"], false);
    // A tool that may answer pending_approval lists no output schema.
    let held = tools.iter().find(|t| t["name"] == "held").unwrap();
    assert!(held.get("outputSchema").is_none(), "{held}");
    let other = m.initialize(&m.keys.other_agent).await;
    let theirs: Value =
        serde_json::from_str(&m.raw(&m.keys.other_agent, Some(&other), list).await.text).unwrap();
    assert!(
        !theirs.to_string().contains("toolgate_action_status"),
        "{theirs}"
    );
    let refused = m
        .call(
            &m.keys.other_agent,
            &other,
            "toolgate_action_status",
            json!({"action_id": "act_x"}),
        )
        .await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");

    // The wait is over: pending, and how to get the outcome.
    let started = Instant::now();
    let body = m.call(&agent, &s, "held", json!({"note": "later"})).await;
    assert!(started.elapsed() >= Duration::from_millis(900));
    let result = &body["result"];
    assert_eq!(result["isError"], false, "{body}");
    assert_eq!(result["structuredContent"]["status"], "pending_approval");
    let id = result["structuredContent"]["action_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(result["structuredContent"]["expires_at"].is_string());
    let text = result["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("toolgate_action_status"), "{text}");
    assert!(text.contains(&id), "{text}");

    // Read while pending.
    let status = |key: String, session: String, id: Value| {
        let m = &m;
        async move {
            m.call(
                &key,
                &session,
                "toolgate_action_status",
                json!({"action_id": id}),
            )
            .await["result"]
                .clone()
        }
    };
    let read = status(agent.clone(), s.clone(), json!(id)).await;
    assert_eq!(read["isError"], false, "{read}");
    assert_eq!(read["structuredContent"]["status"], "pending_approval");
    assert_eq!(read["structuredContent"]["action_id"], id.as_str());
    assert_eq!(read["structuredContent"]["tool"], "held");
    assert_eq!(
        serde_json::from_str::<Value>(read["content"][0]["text"].as_str().unwrap()).unwrap(),
        read["structuredContent"]
    );

    // Another agent (of the same workflow) and an unknown id: the same not-found.
    let second = m.initialize(&m.second).await;
    let foreign = status(m.second.clone(), second.clone(), json!(id)).await;
    let unknown = status(agent.clone(), s.clone(), json!("act_0000")).await;
    for r in [&foreign, &unknown] {
        assert_eq!(r["isError"], true, "{r}");
        assert_eq!(r["_meta"]["dev.toolgate/error"]["code"], "not_found");
        assert!(r.get("structuredContent").is_none());
    }
    assert_eq!(foreign["content"], unknown["content"]);
    assert!(!foreign.to_string().contains(&id));
    // Arguments outside its schema: a schema violation with pointers.
    let bad = m
        .call(
            &agent,
            &s,
            "toolgate_action_status",
            json!({"action_id": 5, "x": 1}),
        )
        .await;
    let bad = &bad["result"];
    assert_eq!(bad["isError"], true, "{bad}");
    assert_eq!(
        bad["_meta"]["dev.toolgate/error"]["code"],
        "schema_violation"
    );
    let pointers: Vec<&str> = bad["_meta"]["dev.toolgate/error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["pointer"].as_str().unwrap())
        .collect();
    assert!(
        pointers.contains(&"/action_id") && pointers.contains(&"/x"),
        "{pointers:?}"
    );

    // Approved: the outcome, redacted.
    m.decide(&id, "approve").await;
    let done = status(agent.clone(), s.clone(), json!(id)).await;
    assert_eq!(done["isError"], false, "{done}");
    assert_eq!(done["structuredContent"]["status"], "succeeded");
    assert_eq!(
        done["structuredContent"]["result"]["body"],
        json!({"note": "later"})
    );
    assert!(!leaks(&done.to_string(), &m.secret), "leaked: {done}");
    // Still no one else's.
    let foreign = status(m.second.clone(), second, json!(id)).await;
    assert_eq!(foreign["_meta"]["dev.toolgate/error"]["code"], "not_found");

    // The stateless revision: the same wait, streamed, its last event
    // complete; still pending when the wait is over.
    let r = m
        .proc
        .api
        .http
        .post(m.proc.api.url("/mcp"))
        .bearer_auth(&agent)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "held")
        .json(
            &json!({"jsonrpc": "2.0", "id": 77, "method": "tools/call", "params": {
            "name": "held", "arguments": {},
            "_meta": {
                "progressToken": 3,
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "it", "version": "0"},
            }}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let text = r.text().await.unwrap();
    let stream = events(&text);
    let (last, notes) = stream.split_last().unwrap();
    assert!(!notes.is_empty(), "{text}");
    assert!(
        notes.iter().all(|(_, n)| n["params"]["progressToken"] == 3),
        "{text}"
    );
    assert_eq!(last.1["id"], 77);
    assert_eq!(last.1["result"]["resultType"], "complete", "{text}");
    assert_eq!(
        last.1["result"]["structuredContent"]["status"],
        "pending_approval"
    );
    let stateless = last.1["result"]["structuredContent"]["action_id"]
        .as_str()
        .unwrap()
        .to_owned();
    m.decide(&stateless, "approve").await;
    let trail = m.trail();
    let records: Vec<&Value> = trail
        .iter()
        .filter(|r| r["action_id"] == stateless.as_str())
        .collect();
    assert!(records.iter().any(|r| r["event"] == "executed"));
    assert!(
        records
            .iter()
            .all(|r| r["via"] == "mcp" && r["mcp_session_sha256"].is_null()),
        "{records:?}"
    );

    // A denied one reads as its error.
    let body = m.call(&agent, &s, "held", json!({})).await;
    let denied = body["result"]["structuredContent"]["action_id"]
        .as_str()
        .unwrap()
        .to_owned();
    m.decide(&denied, "deny").await;
    let read = status(agent.clone(), s.clone(), json!(denied)).await;
    assert_eq!(read["isError"], true, "{read}");
    assert_eq!(
        read["_meta"]["dev.toolgate/error"]["code"],
        "approval_denied"
    );
    assert_eq!(read["structuredContent"]["status"], "denied");
}

#[tokio::test]
async fn a_client_that_goes_away_leaves_its_call_pending_to_be_decided() {
    let m = start(25).await;
    let agent = m.keys.agent.clone();
    let s = m.initialize(&agent).await;
    let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
        "params": {"name": "held", "arguments": {"note": "gone"},
                   "_meta": {"progressToken": "p"}}});
    let mut r = m.request(&agent, Some(&s), &body).send().await.unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let first = r.chunk().await.unwrap().expect("a first event");
    assert!(String::from_utf8_lossy(&first).contains("notifications/progress"));
    drop(r);
    let id = m.pending().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, view) = m
        .proc
        .api
        .get(Some(&agent), &format!("/v1/calls/{id}"))
        .await;
    assert_eq!(view["status"], "pending_approval");
    assert_eq!(m.up.count(), 0);
    let decided = m.decide(&id, "approve").await;
    assert_eq!(decided["status"], "succeeded", "{decided}");
    assert_eq!(m.up.count(), 1);
}

#[tokio::test]
async fn the_official_python_sdk_waits_with_progress() {
    let importable = std::process::Command::new("python3")
        .args(["-c", "import mcp.client.streamable_http, httpx"])
        .status()
        .is_ok_and(|s| s.success());
    if !importable {
        skip::unavailable("python3 with the `mcp` package (pip install mcp) is not available");
        return;
    }
    let m = start(25).await;
    let out = tokio::process::Command::new("python3")
        .arg(repo_root().join("tests/mcp/approvals.py"))
        .arg(&m.proc.base)
        .env("TOOLGATE_KEY", &m.keys.agent)
        .env("TOOLGATE_APPROVER_KEY", &m.keys.approver)
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
    assert_eq!(m.up.count(), 1, "one approved call, one denied");
}

#[test]
fn the_status_tool_name_is_reserved_and_the_wait_is_bounded() {
    let up_base = "http://127.0.0.1:9";
    let keys = Keys::new();
    let check = |tool_name: &str, mcp: &str| {
        let dir = ConfigDir::new();
        for (rel, text) in tools_yaml(up_base) {
            dir.write(&rel, &text);
        }
        dir.write(
            "tools/held.yaml",
            &held_tool(up_base).replacen("name: held", &format!("name: {tool_name}"), 1),
        );
        dir.write("toolgate.yaml", &config_yaml(&keys, mcp));
        match toolgate::catalog::load(&dir.config_path()) {
            Ok(_) => Vec::new(),
            Err(diags) => diags.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        }
    };
    assert!(check("held", "mcp: { approval_wait_seconds: 300 }\n").is_empty());
    let errors = check("toolgate_action_status", "");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("toolgate_action_status is reserved")),
        "{errors:?}"
    );
    let errors = check("held", "mcp: { approval_wait_seconds: 301 }\n");
    assert!(
        errors.iter().any(|e| e.contains("approval_wait_seconds")),
        "{errors:?}"
    );
}
