//! Real MCP clients against the real binary: `toolgate mcp stdio` driven by
//! the official Python SDK's stdio client (`tests/mcp/stdio_client.py`) and
//! by hand, and the official TypeScript SDK over streamable HTTP
//! (`tests/mcp/ts/client.mjs`). A recording relay between the bridge and
//! toolgate shows what the bridge sent: its session, and the `DELETE` that
//! ends it.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::calls_config::{config_yaml, leaks, tools_yaml};
use crate::support::process::{Proc, Serve, free_port};
use crate::support::skip;
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, Keys, canary, repo_root};

struct Gateway {
    proc: Proc,
    keys: Keys,
    secret: String,
    _up: Upstream,
    _dir: ConfigDir,
}

async fn start() -> Gateway {
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = ConfigDir::new();
    for (rel, text) in tools_yaml(&up.base()) {
        dir.write(&rel, &text);
    }
    dir.write("toolgate.yaml", &config_yaml(&keys, ""));
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
    Gateway {
        proc,
        keys,
        secret,
        _up: up,
        _dir: dir,
    }
}

impl Gateway {
    fn mcp_url(&self) -> String {
        format!("{}/mcp", self.proc.base)
    }

    /// A ping in session `session`, straight to toolgate: its status.
    async fn ping_status(&self, session: &str) -> u16 {
        self.proc
            .api
            .http
            .post(self.mcp_url())
            .bearer_auth(&self.keys.agent)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", session)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// One exchange the relay passed on.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// The `Mcp-Session-Id` the request carried, and the one the answer set.
    sent_session: Option<String>,
    got_session: Option<String>,
    authorization: Option<String>,
    status: u16,
}

/// An HTTP relay on loopback to `target`, recording every exchange.
struct Relay {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

struct RelayState {
    target: String,
    http: reqwest::Client,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Relay {
    async fn start(target: &str) -> Relay {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(RelayState {
            target: target.to_owned(),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            seen: seen.clone(),
        });
        let app = Router::new().fallback(relay).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Relay { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The session the first `initialize` answer set.
    fn session(&self) -> String {
        self.seen()
            .iter()
            .find_map(|s| s.got_session.clone())
            .expect("an initialize answer with Mcp-Session-Id")
    }
}

async fn relay(State(st): State<Arc<RelayState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20).await.unwrap();
    let header = |h: &http::HeaderMap, name: &str| {
        h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    };
    let mut out = st.http.request(parts.method.clone(), &st.target).body(body);
    for (name, value) in &parts.headers {
        if !matches!(name.as_str(), "host" | "content-length") {
            out = out.header(name, value);
        }
    }
    let answer = out.send().await.expect("toolgate reachable");
    let status = answer.status();
    let headers = answer.headers().clone();
    st.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        sent_session: header(&parts.headers, "mcp-session-id"),
        got_session: header(&headers, "mcp-session-id"),
        authorization: header(&parts.headers, "authorization"),
        status: status.as_u16(),
    });
    let bytes = answer.bytes().await.unwrap_or_default();
    let mut response = Response::builder().status(status);
    for (name, value) in &headers {
        if !matches!(name.as_str(), "content-length" | "transfer-encoding") {
            response = response.header(name, value);
        }
    }
    response.body(Body::from(bytes)).unwrap()
}

fn python_sdk() -> bool {
    let importable = std::process::Command::new("python3")
        .args(["-c", "import mcp.client.stdio"])
        .status()
        .is_ok_and(|s| s.success());
    if !importable {
        skip::unavailable("python3 with the `mcp` package (pip install mcp) is not available");
    }
    importable
}

fn bridge(url: &str, key: Option<&str>) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_toolgate"));
    // Nothing from the test's environment (a proxy, a key): only what is given.
    c.args(["mcp", "stdio", "--url", url])
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(k) = key {
        c.env("TOOLGATE_KEY", k);
    }
    c
}

#[tokio::test]
async fn the_python_sdk_s_stdio_client_works_through_the_bridge() {
    if !python_sdk() {
        return;
    }
    let g = start().await;
    let relay = Relay::start(&g.mcp_url()).await;
    let out = tokio::process::Command::new("python3")
        .arg(repo_root().join("tests/mcp/stdio_client.py"))
        .arg(env!("CARGO_BIN_EXE_toolgate"))
        .arg(&relay.url)
        .env("TOOLGATE_KEY", &g.keys.agent)
        .output()
        .await
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("ok"), "{stdout}");
    assert!(
        !stderr.contains(&g.keys.agent),
        "the key is in a log: {stderr}"
    );

