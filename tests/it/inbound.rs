//! A secret toolgate holds is refused as an argument: a model that has seen
//! a credential cannot pass it on to another upstream, in any form the
//! redactor knows, nor slip it into the caller fields. The answer names and
//! echoes nothing; the trail records the refusal without the value.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::calls_config::{leaks, setup};
use crate::support::code;

#[tokio::test]
async fn a_loaded_secret_in_the_arguments_or_caller_fields_is_refused_and_nothing_is_sent() {
    let s = setup().await;
    let secret = s.secret.clone();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&secret);
    let pct: String =
        percent_encoding::utf8_percent_encode(&secret, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let calls = [
        json!({"tool": "echo", "arguments": {"id": "1", "q": secret}}),
        json!({"tool": "echo", "arguments": {"id": "1", "nested": {"deep": [format!("x {secret} y")]}}}),
        json!({"tool": "echo", "arguments": {"id": "1", "q": b64}}),
        json!({"tool": "echo", "arguments": {"id": "1", "q": pct}}),
        // Another credential's value, through another tool.
        json!({"tool": "echo", "arguments": {"id": s.basic_secret.clone()}}),
        json!({"tool": "echo", "arguments": {"id": "1"}, "reason": format!("use {secret}")}),
        json!({"tool": "echo", "arguments": {"id": "1"}, "model": secret}),
        json!({"type": "function", "id": "c1", "function": {"name": "echo",
               "arguments": json!({"id": secret}).to_string()}}),
    ];
    for (i, body) in calls.iter().enumerate() {
        let (st, answer, _) = s.gw.call(&s.keys.agent, body.clone()).await;
        assert_eq!(
            (st, code(&answer)),
            (403, "secret_in_arguments"),
            "call {i}: {answer}"
        );
        let text = answer.to_string();
        assert!(
            !leaks(&text, &secret) && !leaks(&text, &s.basic_secret),
            "{text}"
        );
        assert!(
            !text.contains("api-key") && !text.contains("basic-key"),
            "{text}"
        );
    }
    assert_eq!(s.up.count(), 0, "nothing reached the upstream");
    // An ordinary call still runs.
    let (st, body, _) =
        s.gw.call(
            &s.keys.agent,
            json!({"tool": "echo", "arguments": {"id": "1"}}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let trail = std::fs::read_to_string(s.dir.path().join("data/audit.jsonl")).unwrap();
    assert!(!leaks(&trail, &secret) && !leaks(&trail, &s.basic_secret));
    let refused = trail
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["event"] == "call_denied" && r["code"] == "secret_in_arguments")
        .count();
    assert_eq!(refused, calls.len());
}

#[tokio::test]
async fn an_approver_cannot_edit_a_loaded_secret_into_an_action() {
    let crate::approvals::Setup {
        gw, up, k, secret, ..
    } = crate::approvals::setup_notify("", &[]).await;
    let (st, body, _) = gw
        .call(
            &k.agent,
            json!({"tool": "risky", "arguments": {"name": "a"}}),
        )
        .await;
    assert_eq!(st, 202, "{body}");
    let id = body["action_id"].as_str().unwrap();
    let (st, v) = gw
        .post_json(
            &k.alice,
            &format!("/v1/pending-actions/{id}/approve"),
            json!({"reason": "edit", "arguments": {"name": secret}}),
        )
        .await;
    assert_eq!((st, code(&v)), (403, "secret_in_arguments"), "{v}");
    assert_eq!(up.count(), 0);
    let (_, v) = gw
        .get(Some(&k.alice), &format!("/v1/pending-actions/{id}"))
        .await;
    assert_eq!(v["status"], "pending_approval", "{v}");
}
