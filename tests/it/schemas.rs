//! What the model is shown of a tool and what its answer must be, against
//! the real binary: the merged effective schema, the same in MCP
//! `tools/list`, `GET /v1/tools` and `toolgate tools export`; OpenAI's
//! strict flag; manifest annotations; `response.output_schema` shown as
//! `outputSchema` and enforced on the upstream's answer (a violation is
//! `upstream_error`, audited as a failure); and the config errors of each.

use serde_json::{Value, json};

use crate::support::process::{Proc, Serve, free_port, toolgate};
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, Keys, canary, leaks};

fn tools(base: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "tools/create_item.yaml",
            format!(
                r#"name: create_item
description: Create an item.
scopes: [t:read]
input_schema:
  type: object
  additionalProperties: false
  required: [name]
  properties:
    name: {{ type: string, maxLength: 100 }}
    kind: {{ enum: [a, b, c] }}
    size: {{ type: integer, minimum: 1, maximum: 100 }}
    note: {{ type: string, pattern: "^[a-z ]*$" }}
upstream: {{ method: POST, url: "{base}/echo/items", body: "{{args}}", credential: api, allow_private_network: true }}
annotations: {{ destructive: false, open_world: true }}
response:
  fields: [/method, /path]
  output_schema:
    type: object
    required: [method, path]
    properties: {{ method: {{ const: POST }}, path: {{ type: string }} }}
"#
            ),
        ),
        (
            "tools/get_item.yaml",
            format!(
                r#"name: get_item
description: Fetch an item.
scopes: [t:read]
input_schema:
  type: object
  additionalProperties: false
  required: [id]
  properties:
    id: {{ type: string, pattern: "^[a-z0-9]+$", description: The id }}
upstream: {{ method: GET, url: "{base}/echo/items/{{id}}", credential: api, allow_private_network: true }}
annotations: {{ idempotent: true }}
response: {{ fields: [/method] }}
"#
            ),
        ),
        (
            "tools/dump.yaml",
            format!(
                r#"name: dump
description: A text answer.
scopes: [t:read]
input_schema: {{ type: object, additionalProperties: false }}
upstream: {{ method: GET, url: "{base}/text-secret", credential: api, allow_private_network: true }}
response: {{ output_schema: {{ type: string, minLength: 1 }} }}
"#
            ),
        ),
        (
            "tools/bad_answer.yaml",
            format!(
                r#"name: bad_answer
description: Its upstream answers what the manifest does not expect.
scopes: [t:read]
input_schema: {{ type: object, additionalProperties: false }}
upstream: {{ method: POST, url: "{base}/echo/bad", credential: api, allow_private_network: true }}
annotations: {{ read_only: true }}
response:
  output_schema: {{ type: object, required: [id], properties: {{ method: {{ const: GET }} }} }}
"#
            ),
        ),
    ]
}

/// The workflow's overlay narrows `create_item` in ways that all merge.
fn config(keys: &Keys, overlay: &str) -> String {
    format!(
        r#"environment: test
listen: 127.0.0.1:0
credentials:
  api-key:
    environment: test
    source: {{ env: TEST_API_KEY }}
    scopes: [t:read]
    inject: {{ header: Authorization, format: "Bearer {{secret}}" }}
workflows:
  main:
    environment: test
    scopes: [t:read]
    credentials: {{ api: api-key }}
    tools:
      create_item:
        schema: {overlay}
  other:
    environment: test
    scopes: []
{}"#,
        keys.yaml()
    )
}

const OVERLAY: &str = "{ type: object, required: [kind], properties: { kind: { enum: [b, a, z] }, size: { maximum: 10, minimum: 0 }, name: { maxLength: 20 } } }";

struct Gate {
    proc: Proc,
    keys: Keys,
    secret: String,
    up: Upstream,
    dir: ConfigDir,
}

async fn start() -> Gate {
    let up = Upstream::start().await;
    let keys = Keys::new();
    let dir = ConfigDir::new();
    for (rel, text) in tools(&up.base()) {
        dir.write(rel, &text);
    }
    dir.write("toolgate.yaml", &config(&keys, OVERLAY));
    let secret = canary("api-");
    let proc = Serve::new(&dir.config_path(), free_port())
        .envs(&[("TEST_API_KEY", &secret)])
        .stderr_to(&dir.path().join("toolgate.log"))
        .start()
        .await;
    Gate {
        proc,
        keys,
        secret,
        up,
        dir,
    }
}

