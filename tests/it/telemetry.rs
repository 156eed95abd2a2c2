//! Traces over OTLP from the real binary to a receiver on loopback: the
//! spans of a call and their parents, the caller's trace continued, trace
//! headers upstream only when a tool asks, OTLP headers from a source, the
//! config over the environment, and no secret in any exported byte.

use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde_json::{Value, json};

use crate::support::otlp::{Receiver, attr};
use crate::support::process::{Proc, Serve, free_port};
use crate::support::sample_crm::{SampleCrm, write_crm_config};
use crate::support::{ConfigDir, Keys, canary, leaks};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

fn write_tools(dir: &ConfigDir, crm: &SampleCrm) {
    for (name, propagate) in [("create", true), ("quiet", false)] {
        dir.write(
            &format!("tools/{name}.yaml"),
            &format!(
                "name: {name}\ndescription: d\nscopes: [crm]\n\
                 input_schema: {{ type: object, additionalProperties: false, properties: {{ name: {{ type: string }} }} }}\n\
                 upstream: {{ method: POST, url: \"http://{}/api/v2/leads?src=agent\", body: \"{{args}}\", credential: crm, allow_private_network: true, propagate_trace: {propagate} }}\n",
                crm.addr
            ),
        );
    }
}

/// A config with credential `crm` from `CRM_TOKEN` and this `telemetry:` section.
fn config(crm: &SampleCrm, telemetry: &str) -> (Keys, ConfigDir) {
    let keys = Keys::new();
    let dir = ConfigDir::new();
    write_tools(&dir, crm);
    write_crm_config(&dir, &keys, "{ env: CRM_TOKEN }", "");
    let mut text = std::fs::read_to_string(dir.config_path()).unwrap();
    text.push_str(telemetry);
    dir.write("toolgate.yaml", &text);
    (keys, dir)
}

async fn post(proc: &Proc, key: &str, body: Value, traceparent: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/v1/calls", proc.base))
        .bearer_auth(key)
        .json(&body);
    if let Some(tp) = traceparent {
        req = req
            .header("traceparent", tp)
            .header("tracestate", "vendor=abc");
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Stop with SIGTERM: the drain flushes the batch.
async fn stop(proc: Proc) {
    proc.signal("TERM");
    let status = tokio::time::timeout(Duration::from_secs(20), proc.wait())
        .await
        .expect("toolgate stops");
    assert!(status.success(), "{status:?}");
}

fn named<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|s| s.name == name).collect()
}

