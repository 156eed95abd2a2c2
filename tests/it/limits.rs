//! Limits: the response size cap, rate limits, load shedding beyond the
//! concurrency limit, and the gateway's own timeout.

use std::collections::HashMap;

use serde_json::json;

use crate::support::calls_config::{Setup, setup};
use crate::support::{ConfigDir, Keys, TestGateway, code};

/// What a test keeps to start a second gateway on the same directory.
struct Restarted {
    keys: Keys,
    secret: String,
    dir: ConfigDir,
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
    let Setup {
        gw,
        keys,
        secret,
        dir,
        ..
    } = setup().await;
    gw.stop().await;
    let s = Restarted { keys, secret, dir };
    // A gateway that serves one request at a time.
    let text = std::fs::read_to_string(s.dir.config_path())
        .unwrap()
        .replace("max_concurrency: 64", "max_concurrency: 1");
    s.dir.write("toolgate.yaml", &text);
    let env = HashMap::from([("TEST_API_KEY".to_owned(), s.secret.clone())]);
    let gw = TestGateway::start(&s.dir.config_path(), env).await;
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

#[tokio::test]
async fn a_request_over_the_gateway_timeout_is_cut_off() {
    let Setup {
        gw,
        keys,
        secret,
        dir,
        up: _up,
        ..
    } = setup().await;
    gw.stop().await;
    let s = Restarted { keys, secret, dir };
    let text = std::fs::read_to_string(s.dir.config_path())
        .unwrap()
        .replace(
            "max_concurrency: 64",
            "max_concurrency: 64, request_timeout_ms: 400",
        );
    s.dir.write("toolgate.yaml", &text);
    let env = HashMap::from([("TEST_API_KEY".to_owned(), s.secret.clone())]);
    let gw = TestGateway::start(&s.dir.config_path(), env).await;
    let started = std::time::Instant::now();
    let (st, body, _) = gw.call(&s.keys.agent, json!({"tool": "slow_ok"})).await;
    assert_eq!((st, code(&body)), (408, "request_timeout"));
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}
