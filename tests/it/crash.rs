//! Crash semantics with the real binary: pending actions survive SIGKILL; an
//! action that was executing becomes `unknown` and is never re-sent.

use std::time::Duration;

use serde_json::json;

use crate::approvals::approval_config;
use crate::support::process::{Proc, free_port};
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, canary};

async fn prepare() -> (Upstream, ConfigDir, crate::approvals::Approvers, String) {
    let up = Upstream::start().await;
    let (config, tools, k) = approval_config(&up.base(), "");
    let dir = ConfigDir::new();
    for (rel, text) in tools {
        dir.write(&rel, &text);
    }
    dir.write("toolgate.yaml", &config);
    (up, dir, k, canary("crm-"))
}

#[tokio::test]
async fn pending_actions_survive_sigkill_and_run_once_after_restart() {
    let (up, dir, k, secret) = prepare().await;
    let port = free_port();
    let p = Proc::start(&dir.config_path(), port, &[("CRM_KEY", &secret)]).await;
    let (st, v) = p
        .send(
            "POST",
            &k.agent,
            "/v1/calls",
            Some(json!({"tool": "risky", "arguments": {"name": "Durable"}})),
        )
        .await;
    assert_eq!(st, 202, "{v}");
    let id = v["action_id"].as_str().unwrap().to_owned();
    p.kill9();

    let p = Proc::start(&dir.config_path(), port, &[("CRM_KEY", &secret)]).await;
    let (st, v) = p
        .send("GET", &k.alice, &format!("/v1/pending-actions/{id}"), None)
        .await;
    assert_eq!((st, v["status"].as_str()), (200, Some("pending_approval")));
    let (st, v) = p
        .send(
            "POST",
            &k.alice,
            &format!("/v1/pending-actions/{id}/approve"),
            Some(json!({"reason": "after restart"})),
        )
        .await;
    assert_eq!((st, v["status"].as_str()), (200, Some("succeeded")), "{v}");
    assert_eq!(
        up.requests()
            .iter()
            .filter(|r| r.path == "/echo/risky")
            .count(),
        1
    );
}

#[tokio::test]
async fn an_action_executing_at_sigkill_is_unknown_and_not_resent() {
    let (up, dir, k, secret) = prepare().await;
    let port = free_port();
    let p = Proc::start(&dir.config_path(), port, &[("CRM_KEY", &secret)]).await;
    let (st, v) = p
        .send(
            "POST",
            &k.agent,
            "/v1/calls",
            Some(json!({"tool": "slow_risky", "arguments": {"name": "Mid-flight"}})),
        )
        .await;
    assert_eq!(st, 202, "{v}");
    let id = v["action_id"].as_str().unwrap().to_owned();
    let approve = {
        let base = p.base.clone();
        let key = k.alice.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::builder().no_proxy().build().unwrap();
            let _ = http
                .post(format!("{base}/v1/pending-actions/{id}/approve"))
                .bearer_auth(key)
                .json(&json!({"reason": "go"}))
                .send()
                .await;
        })
    };
    // Wait until the upstream has the request in hand, then kill toolgate.
    for _ in 0..200 {
        if up.count() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(up.count(), 1);
    p.kill9();
    let _ = approve.await;

    let p = Proc::start(&dir.config_path(), port, &[("CRM_KEY", &secret)]).await;
    let (st, v) = p
        .send("GET", &k.agent, &format!("/v1/calls/{id}"), None)
        .await;
    assert_eq!((st, v["status"].as_str()), (200, Some("unknown")), "{v}");
    let (st, v) = p
        .send(
            "POST",
            &k.bob,
            &format!("/v1/pending-actions/{id}/approve"),
            Some(json!({"reason": "again?"})),
        )
        .await;
    assert_eq!(st, 409, "{v}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(up.count(), 1, "never re-sent");
}

#[tokio::test]
async fn sigkill_under_load_leaves_a_trail_that_verifies_and_continues() {
    let (_up, dir, k, secret) = prepare().await;
    let port = free_port();
    let p = Proc::start(&dir.config_path(), port, &[("CRM_KEY", &secret)]).await;
    let mut load = Vec::new();
    for i in 0..16 {
        let base = p.base.clone();
        let key = k.agent.clone();
        load.push(tokio::spawn(async move {
            let http = reqwest::Client::builder().no_proxy().build().unwrap();
            for j in 0..1000 {
                let r = http
                    .post(format!("{base}/v1/calls"))
                    .bearer_auth(&key)
                    .json(&json!({"tool": "plain", "arguments": {"name": format!("n{i}-{j}")}}))
                    .send()
                    .await;
                if r.is_err() {
                    break;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    p.kill9();
    for t in load {
        let _ = t.await;
    }
    let path = dir.path().join("data/audit.jsonl");
    let report = toolgate::audit::verify::verify(std::slice::from_ref(&path), None);
    assert!(report.records > 10, "{report:?}");
    // Intact, or torn at the very end by the kill — never anything else.
    if let Some(problem) = &report.problem {
        assert_eq!(problem.kind, "torn_tail", "{report:?}");
    }
    let before = report.records;

    let p = Proc::start(&dir.config_path(), port, &[("CRM_KEY", &secret)]).await;
    let (st, _) = p
        .send(
            "POST",
            &k.agent,
            "/v1/calls",
            Some(json!({"tool": "plain", "arguments": {"name": "after"}})),
        )
        .await;
    assert_eq!(st, 200);
    let report = toolgate::audit::verify::verify(std::slice::from_ref(&path), None);
    assert!(report.intact(), "{report:?}");
    assert!(report.records > before);
}