    // Every request carried the key as a bearer, and the session once it had one.
    let seen = relay.seen();
    let session = relay.session();
    let bearer = format!("Bearer {}", g.keys.agent);
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some(&bearer))
    );
    assert!(
        seen.iter()
            .skip(1)
            .all(|s| s.sent_session.as_deref() == Some(&session)),
        "{seen:?}"
    );
    // The SDK closed the bridge's stdin: it ended the session.
    let last = seen.last().unwrap();
    assert_eq!(
        (last.method.as_str(), last.status),
        ("DELETE", 204),
        "{seen:?}"
    );
    assert_eq!(g.ping_status(&session).await, 404);
}

/// The next line the bridge writes, as JSON (10 s at most).
async fn next_line<R: tokio::io::AsyncBufRead + Unpin>(lines: &mut tokio::io::Lines<R>) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("the bridge answers within 10 s")
        .expect("stdout readable")
        .expect("a line before stdout closed");
    serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("not one JSON message per line: {line:?}: {e}"))
}

#[tokio::test]
async fn the_bridge_answers_concurrently_renews_an_ended_session_and_ends_its_own_when_stdin_closes()
 {
    let g = start().await;
    let relay = Relay::start(&g.mcp_url()).await;
    let mut child = bridge(&relay.url, Some(&g.keys.agent)).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let send = |v: Value| format!("{v}\n").into_bytes();

    stdin
        .write_all(&send(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "it", "version": "0"}}}),
        ))
        .await
        .unwrap();
    let init = next_line(&mut lines).await;
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18", "{init}");
    // A slow call (3 s upstream), then a ping: the ping is answered first.
    for m in [
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": "slow", "method": "tools/call", "params": {"name": "slow_ok", "arguments": {}}}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}),
    ] {
        stdin.write_all(&send(m)).await.unwrap();
    }
    stdin.write_all(b"not json\n").await.unwrap();
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(next_line(&mut lines).await);
    }
    let ids: Vec<&Value> = answers.iter().map(|a| &a["id"]).collect();
    assert_eq!(
        ids.last(),
        Some(&&json!("slow")),
        "the slow call came last: {answers:?}"
    );
    assert!(
        answers
            .iter()
            .any(|a| a["id"] == 3 && a["result"] == json!({}))
    );
    assert!(
        answers
            .iter()
            .any(|a| a["id"].is_null() && a["error"]["code"] == -32700)
    );
    assert_eq!(
        answers[2]["result"]["structuredContent"]["slow"], true,
        "{answers:?}"
    );
    // The session went on every later request.
    let session = relay.session();
    assert!(
        relay.seen()[1..]
            .iter()
            .all(|s| s.sent_session.as_deref() == Some(&session))
    );

    // The session ends behind the bridge's back (as when it idles out): the
    // next request opens a new one with the client's initialize, and is answered.
    let ended = g
        .proc
        .api
        .http
        .delete(g.mcp_url())
        .bearer_auth(&g.keys.agent)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 204);
    stdin
        .write_all(&send(
            json!({"jsonrpc": "2.0", "id": 4, "method": "tools/list"}),
        ))
        .await
        .unwrap();
    let listed = next_line(&mut lines).await;
    assert_eq!(listed["id"], 4, "{listed}");
    assert!(listed["result"]["tools"].is_array(), "{listed}");
    let renewed = relay
        .seen()
        .iter()
        .rev()
        .find_map(|s| s.got_session.clone())
        .unwrap();
    assert_ne!(renewed, session);

    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("the bridge exits once stdin closes")
        .unwrap();
    assert!(status.success(), "{status}");
    let seen = relay.seen();
    let last = seen.last().unwrap();
    assert_eq!(
        (last.method.as_str(), last.status),
        ("DELETE", 204),
        "{seen:?}"
    );
    assert_eq!(last.sent_session.as_deref(), Some(renewed.as_str()));
    assert_eq!(g.ping_status(&renewed).await, 404);
    // Nothing more was written: the renewal's own initialize answer is not the client's.
    assert!(lines.next_line().await.unwrap().is_none());
}