impl Gate {
    async fn mcp(&self, session: Option<&str>, body: Value) -> (u16, Option<String>, Value) {
        let mut req = self
            .proc
            .api
            .http
            .post(self.proc.api.url("/mcp"))
            .bearer_auth(&self.keys.agent)
            .header("accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(s) = session {
            req = req
                .header("mcp-session-id", s)
                .header("mcp-protocol-version", "2025-06-18");
        }
        let r = req.send().await.expect("POST /mcp");
        let status = r.status().as_u16();
        let session = r
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = r.text().await.unwrap_or_default();
        (
            status,
            session,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    async fn session(&self) -> String {
        let (status, session, body) = self
            .mcp(
                None,
                json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "it", "version": "0"}}}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let s = session.expect("a session id");
        let (status, _, _) = self
            .mcp(
                Some(&s),
                json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            )
            .await;
        assert_eq!(status, 202);
        s
    }

    async fn mcp_call(&self, session: &str, name: &str, args: Value) -> Value {
        let (status, _, body) = self
            .mcp(
                Some(session),
                json!({"jsonrpc": "2.0", "id": "c", "method": "tools/call",
                       "params": {"name": name, "arguments": args}}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["result"].clone()
    }

    fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("data/audit.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn by_name<'a>(list: &'a Value, key: &str, name: &str) -> &'a Value {
    list.as_array()
        .expect("a list")
        .iter()
        .find(|t| t.pointer(key) == Some(&json!(name)))
        .unwrap_or_else(|| panic!("{name} in {list}"))
}

/// What the merge of the tool schema and `OVERLAY` must be.
fn expected_create_item() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "kind"],
        "properties": {
            "name": {"type": "string", "maxLength": 20},
            "kind": {"enum": ["a", "b"]},
            "size": {"type": "integer", "minimum": 1, "maximum": 10},
            "note": {"type": "string", "pattern": "^[a-z ]*$"},
        }
    })
}

