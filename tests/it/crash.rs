//! Crash semantics with the real binary: pending actions survive SIGKILL; an
//! action that was executing becomes `unknown` and is never re-sent.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::approvals_config::{Approvers, approval_config};
use crate::support::process::{Proc, free_port};
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, canary};

async fn prepare() -> (Upstream, ConfigDir, Approvers, String) {
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
        let http = p.api.http.clone();
        let url = p.api.url(&format!("/v1/pending-actions/{id}/approve"));
        let key = k.alice.clone();
        tokio::spawn(async move {
            // The answer never comes: toolgate is killed while the call runs.
            let _ = http
                .post(url)
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
        let api = p.api.clone();
        let key = k.agent.clone();
        load.push(tokio::spawn(async move {
            // The call ids this worker saw answered 200.
            let mut succeeded = Vec::new();
            for j in 0..1000 {
                let call_id = format!("load-{i}-{j}");
                let r = api
                    .http
                    .post(api.url("/v1/calls"))
                    .bearer_auth(&key)
                    .json(&json!({"tool": "plain", "arguments": {"name": format!("n{i}-{j}")}, "call_id": call_id}))
                    .send()
                    .await;
                let Ok(r) = r else { break };
                let status = r.status().as_u16();
                // A 200 counts only once its whole body arrived.
                let Ok(body) = r.json::<Value>().await else {
                    break;
                };
                if status == 200 {
                    assert_eq!(body["status"], "succeeded", "{body}");
                    succeeded.push(call_id);
                }
            }
            succeeded
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    p.kill9();
    let mut answered = Vec::new();
    for t in load {
        answered.extend(t.await.unwrap());
    }
    assert!(
        answered.len() > 10,
        "only {} calls answered",
        answered.len()
    );
    let path = dir.path().join("data/audit.jsonl");
    let report = toolgate::audit::verify::verify(std::slice::from_ref(&path), None);
    assert!(report.records > 10, "{report:?}");
    // Intact, or torn at the very end by the kill — never anything else.
    if let Some(problem) = &report.problem {
        assert_eq!(problem.kind, "torn_tail", "{report:?}");
    }
    // Every call answered 200 was written as executed before it was answered.
    let text = std::fs::read_to_string(&path).unwrap();
    let executed: HashSet<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["event"] == "executed")
        .filter_map(|r| r["call_id"].as_str().map(str::to_owned))
        .collect();
    let missing: Vec<&String> = answered
        .iter()
        .filter(|id| !executed.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} calls answered 200 have no executed record: {:?}",
        missing.len(),
        answered.len(),
        &missing[..missing.len().min(10)]
    );
    let before = report.records;

    let p = Proc::start(&dir.config_path(), port, &[("CRM_KEY", &secret)]).await;
    let (st, v) = p
        .send(
            "POST",
            &k.agent,
            "/v1/calls",
            Some(json!({"tool": "plain", "arguments": {"name": "after"}})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let report = toolgate::audit::verify::verify(std::slice::from_ref(&path), None);
    assert!(report.intact(), "{report:?}");
    assert!(report.records > before);
}