/// Run the bridge with `input` on stdin to its end: exit status, stdout, stderr.
async fn run_bridge(url: &str, key: Option<&str>, input: &str) -> (bool, String, String) {
    let mut child = bridge(url, key).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // A bridge refusing to start may exit before it reads: a broken pipe then.
    let _ = stdin.write_all(input.as_bytes()).await;
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("the bridge exits")
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_bridge_needs_a_key_and_answers_every_failure_as_json_rpc_without_it() {
    let ping = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}\n";
    // No key, or an empty one: a clear error, a failing exit, nothing sent.
    let (ok, out, err) = run_bridge("http://127.0.0.1:9/mcp", None, ping).await;
    assert!(
        !ok && out.is_empty() && err.contains("TOOLGATE_KEY is not set"),
        "{err}"
    );
    let (ok, _, err) = run_bridge("http://127.0.0.1:9/mcp", Some(""), ping).await;
    assert!(!ok && err.contains("TOOLGATE_KEY is empty"), "{err}");
    let mut other = bridge("http://127.0.0.1:9/mcp", None);
    other
        .args(["--key-env", "MY_AGENT_KEY"])
        .env("TOOLGATE_KEY", "x");
    let out = other.output().await.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("MY_AGENT_KEY is not set"));

    // Nothing listening: the request gets a JSON-RPC error, not silence.
    let key = canary("tg_agent_");
    let closed = format!("http://127.0.0.1:{}/mcp", free_port());
    let (ok, out, err) = run_bridge(&closed, Some(&key), ping).await;
    assert!(ok, "{err}");
    let answer: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (&answer["id"], &answer["error"]["code"]),
        (&json!(7), &json!(-32000)),
        "{answer}"
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot reach toolgate")
    );
    assert!(!leaks(&out, &key) && !leaks(&err, &key));

    // A key toolgate refuses: its 401, as a JSON-RPC error naming it.
    let g = start().await;
    let init = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"it\",\"version\":\"0\"}}}\n";
    let (ok, out, err) = run_bridge(&g.mcp_url(), Some(&key), init).await;
    assert!(ok, "{err}");
    let answer: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["error"]["data"]["http_status"], 401, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unauthenticated")
    );
    assert!(!leaks(&out, &key) && !leaks(&err, &key));

    // A request before initialize: toolgate's 400 and its JSON-RPC error,
    // forwarded; a notification's is only logged (a notification gets no answer).
    let early = format!("{{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}}\n{ping}");
    let (ok, out, err) = run_bridge(&g.mcp_url(), Some(&g.keys.agent), &early).await;
    assert!(ok);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(err.contains("refused a notification"), "{err}");
    let answer: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (&answer["id"], &answer["error"]["code"]),
        (&json!(7), &json!(-32600)),
        "{answer}"
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Mcp-Session-Id")
    );
}

#[tokio::test]
async fn the_official_typescript_sdk_lists_calls_and_sees_credentials_redacted() {
    let dir = repo_root().join("tests/mcp/ts");
    if !skip::on_path("node") {
        skip::unavailable("node is not on PATH");
        return;
    }
    if !dir.join("node_modules/@modelcontextprotocol/sdk").is_dir() {
        skip::unavailable("the TypeScript SDK is not installed (npm ci --prefix tests/mcp/ts)");
        return;
    }
    let g = start().await;
    let out = tokio::process::Command::new("node")
        .arg(dir.join("client.mjs"))
        .arg(g.mcp_url())
        .env("TOOLGATE_KEY", &g.keys.agent)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    assert_eq!(report["ok"], true, "{stdout}");
    // The upstream echoed its credential in many encodings: the model sees
    // none of them, in the text or in structuredContent.
    let text = report["leak"]["text"].as_str().unwrap();
    let structured = report["leak"]["structuredContent"].to_string();
    for seen in [text, structured.as_str()] {
        assert!(!leaks(seen, &g.secret), "the credential leaked: {seen}");
        assert!(seen.contains("[REDACTED"), "{seen}");
    }
    assert!(!leaks(&stdout, &g.secret));
}

#[tokio::test]
async fn the_bridge_carries_the_stateless_revision_with_its_mirrored_headers() {
    let g = start().await;
    let relay = Relay::start(&g.mcp_url()).await;
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let input = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta}}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
               "params": {"name": "echo", "arguments": {"id": "a1"}, "_meta": meta}}),
    ]
    .iter()
    .map(|m| format!("{m}\n"))
    .collect::<String>();
    let (ok, out, err) = run_bridge(&relay.url, Some(&g.keys.agent), &input).await;
    assert!(ok, "{err}");
    let answers: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 2, "{out}");
    for a in &answers {
        assert_eq!(a["result"]["resultType"], "complete", "{a}");
    }
    let call = answers.iter().find(|a| a["id"] == 2).unwrap();
    assert_eq!(call["result"]["isError"], false, "{call}");
    // No session was opened, none sent, none to end.
    let seen = relay.seen();
    assert!(
        seen.iter()
            .all(|s| s.sent_session.is_none() && s.got_session.is_none())
    );
    assert!(seen.iter().all(|s| s.method == "POST"), "{seen:?}");
}