#[tokio::test]
async fn tools_list_shows_the_merged_schema_annotations_and_output_schema() {
    let g = start().await;
    let s = g.session().await;
    let (status, _, body) = g
        .mcp(
            Some(&s),
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let list = &body["result"]["tools"];

    let create = by_name(list, "/name", "create_item");
    assert_eq!(create["inputSchema"], expected_create_item());
    assert_eq!(
        create["annotations"],
        json!({"readOnlyHint": false, "destructiveHint": false, "openWorldHint": true})
    );
    assert_eq!(
        create["outputSchema"],
        json!({"type": "object", "required": ["method", "path"],
               "properties": {"method": {"const": "POST"}, "path": {"type": "string"}}})
    );

    // Only the hints the manifest sets; GET is read-only, unless the manifest says otherwise.
    let get = by_name(list, "/name", "get_item");
    assert_eq!(
        get["annotations"],
        json!({"readOnlyHint": true, "idempotentHint": true})
    );
    assert!(get.get("outputSchema").is_none(), "{get}");
    let bad = by_name(list, "/name", "bad_answer");
    assert_eq!(bad["annotations"], json!({"readOnlyHint": true}));

    // A string result is carried as {"result": …}, and its schema is shown so.
    let dump = by_name(list, "/name", "dump");
    assert_eq!(
        dump["outputSchema"],
        json!({"type": "object", "additionalProperties": false, "required": ["result"],
               "properties": {"result": {"type": "string", "minLength": 1}}})
    );
    let r = g.mcp_call(&s, "dump", json!({})).await;
    assert_eq!(r["isError"], false, "{r}");
    assert!(r["structuredContent"]["result"].is_string(), "{r}");
    assert!(!leaks(&r.to_string(), &g.secret), "{r}");

    // A call whose answer satisfies its output schema succeeds as usual.
    let r = g
        .mcp_call(
            &s,
            "create_item",
            json!({"name": "n", "kind": "a", "size": 3}),
        )
        .await;
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(
        r["structuredContent"],
        json!({"method": "POST", "path": "/echo/items"})
    );
    // The merged schema is what is enforced: the overlay's bound holds.
    let r = g
        .mcp_call(
            &s,
            "create_item",
            json!({"name": "n", "kind": "a", "size": 11}),
        )
        .await;
    assert_eq!(r["isError"], true, "{r}");
    assert_eq!(r["_meta"]["dev.toolgate/error"]["code"], "schema_violation");
}

#[tokio::test]
async fn get_v1_tools_and_the_export_agree_with_strict_where_it_fits() {
    let g = start().await;
    let (status, rest) = g
        .proc
        .api
        .get(Some(&g.keys.agent), "/v1/tools?format=openai")
        .await;
    assert_eq!(status, 200, "{rest}");
    let out = toolgate()
        .args([
            "tools",
            "export",
            "--workflow",
            "main",
            "--format",
            "openai",
            "--config",
        ])
        .arg(g.dir.config_path())
        .env("TEST_API_KEY", &g.secret)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rest, exported);

    let create = by_name(&rest, "/function/name", "create_item");
    assert_eq!(create["function"]["parameters"], expected_create_item());
    // Optional properties and maxLength: not for strict mode.
    assert_eq!(create["function"]["strict"], false);
    // Closed, everything required, only supported keywords: strict.
    let get = by_name(&rest, "/function/name", "get_item");
    assert_eq!(get["function"]["strict"], true, "{get}");
    // No properties written out: strict mode would refuse it.
    let dump = by_name(&rest, "/function/name", "dump");
    assert_eq!(dump["function"]["strict"], false, "{dump}");

    // The native and Anthropic shapes carry the same schema.
    let (_, native) = g.proc.api.get(Some(&g.keys.agent), "/v1/tools").await;
    assert_eq!(
        by_name(&native["tools"], "/name", "create_item")["input_schema"],
        expected_create_item()
    );
    let (_, anthropic) = g
        .proc
        .api
        .get(Some(&g.keys.agent), "/v1/tools?format=anthropic")
        .await;
    assert_eq!(
        by_name(&anthropic, "/name", "create_item")["input_schema"],
        expected_create_item()
    );
}

