//! Limits: the response size cap, rate limits, load shedding beyond the
//! concurrency limit, and the gateway's own timeout.

use std::collections::HashMap;

use serde_json::json;

use crate::support::calls_config::{Setup, setup};
use crate::support::upstream::Upstream;
use crate::support::{ConfigDir, Keys, TestGateway, code};

/// The calls fixture served again with `limits` in place of its
/// `max_concurrency: 64`; what a test needs of it.
struct Restarted {
    gw: TestGateway,
    keys: Keys,
    _dir: ConfigDir,
    _up: Upstream,
}

async fn with_limits(limits: &str) -> Restarted {
    let Setup {
        gw,
        keys,
        secret,
        dir,
        up,
        ..
    } = setup().await;
    gw.stop().await;
    let text = std::fs::read_to_string(dir.config_path())
        .unwrap()
        .replace("max_concurrency: 64", limits);
    dir.write("toolgate.yaml", &text);
    let env = HashMap::from([("TEST_API_KEY".to_owned(), secret)]);
    let gw = TestGateway::start(&dir.config_path(), env).await;
    Restarted {
        gw,
        keys,
        _dir: dir,
        _up: up,
    }
}

#[tokio::test]
async fn max_bytes_stops_a_huge_body_early() {
    let s = setup().await;
    let (st, body, _) = s.gw.call(&s.keys.agent, json!({"tool": "huge"})).await;
    assert_eq!((st, code(&body)), (502, "upstream_error"), "{body}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let sent =
        s.up.record
            .huge_bytes_sent
            .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        sent < 10 * 1024 * 1024,
        "the upstream streamed {sent} bytes before toolgate hung up"
    );
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let s = setup().await;
    for _ in 0..2 {
        let (st, _, _) = s.gw.call(&s.keys.agent, json!({"tool": "limited"})).await;
        assert_eq!(st, 200);
    }
    let (st, body, headers) = s.gw.call(&s.keys.agent, json!({"tool": "limited"})).await;
    assert_eq!((st, code(&body)), (429, "rate_limited"));
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry));
    assert_eq!(
        s.up.requests()
            .iter()
            .filter(|r| r.path == "/echo/limited")
            .count(),
        2
    );
}

#[tokio::test]
async fn load_is_shed_beyond_max_concurrency() {
    // A gateway that serves one request at a time.
    let s = with_limits("max_concurrency: 1").await;
    let gw = &s.gw;
    let slow = {
        let api = gw.api.clone();
        let key = s.keys.agent.clone();
        tokio::spawn(async move { api.call(&key, json!({"tool": "slow_ok"})).await.0 })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (st, body, headers) = gw
        .call(
            &s.keys.agent,
            json!({"tool": "echo", "arguments": {"id": "1"}}),
        )
        .await;
    assert_eq!((st, code(&body)), (503, "overloaded"));
    assert!(headers.contains_key("retry-after"));
    assert_eq!(slow.await.unwrap(), 200);
}

/// `max_concurrency` is one limit for the whole gateway, not one per route,
/// and approvers and operators keep slots of their own.
#[tokio::test]
async fn the_concurrency_limit_spans_routes_and_keeps_slots_for_people() {
    // Four slots: three for agents, one kept for people.
    let s = with_limits("max_concurrency: 4").await;
    let gw = &s.gw;
    let slow: Vec<_> = (0..3)
        .map(|_| {
            let api = gw.api.clone();
            let key = s.keys.agent.clone();
            tokio::spawn(async move { api.call(&key, json!({"tool": "slow_ok"})).await.0 })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    // Another agent route: the same pool, so it is full.
    let (st, body) = gw.get(Some(&s.keys.agent), "/v1/tools").await;
    assert_eq!((st, code(&body)), (503, "overloaded"), "{body}");
    let (st, body, _) = gw
        .call(
            &s.keys.agent,
            json!({"tool": "echo", "arguments": {"id": "1"}}),
        )
        .await;
    assert_eq!((st, code(&body)), (503, "overloaded"), "{body}");
    // People still get in, one at a time, and health always answers.
    let (st, body) = gw.get(Some(&s.keys.approver), "/v1/pending-actions").await;
    assert_eq!(st, 200, "{body}");
    let (st, body) = gw.get(Some(&s.keys.admin), "/v1/admin/dead-letters").await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(gw.get(None, "/healthz").await.0, 200);
    // Readiness answers with its checks (this fixture leaves a credential
    // unset, so it is not ready), never `overloaded`.
    let (_, ready) = gw.get(None, "/readyz").await;
    assert!(ready["checks"].is_object(), "{ready}");
    for call in slow {
        assert_eq!(call.await.unwrap(), 200);
    }
    let (st, _) = gw.get(Some(&s.keys.agent), "/v1/tools").await;
    assert_eq!(st, 200, "slots come back");
}

#[tokio::test]
async fn a_request_over_the_gateway_timeout_is_cut_off() {
    let s = with_limits("max_concurrency: 64, request_timeout_ms: 400").await;
    let gw = &s.gw;
    let started = std::time::Instant::now();
    let (st, body, _) = gw.call(&s.keys.agent, json!({"tool": "slow_ok"})).await;
    assert_eq!((st, code(&body)), (408, "request_timeout"));
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}