fn children<'a>(spans: &'a [Span], parent: &Span) -> Vec<&'a Span> {
    spans
        .iter()
        .filter(|s| s.parent_span_id == parent.span_id && s.trace_id == parent.trace_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_are_traced_over_http_without_a_secret_in_any_exported_byte() {
    let secret = canary("crm-");
    let token = canary("otlp-");
    let crm = SampleCrm::start(&secret).await;
    let receiver = Receiver::start().await;
    let decoy = Receiver::start().await;
    let (keys, dir) = config(
        &crm,
        &format!(
            "telemetry:\n  otlp:\n    endpoint: {}\n    protocol: http/protobuf\n    headers:\n      x-otlp-token: {{ env: OTLP_TOKEN }}\n  record_payloads: redacted\n",
            receiver.url()
        ),
    );
    let proc = Serve::new(&dir.config_path(), free_port())
        .envs(&[
            ("CRM_TOKEN", &secret),
            ("OTLP_TOKEN", &token),
            // The config wins over every one of these.
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &decoy.url()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-otlp-token=from-the-environment",
            ),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ])
        .start()
        .await;

    let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    let (status, body) = post(
        &proc,
        &keys.agent,
        json!({"tool": "create", "arguments": {"name": "Ada"}, "call_id": "call-1"}),
        Some(&traceparent),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(
        &proc,
        &keys.agent,
        json!({"tool": "quiet", "arguments": {"name": "Bob"}, "call_id": "call-2"}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Refused: a loaded secret in the arguments; and a tool no workflow has.
    let (status, body) = post(
        &proc,
        &keys.agent,
        json!({"tool": "create", "arguments": {"name": secret}, "call_id": "call-3"}),
        None,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = post(
        &proc,
        &keys.agent,
        json!({"tool": "made_up_tool", "arguments": {}, "call_id": "call-4"}),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let upstream = crm.accepted().await;
    stop(proc).await;

    // Trace headers upstream: only for the tool that asks, and ours.
    let sent_create = upstream
        .iter()
        .find(|r| r["body"]["name"] == "Ada")
        .expect("create reached the CRM");
    let sent_quiet = upstream
        .iter()
        .find(|r| r["body"]["name"] == "Bob")
        .expect("quiet reached the CRM");
    let tp = sent_create["headers"]["traceparent"]
        .as_str()
        .expect("traceparent upstream");
    assert!(tp.starts_with(&format!("00-{TRACE_ID}-")), "{tp}");
    assert!(
        !tp.contains(PARENT_ID),
        "the caller's span id went upstream"
    );
    assert!(sent_quiet["headers"].get("traceparent").is_none());
    assert!(sent_create["headers"].get("tracestate").is_none());

    assert!(
        decoy.exports().is_empty(),
        "the environment's endpoint was used"
    );
    let exports = receiver.exports();
    assert!(!exports.is_empty(), "nothing was exported");
    for e in &exports {
        assert_eq!(e.headers.get("x-otlp-token").unwrap(), token.as_str());
    }
    let everything = receiver.all_bytes();
    assert!(!leaks(&everything, &secret), "the credential was exported");
    assert!(!leaks(&everything, &token), "the OTLP header was exported");

    let spans = receiver.spans();
    let call = named(&spans, "execute_tool create");
    let call = call
        .iter()
        .find(|s| attr(s, "gen_ai.tool.call.id").as_deref() == Some("call-1"))
        .expect("the call span");
    assert_eq!(call.kind, SpanKind::Server as i32);
    assert_eq!(
        attr(call, "gen_ai.operation.name").as_deref(),
        Some("execute_tool")
    );
    assert_eq!(attr(call, "gen_ai.tool.name").as_deref(), Some("create"));
    assert_eq!(hex::encode(&call.trace_id), TRACE_ID);
    assert_eq!(hex::encode(&call.parent_span_id), PARENT_ID);
    let args = attr(call, "gen_ai.tool.call.arguments").expect("arguments recorded");
    assert!(args.contains("Ada"), "{args}");
    let result = attr(call, "gen_ai.tool.call.result").expect("result recorded");
    assert!(result.contains("[REDACTED:credential:crm]"), "{result}");

    let stages: Vec<&str> = children(&spans, call)
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    for stage in [
        "authenticate",
        "resolve",
        "validate",
        "idempotency",
        "rate_limit",
        "build",
        "run",
        "finish",
    ] {
        assert!(stages.contains(&stage), "{stage} missing from {stages:?}");
    }
    let run = children(&spans, call)
        .into_iter()
        .find(|s| s.name == "run")
        .unwrap();
    let under_run = children(&spans, run);
    let client = under_run
        .iter()
        .find(|s| s.kind == SpanKind::Client as i32)
        .expect("the client span under run");
    assert_eq!(client.name, "POST");
    assert_eq!(attr(client, "http.request.method").as_deref(), Some("POST"));
    assert_eq!(attr(client, "server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(
        attr(client, "http.response.status_code").as_deref(),
        Some("201")
    );
    let url = attr(client, "url.full").expect("url.full");
    assert!(url.ends_with("/api/v2/leads"), "{url}");
    assert!(
        tp.contains(&hex::encode(&client.span_id)),
        "traceparent is the client span's"
    );
    for name in ["credential", "shape"] {
        assert!(under_run.iter().any(|s| s.name == name), "{name} under run");
    }

    // The refusals: their own traces, named by configuration only.
    let refused = named(&spans, "execute_tool create")
        .into_iter()
        .find(|s| attr(s, "gen_ai.tool.call.id").as_deref() == Some("call-3"))
        .expect("the refused call's span");
    assert_eq!(
        attr(refused, "error.type").as_deref(),
        Some("secret_in_arguments")
    );
    assert!(attr(refused, "gen_ai.tool.call.arguments").is_none());
    let unknown = named(&spans, "execute_tool unknown");
    assert_eq!(
        unknown.len(),
        1,
        "{:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    assert_eq!(
        attr(unknown[0], "error.type").as_deref(),
        Some("unknown_tool")
    );
    assert!(attr(unknown[0], "gen_ai.tool.name").is_none());
    assert!(spans.iter().all(|s| !s.name.contains("made_up_tool")));
    let quiet = named(&spans, "execute_tool quiet");
    assert_eq!(quiet.len(), 1);
    assert_ne!(hex::encode(&quiet[0].trace_id), TRACE_ID);
    assert!(
        quiet[0].parent_span_id.is_empty(),
        "a call without traceparent is a root"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_are_traced_over_grpc_with_headers_from_a_source() {
    let secret = canary("crm-");
    let token = canary("otlp-");
    let crm = SampleCrm::start(&secret).await;
    let receiver = Receiver::start().await;
    let token_file = {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), &token).unwrap();
        f
    };
    let (keys, dir) = config(
        &crm,
        &format!(
            "telemetry:\n  otlp:\n    endpoint: {}\n    protocol: grpc\n    headers:\n      x-otlp-token: {{ file: {} }}\n",
            receiver.url(),
            token_file.path().display()
        ),
    );
    let proc = Serve::new(&dir.config_path(), free_port())
        .envs(&[("CRM_TOKEN", &secret), ("OTEL_BSP_SCHEDULE_DELAY", "100")])
        .start()
        .await;
    let (status, body) = post(
        &proc,
        &keys.agent,
        json!({"tool": "create", "arguments": {"name": "Ada"}, "call_id": "grpc-1"}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    stop(proc).await;

    let exports = receiver.exports();
    assert!(!exports.is_empty(), "nothing was exported over gRPC");
    assert!(exports.iter().all(|e| e.grpc));
    for e in &exports {
        assert_eq!(e.headers.get("x-otlp-token").unwrap(), token.as_str());
    }
    let everything = receiver.all_bytes();
    assert!(!leaks(&everything, &secret), "the credential was exported");
    let spans = receiver.spans();
    let call = named(&spans, "execute_tool create");
    assert_eq!(call.len(), 1);
    assert_eq!(
        attr(call[0], "gen_ai.tool.call.id").as_deref(),
        Some("grpc-1")
    );
    // Payloads are not recorded by default.
    assert!(attr(call[0], "gen_ai.tool.call.arguments").is_none());
    assert!(attr(call[0], "gen_ai.tool.call.result").is_none());
    assert!(!children(&spans, call[0]).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_environment_alone_turns_export_on() {
    let secret = canary("crm-");
    let crm = SampleCrm::start(&secret).await;
    let receiver = Receiver::start().await;
    let (keys, dir) = config(&crm, "");
    let proc = Serve::new(&dir.config_path(), free_port())
        .envs(&[
            ("CRM_TOKEN", &secret),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.url()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ])
        .start()
        .await;
    let (status, _) = post(
        &proc,
        &keys.agent,
        json!({"tool": "quiet", "arguments": {"name": "Ada"}}),
        None,
    )
    .await;
    assert_eq!(status, 200);
    stop(proc).await;
    assert_eq!(named(&receiver.spans(), "execute_tool quiet").len(), 1);
}

/// One JSON-RPC message to `/mcp`: the status, the session header, the body.
async fn mcp(
    proc: &Proc,
    key: &str,
    session: Option<&str>,
    body: Value,
) -> (u16, Option<String>, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/mcp", proc.base))
        .bearer_auth(key)
        .header("accept", "application/json, text/event-stream")
        .json(&body);
    if let Some(s) = session {
        req = req
            .header("mcp-session-id", s)
            .header("mcp-protocol-version", "2025-06-18");
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let session = resp
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, session, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mcp_call_is_traced_with_its_method_and_hashed_session_and_continues_meta_traceparent() {
    use sha2::{Digest, Sha256};
    let secret = canary("crm-");
    let crm = SampleCrm::start(&secret).await;
    let receiver = Receiver::start().await;
    let (keys, dir) = config(
        &crm,
        &format!(
            "telemetry:\n  otlp:\n    endpoint: {}\n    protocol: http/protobuf\n",
            receiver.url()
        ),
    );
    let proc = Serve::new(&dir.config_path(), free_port())
        .envs(&[("CRM_TOKEN", &secret), ("OTEL_BSP_SCHEDULE_DELAY", "100")])
        .start()
        .await;
    let (status, session, body) = mcp(
        &proc,
        &keys.agent,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "it", "version": "0"}}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let session = session.expect("a session id");
    let (status, _, _) = mcp(
        &proc,
        &keys.agent,
        Some(&session),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(status, 202);
    let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    let (status, _, body) = mcp(
        &proc,
        &keys.agent,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "quiet", "arguments": {"name": "Ada"},
            "_meta": {"traceparent": traceparent}}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["isError"], json!(false), "{body}");
    stop(proc).await;

    let everything = receiver.all_bytes();
    assert!(!leaks(&everything, &secret), "the credential was exported");
    assert!(
        !everything.contains(&session),
        "the MCP session id was exported in clear"
    );
    let spans = receiver.spans();
    let call = named(&spans, "execute_tool quiet");
    let call = call.first().expect("the MCP call's span");
    assert_eq!(call.kind, SpanKind::Server as i32);
    assert_eq!(attr(call, "mcp.method.name").as_deref(), Some("tools/call"));
    assert_eq!(
        attr(call, "mcp.session.id"),
        Some(hex::encode(Sha256::digest(session.as_bytes())))
    );
    assert_eq!(attr(call, "gen_ai.tool.name").as_deref(), Some("quiet"));
    assert_eq!(hex::encode(&call.trace_id), TRACE_ID);
    assert_eq!(hex::encode(&call.parent_span_id), PARENT_ID);
    assert!(
        !children(&spans, call).is_empty(),
        "the stages are children of the MCP call's span"
    );
}