#[tokio::test]
async fn an_answer_outside_the_output_schema_fails_closed_and_is_audited() {
    let g = start().await;
    let before = g.up.count();
    let (status, body, _) = g
        .proc
        .api
        .call(
            &g.keys.agent,
            json!({"tool": "bad_answer", "arguments": {}, "call_id": "c-out"}),
        )
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(g.up.count(), before + 1, "the upstream was called");
    let error = &body["error"];
    assert_eq!(error["code"], "upstream_error", "{body}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("output schema of bad_answer"),
        "{body}"
    );
    assert!(body.get("result").is_none(), "{body}");
    let detail = &error["details"][0];
    assert_eq!(detail["upstream_status"], 200);
    let violations = detail["output_schema_violations"].as_array().unwrap();
    let at: Vec<(&str, &str)> = violations
        .iter()
        .map(|v| {
            (
                v["pointer"].as_str().unwrap(),
                v["schema_pointer"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(at.contains(&("", "/required")), "{body}");
    assert!(
        at.contains(&("/method", "/properties/method/const")),
        "{body}"
    );
    // Nothing of the answer is echoed: not the method it sent, not the
    // credential the echo holds.
    let text = body.to_string();
    assert!(
        !text.contains("\"POST\"") && !text.contains("/echo/bad"),
        "{text}"
    );
    assert!(!leaks(&text, &g.secret), "{text}");

    // Over MCP: an error result with the same code.
    let s = g.session().await;
    let r = g.mcp_call(&s, "bad_answer", json!({})).await;
    assert_eq!(r["isError"], true, "{r}");
    assert_eq!(r["_meta"]["dev.toolgate/error"]["code"], "upstream_error");
    assert!(r.get("structuredContent").is_none(), "{r}");
    assert!(!leaks(&r.to_string(), &g.secret), "{r}");

    // Audited as a failure after the upstream was reached.
    let records = g.audit();
    let i = records
        .iter()
        .position(|r| r["call_id"] == "c-out" && r["event"] == "executing")
        .expect("executing record");
    let outcome = records[i + 1..]
        .iter()
        .find(|r| r["call_id"] == "c-out")
        .expect("an outcome record");
    assert_eq!(outcome["event"], "failed", "{outcome}");
    assert_eq!(outcome["code"], "upstream_error", "{outcome}");
    assert!(
        records
            .iter()
            .filter(|r| r["tool"] == "bad_answer")
            .all(|r| r["event"] != "executed"),
        "no call of bad_answer is recorded as executed"
    );
}

/// `toolgate check` of `create_item` with `overlay`, and the tools changed by `edit`.
fn check(overlay: &str, edit: impl Fn(&str, String) -> String) -> (bool, String) {
    let keys = Keys::new();
    let dir = ConfigDir::new();
    for (rel, text) in tools("http://127.0.0.1:9") {
        dir.write(rel, &edit(rel, text));
    }
    dir.write("toolgate.yaml", &config(&keys, overlay));
    let out = toolgate()
        .args(["check", "--config"])
        .arg(dir.config_path())
        .env("TEST_API_KEY", canary("api-"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn an_overlay_no_call_could_pass_is_a_config_error() {
    let same = |_: &str, t: String| t;
    let (ok, text) = check(OVERLAY, same);
    assert!(ok, "{text}");
    for (overlay, says) in [
        (
            "{ properties: { kind: { enum: [x, y] } } }",
            "at /properties/kind, the enums and consts have no value in common",
        ),
        (
            "{ properties: { size: { minimum: 200 } } }",
            "at /properties/size, the lower bound 200 is above the upper bound 100",
        ),
        (
            "{ required: [colour] }",
            "property \"colour\" is required but not allowed",
        ),
    ] {
        let (ok, text) = check(overlay, same);
        assert!(!ok, "{overlay}: {text}");
        assert!(
            text.contains("workflow main, tool \"create_item\": no call could pass"),
            "{overlay}: {text}"
        );
        assert!(text.contains(says), "{overlay}: {text}");
    }
    // An overlay property the closed tool schema forbids: a warning.
    let (ok, text) = check("{ properties: { colour: { type: string } } }", same);
    assert!(ok, "{text}");
    assert!(text.contains("/properties/colour"), "{text}");
}

#[test]
fn annotations_and_output_schemas_are_checked_at_load() {
    let cases: [(&str, &str, &str, &str); 4] = [
        (
            "tools/get_item.yaml",
            "annotations: { idempotent: true }",
            "annotations: { idempotent: true, sideeffects: true }",
            "sideeffects",
        ),
        (
            "tools/get_item.yaml",
            "annotations: { idempotent: true }",
            "annotations: { destructive: true }",
            "a read-only tool cannot be destructive",
        ),
        (
            "tools/dump.yaml",
            "output_schema: { type: string, minLength: 1 }",
            "output_schema: { minLength: 1 }",
            "an output schema must set \"type\"",
        ),
        (
            "tools/dump.yaml",
            "output_schema: { type: string, minLength: 1 }",
            "output_schema: { type: string, minLength: -1 }",
            "response.output_schema: the schema does not compile",
        ),
    ];
    for (file, from, to, says) in cases {
        let (ok, text) = check(OVERLAY, |rel, t| {
            if rel == file {
                assert!(t.contains(from), "{t}");
                t.replace(from, to)
            } else {
                t
            }
        });
        assert!(!ok, "{to}: {text}");
        assert!(text.contains(says), "{to}: {text}");
    }
}

#[tokio::test]
async fn the_official_python_sdk_accepts_the_output_schemas() {
    let importable = std::process::Command::new("python3")
        .args(["-c", "import mcp.client.streamable_http"])
        .status()
        .is_ok_and(|s| s.success());
    if !importable {
        crate::support::skip::unavailable(
            "python3 with the `mcp` package (pip install mcp) is not available",
        );
        return;
    }
    let g = start().await;
    let out = tokio::process::Command::new("python3")
        .arg(crate::support::repo_root().join("tests/mcp/schemas.py"))
        .arg(format!("{}/mcp", g.proc.base))
        .env("TOOLGATE_KEY", &g.keys.agent)
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
    assert!(!leaks(&stdout, &g.secret));
}
